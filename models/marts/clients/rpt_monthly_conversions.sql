{#- Per calendar month (UTC): contacts who became customers that month, and the
    revenue (reporting currency) of every `revenue` signal event dated in it. -#}

with

contacts as (

    select * from {{ ref('dim_contacts') }}

),

activities as (

    select * from {{ ref('fct_activities') }}

),

lifecycle_signals as (

    select * from {{ ref('lifecycle_signals') }}

),

new_customers as (

    select
        cast({{ dbt.date_trunc('month', 'became_customer_at') }} as date) as conversion_month,
        count(*) as new_customers
    from contacts
    where became_customer_at is not null
    group by cast({{ dbt.date_trunc('month', 'became_customer_at') }} as date)

),

revenue as (

    select
        cast({{ dbt.date_trunc('month', 'activities.event_at') }} as date) as conversion_month,
        count(*) as revenue_events,
        sum(activities.amount_reporting) as revenue
    from activities
    inner join lifecycle_signals
        on activities.event_type = lifecycle_signals.event_type
    where lifecycle_signals.signal = 'revenue'
    group by cast({{ dbt.date_trunc('month', 'activities.event_at') }} as date)

),

months as (

    select conversion_month from new_customers
    union
    select conversion_month from revenue

),

final as (

    select
        -- strings
        '{{ var("reporting_currency") }}' as currency,

        -- numerics
        cast(coalesce(new_customers.new_customers, 0) as {{ dbt.type_bigint() }}) as new_customers,
        cast(coalesce(revenue.revenue_events, 0) as {{ dbt.type_bigint() }}) as revenue_events,
        cast(coalesce(revenue.revenue, 0) as {{ dbt.type_numeric() }}) as revenue,

        -- dates
        months.conversion_month

    from months
    left join new_customers
        on months.conversion_month = new_customers.conversion_month
    left join revenue
        on months.conversion_month = revenue.conversion_month

)

select * from final
