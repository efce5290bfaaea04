{#- The Spark spelling of a column type written for DuckDB and PostgreSQL in
    seeds' column_types and model contracts: varchar / text -> string (Spark wants
    a length on varchar), double precision -> double. Other types pass through. -#}
{% macro spark_data_type(data_type) -%}
    {%- set normalized = data_type | trim | lower -%}
    {%- if normalized in ['text', 'varchar'] or normalized.startswith('varchar(') -%}
        {{ return('string') }}
    {%- elif normalized == 'double precision' -%}
        {{ return('double') }}
    {%- endif -%}
    {{ return(data_type) }}
{%- endmacro %}

{#- dbt.cast on Spark, with the type in its Spark spelling: contracts build their
    expected schema with it (`cast(null as <data_type>)`), so the same data_type
    in the YAML checks the same columns on every engine. -#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ spark_data_type(type) }})
{%- endmacro %}
