{#- Like json_extract_text, but only a JSON string counts: numbers, booleans,
    objects and arrays give null. -#}
{% macro json_extract_string(document, keys) -%}
    {{ return(adapter.dispatch('json_extract_string', 'crm_funnel')(document, keys)) }}
{%- endmacro %}

{% macro default__json_extract_string(document, keys) -%}
    case
        when json_type({{ document }}, '{{ json_path(keys) }}') = 'VARCHAR'
            then {{ json_extract_text(document, keys) }}
    end
{%- endmacro %}

{% macro postgres__json_extract_string(document, keys) -%}
    case
        when json_typeof({{ document }} #> '{ {{- keys | join(",") -}} }') = 'string'
            then {{ json_extract_text(document, keys) }}
    end
{%- endmacro %}

{#- Spark's get_json_object returns a string's content and any other value's
    JSON text alike, so the value counts as a string when the parent object, as
    get_json_object re-serialises it (compact), holds "key": followed by the value
    quoted as JSON. (A nested object holding the same key with that quoted value
    would pass too.) An array element is taken as it comes. -#}
{% macro spark__json_extract_string(document, keys) -%}
    {%- set value = json_extract_text(document, keys) -%}
    {%- if keys[-1] is number -%}
    {{ value }}
    {%- else -%}
    {%- set quoted = 'to_json(array(' ~ value ~ '))' -%}
    case
        when instr(
            get_json_object({{ document }}, '{{ json_path(keys[:-1]) }}'),
            concat('"{{ keys[-1] }}":', substring({{ quoted }}, 2, length({{ quoted }}) - 2))
        ) > 0
            then {{ value }}
    end
    {%- endif -%}
{%- endmacro %}
