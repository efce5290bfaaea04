{#- Every landed channel-spend row, classified by the first rule it breaks (null
    when it is valid). Rules, in order: the date is missing; it is not an
    ISO-8601 date (or timestamp); the channel is missing; the spend is missing;
    it is not a number (a `.` decimal point, no thousands separators, at most 6
    decimals); its currency is not in the fx_rates seed (an empty currency is
    the var reporting_currency); the same date and channel repeat in the file
    (the last row of the file counts, the earlier ones are flagged). The
    channel as written is raw_channel; channel is its group (seed
    channel_groups, the same table as the events', so spend meets the leads of
    its group; a channel the seed does not list keeps its name). -#}

with

spend as (

    select * from {{ ref('stg_sheets__spend') }}

),

fx_rates as (

    select * from {{ ref('fx_rates') }}

),

channel_groups as (

    select * from {{ ref('channel_groups') }}

),

checked as (

    select
        spend.*,
        coalesce(channel_groups.channel_group, spend.channel) as channel_group,
        coalesce(spend.currency, '{{ var("reporting_currency") }}') as spend_currency,
        case
            when spend.spend_date_text is null
                then 'missing date'
            when spend.spend_date is null
                then 'invalid date'
            when spend.channel is null
                then 'missing channel'
            when spend.spend_text is null
                then 'missing spend'
            when spend.spend is null
                then 'invalid spend'
            when fx_rates.currency is null
                then 'unknown currency'
        end as invalid_reason
    from spend
    left join fx_rates
        on coalesce(spend.currency, '{{ var("reporting_currency") }}') = fx_rates.currency
    left join channel_groups
        on spend.channel = channel_groups.raw_channel

),

{{ sheet_rows_classified(['spend_date', 'channel'], 'date and channel') }},

final as (

    select
        -- ids
        load_id,

        -- strings
        channel_group as channel,
        channel as raw_channel,
        spend_currency as currency,
        spend_date_text,
        spend_text,
        rejection_reason,
        payload,
        source_file,

        -- numerics
        row_number,
        spend,

        -- booleans
        is_valid,

        -- dates
        spend_date,

        -- timestamps
        loaded_at

    from classified

)

select * from final
