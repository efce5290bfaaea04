{#- The var reporting_currency must have a rate in the fx_rates seed, or no
    amount could be converted. Returns the var's value when it has none. -#}

with

fx_rates as (

    select * from {{ ref('fx_rates') }}

),

reporting_currency as (

    select '{{ var("reporting_currency") }}' as currency

)

select reporting_currency.currency
from reporting_currency
left join fx_rates
    on reporting_currency.currency = fx_rates.currency
where fx_rates.currency is null
