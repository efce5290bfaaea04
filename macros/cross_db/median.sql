{#- Continuous median (interpolated 50th percentile) of an aggregate group. -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'crm_funnel')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro spark__median(expression) -%}
    percentile({{ expression }}, 0.5)
{%- endmacro %}
