{#- The CTE `ranked`: the rows of `rows` numbered per key, latest load first
    (latest loaded_at, then load id; within a file the last row), as `recency`;
    recency = 1 is the row a sheet's latest load gives the key. -#}
{% macro latest_load_ranked(rows, key_columns) -%}
ranked as (

    select
        *,
        row_number() over (
            partition by {{ key_columns | join(', ') }}
            order by loaded_at desc, load_id desc, row_number desc
        ) as recency
    from {{ rows }}

)
{%- endmacro %}
