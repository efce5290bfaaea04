{#- `expression in ('a', 'b')` for a list var; false when the list is empty. -#}
{% macro in_list(expression, values) -%}
    {%- if values | length == 0 -%}
        false
    {%- else -%}
        {{ expression }} in ({% for value in values %}'{{ value }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}
