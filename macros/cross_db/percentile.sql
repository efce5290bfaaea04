{#- Continuous percentile (linear interpolation between the two nearest values)
    of an aggregate group: percentile(x, 0.5) is the median, percentile(x, 0.75)
    the third quartile. Nulls are ignored; an empty group gives null. -#}
{% macro percentile(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile', 'crm_funnel')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro spark__percentile(expression, fraction) -%}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}
