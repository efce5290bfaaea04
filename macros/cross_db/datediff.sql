{#- dbt.datediff on Spark: for hour down to microsecond, the unit boundaries
    crossed, counted on microseconds since the epoch (as DuckDB and PostgreSQL do;
    dbt-spark's version parses the microseconds out of the timestamp's text, which
    gives null when the fraction has fewer than six digits). Days and longer parts
    are dbt-spark's. -#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- set micros = {
        'hour': 3600000000, 'minute': 60000000, 'second': 1000000,
        'millisecond': 1000, 'microsecond': 1,
    } -%}
    {%- if datepart in micros -%}
        (floor(unix_micros(cast({{ second_date }} as timestamp)) / {{ micros[datepart] }})
            - floor(unix_micros(cast({{ first_date }} as timestamp)) / {{ micros[datepart] }}))
    {%- else -%}
        {{ return(dbt.spark__datediff(first_date, second_date, datepart)) }}
    {%- endif -%}
{%- endmacro %}
