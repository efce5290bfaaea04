{#- Removes surrounding whitespace (space, tab, line feed, carriage return, form
    feed) and maps '' to null. The class is spelled out because \s differs
    between engines (PostgreSQL also strips vertical tab and Unicode spaces).
    DuckDB and PostgreSQL trim the characters (no regular expression); Spark
    replaces the pattern. -#}
{% macro strip_whitespace(text) -%}
    {{ return(adapter.dispatch('strip_whitespace', 'crm_funnel')(text)) }}
{%- endmacro %}

{% macro default__strip_whitespace(text) -%}
    nullif(trim({{ text }}, ' ' || chr(9) || chr(10) || chr(13) || chr(12)), '')
{%- endmacro %}

{% macro postgres__strip_whitespace(text) -%}
    nullif(btrim({{ text }}, ' ' || chr(9) || chr(10) || chr(13) || chr(12)), '')
{%- endmacro %}

{% macro spark__strip_whitespace(text) -%}
    nullif({{ regex_replace(text, '^[ \\t\\n\\r\\f]+|[ \\t\\n\\r\\f]+$', '') }}, '')
{%- endmacro %}
