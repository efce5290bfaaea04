{#- Replaces every match of the regular expression in the text. -#}
{% macro regex_replace(text, pattern, replacement) -%}
    {{ return(adapter.dispatch('regex_replace', 'crm_funnel')(text, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regex_replace(text, pattern, replacement) -%}
    regexp_replace({{ text }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regex_replace(text, pattern, replacement) -%}
    regexp_replace({{ text }}, '{{ pattern | replace("\\", "\\\\") }}', '{{ replacement }}')
{%- endmacro %}
