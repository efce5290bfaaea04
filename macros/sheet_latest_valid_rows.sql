{#- The body of a sheet's deduplicated model: one row per key (key_columns) with
    the valid row of validated (the sheet's validated model) from the latest load
    that has the key (see latest_load_ranked): id_column, load_id, the sheet's
    columns (sheet_columns(kind)), source_file, row_number and loaded_at. -#}
{% macro sheet_latest_valid_rows(kind, validated, key_columns, id_column) -%}
{%- set columns = sheet_columns(kind) -%}
with

valid_rows as (

    select * from {{ ref(validated) }}
    where is_valid

),

{{ latest_load_ranked('valid_rows', key_columns) }},

final as (

    select
        -- ids
        {{ id_column }},
        load_id,

        -- strings
        {%- for column in columns if column.type in ['text', 'lower', 'upper'] %}
        {{ column.as }},
        {%- endfor %}
        source_file,

        -- numerics
        {%- for column in columns if column.type == 'decimal' %}
        {{ column.as }},
        {%- endfor %}
        row_number,

        -- dates
        {%- for column in columns if column.type == 'date' %}
        {{ column.as }},
        {%- endfor %}

        -- timestamps
        {%- for column in columns if column.type == 'timestamp' %}
        {{ column.as }},
        {%- endfor %}
        loaded_at

    from ranked
    where recency = 1

)

select * from final
{%- endmacro %}
