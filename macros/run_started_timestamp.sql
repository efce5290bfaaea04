{#- The time this dbt invocation started, as a timestamp: the watermark the
    incremental models stamp on the rows a run writes. -#}
{% macro run_started_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
