{#- Parses JSON text once into the engine's JSON type, for json_extract_text.
    PostgreSQL's jsonb cannot hold the escape \u0000 (valid JSON), so it is read
    as U+FFFD there instead of failing the build. -#}
{% macro json_document(json_text) -%}
    {{ return(adapter.dispatch('json_document', 'crm_funnel')(json_text)) }}
{%- endmacro %}

{% macro default__json_document(json_text) -%}
    {{ json_text }}
{%- endmacro %}

{% macro postgres__json_document(json_text) -%}
    cast(replace({{ json_text }}, '\u0000', '\ufffd') as jsonb)
{%- endmacro %}
