{#- True when the text matches the regular expression (POSIX/RE2 syntax). -#}
{% macro regex_matches(text, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'crm_funnel')(text, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(text, pattern) -%}
    regexp_matches({{ text }}, '{{ pattern }}')
{%- endmacro %}

{% macro postgres__regex_matches(text, pattern) -%}
    ({{ text }} ~ '{{ pattern }}')
{%- endmacro %}

{% macro spark__regex_matches(text, pattern) -%}
    ({{ text }} rlike '{{ pattern | replace("\\", "\\\\") }}')
{%- endmacro %}
