{#- One row per channel and calendar month (UTC) with spend up to as_of: the
    channel spend sheet (int_channel_spend_converted) summed in the reporting
    currency, for the reports that set spend beside conversions. -#}

with

spend as (

    select * from {{ ref('int_channel_spend_converted') }}

),

final as (

    select
        -- strings
        channel,

        -- numerics
        sum(spend_reporting) as spend,

        -- dates
        cast({{ dbt.date_trunc('month', 'spend_date') }} as date) as calendar_month

    from spend
    where spend_date <= cast({{ as_of_timestamp() }} as date)
    group by channel, cast({{ dbt.date_trunc('month', 'spend_date') }} as date)

)

select * from final
