{#- dbt.dateadd on Spark: timestampadd keeps the time of day and the fraction of
    a second (dbt-spark's version goes through whole unix seconds, so it drops the
    fraction, and through a date for days). -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, cast({{ interval }} as bigint), {{ from_date_or_timestamp }})
{%- endmacro %}
