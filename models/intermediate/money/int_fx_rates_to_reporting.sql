{#- One row per currency of the fx_rates seed with the factor that converts an
    amount in it to the var reporting_currency: its rate_to_base over the
    reporting currency's. Every converted amount in the project is
    `amount * rate_to_reporting`. Null factors when the reporting currency has
    no rate (the data test assert_reporting_currency_has_fx_rate fails then). -#}

with

fx_rates as (

    select * from {{ ref('fx_rates') }}

),

reporting_rate as (

    select rate_to_base
    from fx_rates
    where currency = '{{ var("reporting_currency") }}'

),

final as (

    select
        -- strings
        fx_rates.currency,

        -- numerics
        cast(fx_rates.rate_to_base as {{ type_double() }})
        / cast(reporting_rate.rate_to_base as {{ type_double() }}) as rate_to_reporting

    from fx_rates
    left join reporting_rate
        on 1 = 1

)

select * from final
