{#- A contract's not_null constraints on Spark. dbt-spark sets them only on Delta
    tables (`alter table ... set not null`) and skips them on other formats, such
    as the local parquet tables, which cannot hold one. There the new table is
    checked instead, right after it is written: a null in a not_null column fails
    the model, as the constraint does on DuckDB, PostgreSQL and Delta. -#}
{% macro spark__persist_constraints(relation, model) -%}
    {%- if config.get('file_format', 'delta') == 'delta' -%}
        {{ return(dbt.spark__persist_constraints(relation, model)) }}
    {%- endif -%}
    {%- if not config.get('contract').enforced -%}
        {{ return('') }}
    {%- endif -%}
    {%- set not_null = [] -%}
    {%- for column in model.columns.values() -%}
        {%- if column.constraints | selectattr('type', 'equalto', 'not_null') | list -%}
            {%- do not_null.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not not_null -%}
        {{ return('') }}
    {%- endif -%}
    {%- set nulls_query -%}
        select
            {%- for name in not_null %}
            count(*) - count({{ name }}) as {{ name }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ relation }}
    {%- endset -%}
    {%- set counts = run_query(nulls_query).rows[0] -%}
    {%- set failing = [] -%}
    {%- for name in not_null -%}
        {%- if counts[loop.index0] > 0 -%}
            {%- do failing.append(name ~ ' (' ~ counts[loop.index0] ~ ' rows)') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if failing -%}
        {%- do exceptions.raise_compiler_error(
            'not_null constraint failed on ' ~ relation ~ ': null in ' ~ failing | join(', ')
        ) -%}
    {%- endif -%}
{%- endmacro %}
