{#- Removes surrounding whitespace (spaces, tabs, line breaks) and maps '' to null. -#}
{% macro strip_whitespace(text) -%}
    nullif({{ regex_replace(text, '^\\s+|\\s+$', '') }}, '')
{%- endmacro %}
