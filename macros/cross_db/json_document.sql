{#- Parses JSON text into the engine's JSON type, for json_extract_text.
    PostgreSQL reads it as `json`, not `jsonb`: jsonb converts every number to
    numeric and fails the whole query on one that numeric cannot hold
    (1e200000, 1e-20000), while json keeps each value's text as written. json
    cannot give out the escape \u0000 (valid JSON) either, so it is read as
    U+FFFD there instead of failing the build. -#}
{% macro json_document(json_text) -%}
    {{ return(adapter.dispatch('json_document', 'crm_funnel')(json_text)) }}
{%- endmacro %}

{% macro default__json_document(json_text) -%}
    {{ json_text }}
{%- endmacro %}

{% macro postgres__json_document(json_text) -%}
    cast(replace({{ json_text }}, '\u0000', '\ufffd') as json)
{%- endmacro %}
