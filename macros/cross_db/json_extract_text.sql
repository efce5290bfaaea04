{#- The text value at a path in a JSON document (from json_document): null
    when absent or JSON null; objects and arrays come back as JSON text. The
    path is a list of object keys and array indexes, e.g. ['data', 'to', 0]. -#}
{% macro json_extract_text(document, keys) -%}
    {{ return(adapter.dispatch('json_extract_text', 'crm_funnel')(document, keys)) }}
{%- endmacro %}

{#- The JSONPath of a key list: $.data.to[0] -#}
{% macro json_path(keys) -%}
    ${% for key in keys %}{% if key is number %}[{{ key }}]{% else %}.{{ key }}{% endif %}{% endfor %}
{%- endmacro %}

{% macro default__json_extract_text(document, keys) -%}
    json_extract_string({{ document }}, '{{ json_path(keys) }}')
{%- endmacro %}

{% macro postgres__json_extract_text(document, keys) -%}
    ({{ document }} #>> '{ {{- keys | join(",") -}} }')
{%- endmacro %}

{% macro spark__json_extract_text(document, keys) -%}
    get_json_object({{ document }}, '{{ json_path(keys) }}')
{%- endmacro %}
