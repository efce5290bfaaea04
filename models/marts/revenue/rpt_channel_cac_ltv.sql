{#- Unit economics per channel and calendar month (UTC): spend (the channel spend
    sheet, in the reporting currency), the contacts of the channel (first-touch
    channel) that reached each stage in the month, cost per lead, CAC, revenue,
    LTV, LTV:CAC, payback months and the month's lead cohort conversion rates.
    A month appears when the channel has spend, a stage entry or revenue in it;
    everything is counted up to as_of. -#}

with

entries as (

    select * from {{ ref('int_stage_entries_unpivoted') }}

),

spend_per_month as (

    select * from {{ ref('int_channel_spend_monthly') }}

),

activities as (

    select * from {{ ref('fct_activities') }}

),

contacts as (

    select * from {{ ref('dim_contacts') }}

),

revenue_types as (

    select event_type
    from {{ ref('lifecycle_signals') }}
    where signal = 'revenue'

),

entries_until_as_of as (

    select
        contact_id,
        first_touch_channel as channel,
        funnel_stage,
        lifetime_revenue,
        cast({{ dbt.date_trunc('month', 'entered_at') }} as date) as calendar_month,
        cast({{ dbt.date_trunc('month', 'became_lead_at') }} as date) as cohort_month,
        cast(
            {{ dbt.datediff('entered_at', as_of_timestamp(), 'second') }}  -- noqa: LT05
            as {{ dbt.type_bigint() }}
        ) as seconds_since_entry
    from entries
    where entered_at <= {{ as_of_timestamp() }}

),

stage_entries_per_month as (

    select
        channel,
        calendar_month,
        sum(case when funnel_stage = 'Lead' then 1 else 0 end) as leads,
        sum(case when funnel_stage = 'MQL' then 1 else 0 end) as mqls,
        sum(case when funnel_stage = 'SQL' then 1 else 0 end) as sqls,
        sum(case when funnel_stage = 'Customer' then 1 else 0 end) as customers,
        sum(case when funnel_stage = 'Customer' then lifetime_revenue end) as customers_lifetime_revenue,
        {#- whole seconds, at least one average month (30.4375 days = 2,629,800 s) each:
            a sum of integers is exact, so two builds of the same data agree to the last digit -#}
        cast(sum(
            case
                when funnel_stage = 'Customer'
                    then case when seconds_since_entry > 2629800 then seconds_since_entry else 2629800 end
            end
        ) as {{ type_double() }}) / 2629800 as customer_months
    from entries_until_as_of
    group by channel, calendar_month

),

cohorts_per_month as (

    select
        channel,
        cohort_month as calendar_month,
        sum(case when funnel_stage = 'Lead' then 1 else 0 end) as cohort_leads,
        sum(case when funnel_stage = 'MQL' then 1 else 0 end) as cohort_mqls,
        sum(case when funnel_stage = 'SQL' then 1 else 0 end) as cohort_sqls,
        sum(case when funnel_stage = 'Customer' then 1 else 0 end) as cohort_customers
    from entries_until_as_of
    group by channel, cohort_month

),

revenue_per_month as (

    select
        contacts.first_touch_channel as channel,
        cast({{ dbt.date_trunc('month', 'activities.event_at') }} as date) as calendar_month,
        sum(activities.amount_reporting) as revenue
    from activities
    inner join revenue_types
        on activities.event_type = revenue_types.event_type
    inner join contacts
        on activities.contact_id = contacts.contact_id
    where activities.event_at <= {{ as_of_timestamp() }}
    group by
        contacts.first_touch_channel,
        cast({{ dbt.date_trunc('month', 'activities.event_at') }} as date)

),

channel_months as (

    select
        channel,
        calendar_month
    from spend_per_month
    union
    select
        channel,
        calendar_month
    from stage_entries_per_month
    union
    select
        channel,
        calendar_month
    from revenue_per_month

),

joined as (

    select
        channel_months.channel,
        channel_months.calendar_month,
        spend_per_month.spend,
        stage_entries_per_month.customers_lifetime_revenue,
        stage_entries_per_month.customer_months,
        coalesce(stage_entries_per_month.leads, 0) as leads,
        coalesce(stage_entries_per_month.mqls, 0) as mqls,
        coalesce(stage_entries_per_month.sqls, 0) as sqls,
        coalesce(stage_entries_per_month.customers, 0) as customers,
        coalesce(revenue_per_month.revenue, 0) as revenue,
        coalesce(cohorts_per_month.cohort_leads, 0) as cohort_leads,
        coalesce(cohorts_per_month.cohort_mqls, 0) as cohort_mqls,
        coalesce(cohorts_per_month.cohort_sqls, 0) as cohort_sqls,
        coalesce(cohorts_per_month.cohort_customers, 0) as cohort_customers
    from channel_months
    left join spend_per_month
        on
            channel_months.channel = spend_per_month.channel
            and channel_months.calendar_month = spend_per_month.calendar_month
    left join stage_entries_per_month
        on
            channel_months.channel = stage_entries_per_month.channel
            and channel_months.calendar_month = stage_entries_per_month.calendar_month
    left join revenue_per_month
        on
            channel_months.channel = revenue_per_month.channel
            and channel_months.calendar_month = revenue_per_month.calendar_month
    left join cohorts_per_month
        on
            channel_months.channel = cohorts_per_month.channel
            and channel_months.calendar_month = cohorts_per_month.calendar_month

),

ratios as (

    select
        *,
        {{ safe_divide('spend', 'leads') }} as cost_per_lead,
        {{ safe_divide('spend', 'customers') }} as cac,
        {{ safe_divide('customers_lifetime_revenue', 'customers') }} as ltv,
        {{ safe_divide('customers_lifetime_revenue', 'customer_months') }} as monthly_revenue_per_customer
    from joined

),

final as (

    select
        -- strings
        channel,
        '{{ var("reporting_currency") }}' as currency,

        -- numerics
        cast(spend as {{ dbt.type_numeric() }}) as spend,
        cast(leads as {{ dbt.type_bigint() }}) as leads,
        cast(mqls as {{ dbt.type_bigint() }}) as mqls,
        cast(sqls as {{ dbt.type_bigint() }}) as sqls,
        cast(customers as {{ dbt.type_bigint() }}) as customers,
        cast(revenue as {{ dbt.type_numeric() }}) as revenue,
        cast(cost_per_lead as {{ dbt.type_numeric() }}) as cost_per_lead,
        cast(cac as {{ dbt.type_numeric() }}) as cac,
        cast(ltv as {{ dbt.type_numeric() }}) as ltv,
        {{ safe_divide('ltv', 'cac') }} as ltv_to_cac,
        cast(monthly_revenue_per_customer as {{ dbt.type_numeric() }}) as monthly_revenue_per_customer,
        {{ safe_divide('cac', 'monthly_revenue_per_customer') }} as payback_months,
        {{ safe_divide('cohort_mqls', 'cohort_leads') }} as lead_to_mql_rate,
        {{ safe_divide('cohort_sqls', 'cohort_mqls') }} as mql_to_sql_rate,
        {{ safe_divide('cohort_customers', 'cohort_sqls') }} as sql_to_customer_rate,

        -- dates
        calendar_month

    from ratios

)

select * from final
