{#- One row per (spend date, raw channel as written): the valid row of the latest load that has
    it (latest loaded_at, then load id), with the spend also converted to the var
    reporting_currency (int_fx_rates_to_reporting). -#}

with

spend as (

    select * from {{ ref('int_channel_spend_validated') }}
    where is_valid

),

fx_rates as (

    select * from {{ ref('int_fx_rates_to_reporting') }}

),

{{ latest_load_ranked('spend', ['spend_date', 'raw_channel']) }},

final as (

    select
        -- ids
        {{ surrogate_key(['ranked.spend_date', 'ranked.raw_channel']) }} as spend_id,
        ranked.load_id,

        -- strings
        ranked.channel,
        ranked.raw_channel,
        ranked.currency,
        ranked.source_file,

        -- numerics
        ranked.row_number,
        ranked.spend,
        cast(ranked.spend * fx_rates.rate_to_reporting as {{ dbt.type_numeric() }}) as spend_reporting,

        -- dates
        ranked.spend_date

    from ranked
    left join fx_rates
        on ranked.currency = fx_rates.currency
    where ranked.recency = 1

)

select * from final
