{#- Like json_extract_text, but only a JSON string counts: numbers, booleans,
    objects and arrays give null. (Spark cannot tell the types apart here, so
    there any scalar comes back as text.) -#}
{% macro json_extract_string(document, keys) -%}
    {{ return(adapter.dispatch('json_extract_string', 'crm_funnel')(document, keys)) }}
{%- endmacro %}

{% macro default__json_extract_string(document, keys) -%}
    case
        when json_type({{ document }}, '$.{{ keys | join(".") }}') = 'VARCHAR'
            then {{ json_extract_text(document, keys) }}
    end
{%- endmacro %}

{% macro postgres__json_extract_string(document, keys) -%}
    case
        when jsonb_typeof({{ document }} #> '{ {{- keys | join(",") -}} }') = 'string'
            then {{ json_extract_text(document, keys) }}
    end
{%- endmacro %}

{% macro spark__json_extract_string(document, keys) -%}
    {{ json_extract_text(document, keys) }}
{%- endmacro %}
