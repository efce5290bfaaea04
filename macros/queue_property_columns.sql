{#- The typed properties of the queue action and interaction events
    (stg_raw__events), carried through validation; the interaction ones also
    into the activity stream (a queue action is not an activity). -#}
{% macro queue_property_columns() -%}
    {{ return(['queue_item_id', 'snoozed_until', 'escalated_to', 'action_reason'] + interaction_columns()) }}
{%- endmacro %}

{% macro interaction_columns() -%}
    {{ return([
        'action_outcome', 'action_by', 'interaction_direction', 'interaction_channel',
        'initiated_by', 'interaction_summary',
    ]) }}
{%- endmacro %}
