{#- Removes surrounding whitespace (space, tab, line feed, carriage return, form
    feed) and maps '' to null. The class is spelled out because \s differs
    between engines (PostgreSQL also strips vertical tab and Unicode spaces). -#}
{% macro strip_whitespace(text) -%}
    nullif({{ regex_replace(text, '^[ \\t\\n\\r\\f]+|[ \\t\\n\\r\\f]+$', '') }}, '')
{%- endmacro %}
