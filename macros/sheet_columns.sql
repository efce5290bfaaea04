{#- The columns of each sheet kind, as data: for each, the JSON cell, the column
    it becomes (as) and its type (see sheet_staging); a date, timestamp or
    decimal also keeps its stripped text as text_as. The staging models are
    generated from these lists, and the sheet models list their columns from them. -#}
{% macro sheet_columns(kind) -%}
    {{ return({
        'contacts': [
            {'cell': 'email', 'as': 'email', 'type': 'lower'},
            {'cell': 'full_name', 'as': 'full_name', 'type': 'text'},
            {'cell': 'phone', 'as': 'phone', 'type': 'text'},
            {'cell': 'company', 'as': 'company', 'type': 'text'},
            {'cell': 'role', 'as': 'role', 'type': 'text'},
            {'cell': 'industry', 'as': 'industry', 'type': 'text'},
            {'cell': 'country', 'as': 'country', 'type': 'text'},
            {'cell': 'timezone', 'as': 'timezone', 'type': 'text'},
            {'cell': 'channel_of_origin', 'as': 'lead_source', 'type': 'lower'},
            {'cell': 'lead_status', 'as': 'lead_status', 'type': 'text'},
            {'cell': 'tags', 'as': 'tags', 'type': 'text'},
            {'cell': 'notes', 'as': 'notes', 'type': 'text'},
            {'cell': 'date_added', 'as': 'added_at', 'type': 'timestamp', 'text_as': 'date_added_text'},
            {'cell': 'assigned_orchestrator', 'as': 'owner', 'type': 'text'},
        ],
        'spend': [
            {'cell': 'date', 'as': 'spend_date', 'type': 'date', 'text_as': 'spend_date_text'},
            {'cell': 'channel', 'as': 'channel', 'type': 'lower'},
            {'cell': 'spend', 'as': 'spend', 'type': 'decimal', 'text_as': 'spend_text'},
            {'cell': 'currency', 'as': 'currency', 'type': 'upper'},
        ],
        'campaigns': [
            {'cell': 'campaign_id', 'as': 'campaign_id', 'type': 'id'},
            {'cell': 'name', 'as': 'campaign_name', 'type': 'text'},
            {'cell': 'goal', 'as': 'goal', 'type': 'text'},
            {'cell': 'channel', 'as': 'channel', 'type': 'lower'},
            {'cell': 'status', 'as': 'status', 'type': 'lower'},
            {'cell': 'start_date', 'as': 'starts_on', 'type': 'date', 'text_as': 'start_date_text'},
            {'cell': 'end_date', 'as': 'ends_on', 'type': 'date', 'text_as': 'end_date_text'},
            {'cell': 'target_segment', 'as': 'target_segment', 'type': 'text'},
            {'cell': 'owner', 'as': 'owner', 'type': 'text'},
        ],
    }[kind]) }}
{%- endmacro %}
