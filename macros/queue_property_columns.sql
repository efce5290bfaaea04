{#- The typed properties of the queue action and interaction events
    (stg_raw__events), carried through validation (int_events_validated); the
    interaction ones also into the activity stream. -#}
{% macro queue_property_columns() -%}
    {{ return([
        'queue_item_id', 'snoozed_until', 'escalated_to', 'action_reason', 'action_outcome',
        'action_by', 'interaction_direction', 'interaction_channel', 'initiated_by',
        'interaction_summary',
    ]) }}
{%- endmacro %}
