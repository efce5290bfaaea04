{#- The last two steps of a sheet's validation, as the CTEs `ranked` and
    `classified` after a CTE `checked` that gives each row its invalid_reason (the
    first rule it breaks, null when none): a key repeated in one file keeps the
    file's last row (of the valid ones, or of the invalid ones) and flags the
    earlier ones 'duplicate <what> in file'. rejection_reason is the row's first
    broken rule, is_valid true when there is none. -#}
{% macro sheet_rows_classified(key_columns, what) -%}
ranked as (

    select
        *,
        row_number() over (
            partition by
                load_id, {{ key_columns | join(', ') }}, case when invalid_reason is null then 1 else 0 end
            order by row_number desc
        ) as file_recency
    from checked

),

classified as (

    select
        *,
        case
            when invalid_reason is not null then invalid_reason
            when file_recency > 1 then 'duplicate {{ what }} in file'
        end as rejection_reason,
        invalid_reason is null and file_recency = 1 as is_valid
    from ranked

)
{%- endmacro %}
