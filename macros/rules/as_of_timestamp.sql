{#- "Now" for every time-relative rule: the var `as_of` (an ISO-8601 timestamp,
    converted to UTC) or, when it is null, the time the run started. -#}
{% macro as_of_timestamp() -%}
    {%- set as_of = var('as_of') -%}
    {%- if as_of is none or as_of == '' -%}
        {%- set as_of_utc = run_started_at.strftime('%Y-%m-%d %H:%M:%S') -%}
    {%- else -%}
        {%- set parsed = crm_funnel.parse_var_timestamp('as_of', as_of) -%}
        {%- set as_of_utc = parsed.strftime('%Y-%m-%d %H:%M:%S') -%}
    {%- endif -%}
    cast('{{ as_of_utc }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
