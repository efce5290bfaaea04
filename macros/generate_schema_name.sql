{#- Custom schemas are used as named (staging, intermediate, marts, seeds), so
    every target has the same layout and grants can be given per layer. Give
    each developer or test run its own database instead of schema prefixes. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
