{#- A select of every column of `relation` plus one column per field read from
    the JSON text in `json_column`, each payload parsed once per row (not once per
    field). `fields` maps a column name to [kind, keys]: kind 'text' reads like
    json_extract_text, 'string' like json_extract_string; keys is the path, e.g.
    ['data', 'to', 0].
    DuckDB: one json_extract with the list of paths, then each (small) value.
    PostgreSQL: json_to_record on the document and on each object holding a field
    (the `json` type, so every value keeps its text as written, see json_document).
    Spark: each field by its path (get_json_object). -#}
{% macro json_fields(relation, json_column, fields) -%}
    {{ return(adapter.dispatch('json_fields', 'crm_funnel')(relation, json_column, fields)) }}
{%- endmacro %}

{#- One field's value: value is the field's own JSON (keys = []). -#}
{% macro json_field_value(kind, value) -%}
    {%- if kind == 'string' -%}
    {{ json_extract_string(value, []) }}
    {%- else -%}
    {{ json_extract_text(value, []) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__json_fields(relation, json_column, fields) -%}
select
    parsed.*
    {%- for name, spec in fields.items() %},
    {{ json_field_value(spec[0], 'parsed.json_values[' ~ loop.index ~ ']') }} as {{ name }}
    {%- endfor %}
from (
    select
        *,
        json_extract({{ json_column }}, [
            {%- for name, spec in fields.items() -%}
            '{{ json_path(spec[1]) }}'{{ ', ' if not loop.last }}
            {%- endfor -%}
        ]) as json_values
    from {{ relation }}
) as parsed
{%- endmacro %}

{#- PostgreSQL: the document's top-level keys through one json_to_record, the keys
    of each top-level object that holds fields through another; deeper keys and
    array indexes by path from that object. -#}
{% macro postgres__json_fields(relation, json_column, fields) -%}
    {%- set tops = [] -%}
    {%- set seconds = {} -%}
    {%- for name, spec in fields.items() -%}
        {%- set keys = spec[1] -%}
        {%- if keys[0] not in tops %}{% do tops.append(keys[0]) %}{% endif -%}
        {%- if keys | length > 1 and keys[1] is string -%}
            {%- if keys[0] not in seconds %}{% do seconds.update({keys[0]: []}) %}{% endif -%}
            {%- if keys[1] not in seconds[keys[0]] %}{% do seconds[keys[0]].append(keys[1]) %}{% endif -%}
        {%- endif -%}
    {%- endfor -%}
select
    parsed.*
    {%- for name, spec in fields.items() -%}
        {%- set keys = spec[1] -%}
        {%- if keys | length == 1 -%}
            {%- set value = 'json_top."' ~ keys[0] ~ '"' -%}
        {%- elif keys[1] is string -%}
            {%- set value = '"json_' ~ keys[0] ~ '"."' ~ keys[1] ~ '"' -%}
            {%- if keys | length > 2 %}{% set value = '(' ~ value ~ " #> '{" ~ keys[2:] | join(',') ~ "}')" %}{% endif -%}
        {%- else -%}
            {%- set value = '(json_top."' ~ keys[0] ~ "\" #> '{" ~ keys[1:] | join(',') ~ "}')" -%}
        {%- endif %},
    {{ json_field_value(spec[0], value) }} as {{ name }}
    {%- endfor %}
from (
    select
        *,
        {{ json_document(json_column) }} as json_document
    from {{ relation }}
    offset 0 {#- a fence: the planner would otherwise cast the text again per use #}
) as parsed
left join lateral json_to_record(
    case when json_typeof(parsed.json_document) = 'object' then parsed.json_document end
) as json_top (
    {%- for key in tops %}"{{ key }}" json{{ ', ' if not loop.last }}{% endfor -%}
) on true
{%- for top, keys in seconds.items() %}
left join lateral json_to_record(
    case when json_typeof(json_top."{{ top }}") = 'object' then json_top."{{ top }}" end
) as "json_{{ top }}" (
    {%- for key in keys %}"{{ key }}" json{{ ', ' if not loop.last }}{% endfor -%}
) on true
{%- endfor %}
{%- endmacro %}

{% macro spark__json_fields(relation, json_column, fields) -%}
select
    {{ relation }}.*
    {%- for name, spec in fields.items() %},
    {%- if spec[0] == 'string' %}
    {{ json_extract_string(json_column, spec[1]) }} as {{ name }}
    {%- else %}
    {{ json_extract_text(json_column, spec[1]) }} as {{ name }}
    {%- endif %}
    {%- endfor %}
from {{ relation }}
{%- endmacro %}
