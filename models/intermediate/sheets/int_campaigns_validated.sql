{#- Every landed campaigns row, classified by the first rule it breaks (null
    when it is valid). Rules, in order: the campaign id is missing; the name is
    missing; the start date is not an ISO-8601 date (or timestamp); nor the end
    date; the end date is before the start date; the campaign id repeats in the
    file (the last row of the file counts, the earlier ones are flagged). Empty
    dates are allowed (an open-ended campaign). -#}

with

campaigns as (

    select * from {{ ref('stg_sheets__campaigns') }}

),

checked as (

    select
        *,
        case
            when campaign_id is null
                then 'missing campaign_id'
            when campaign_name is null
                then 'missing name'
            when start_date_text is not null and starts_on is null
                then 'invalid start_date'
            when end_date_text is not null and ends_on is null
                then 'invalid end_date'
            when ends_on < starts_on
                then 'end_date before start_date'
        end as invalid_reason
    from campaigns

),

{{ sheet_rows_classified(['campaign_id'], 'campaign_id') }},

final as (

    select
        -- ids
        load_id,
        campaign_id,

        -- strings
        {%- for column in sheet_columns('campaigns') if column.type in ['text', 'lower', 'upper'] %}
            {{ column.as }},
        {%- endfor %}
        start_date_text,
        end_date_text,
        rejection_reason,
        payload,
        source_file,

        -- numerics
        row_number,

        -- booleans
        is_valid,

        -- dates
        starts_on,
        ends_on,

        -- timestamps
        loaded_at

    from classified

)

select * from final
