{#- The text value at a path of keys in a JSON document (from json_document):
    null when absent or JSON null; objects and arrays come back as JSON text. -#}
{% macro json_extract_text(document, keys) -%}
    {{ return(adapter.dispatch('json_extract_text', 'crm_funnel')(document, keys)) }}
{%- endmacro %}

{% macro default__json_extract_text(document, keys) -%}
    json_extract_string({{ document }}, '$.{{ keys | join(".") }}')
{%- endmacro %}

{% macro postgres__json_extract_text(document, keys) -%}
    ({{ document }} #>> '{ {{- keys | join(",") -}} }')
{%- endmacro %}

{% macro spark__json_extract_text(document, keys) -%}
    get_json_object({{ document }}, '$.{{ keys | join(".") }}')
{%- endmacro %}
