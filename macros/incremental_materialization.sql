{#- How the large models materialise: incremental where the engine can replace
    rows by key (DuckDB, PostgreSQL: delete+insert), a plain table on Spark,
    whose local parquet tables cannot (no Delta Lake here). -#}
{% macro incremental_materialization() -%}
    {{ return('table' if target.type == 'spark' else 'incremental') }}
{%- endmacro %}
