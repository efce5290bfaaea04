{#- Parses JSON text once into the engine's JSON type, for json_extract_text. -#}
{% macro json_document(json_text) -%}
    {{ return(adapter.dispatch('json_document', 'crm_funnel')(json_text)) }}
{%- endmacro %}

{% macro default__json_document(json_text) -%}
    {{ json_text }}
{%- endmacro %}

{% macro postgres__json_document(json_text) -%}
    cast({{ json_text }} as jsonb)
{%- endmacro %}
