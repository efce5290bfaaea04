{#- Contracts to renew: per contact, the latest customer event (var
    `customer_trigger_events`) that carries a contract end date, listed when that
    date falls in [as_of date, as_of date + `renewal_window_days`). -#}

with

activities as (

    select * from {{ ref('fct_activities') }}

),

contacts as (

    select * from {{ ref('dim_contacts') }}

),

as_of_date as (

    select cast({{ as_of_timestamp() }} as date) as as_of_date

),

contracts as (

    select
        contact_id,
        activity_id as contract_activity_id,
        event_type as contract_event_type,
        amount_reporting as contract_amount,
        contract_end_date,
        event_at as contracted_at,
        row_number() over (
            partition by contact_id
            order by event_at desc, activity_id desc
        ) as contract_recency
    from activities
    where
        {{ in_list('event_type', var('customer_trigger_events')) }}
        and contract_end_date is not null

),

due as (

    select
        contracts.*,
        {{ dbt.datediff('as_of_date.as_of_date', 'contracts.contract_end_date', 'day') }} as days_until_end  -- noqa: LT05
    from contracts
    cross join as_of_date
    where
        contracts.contract_recency = 1
        and contracts.contract_end_date >= as_of_date.as_of_date
        and contracts.contract_end_date
        < cast({{ dbt.dateadd('day', var('renewal_window_days'), 'as_of_date.as_of_date') }} as date)

),

final as (

    select
        -- ids
        due.contact_id,
        due.contract_activity_id,

        -- strings
        contacts.email,
        contacts.company,
        contacts.lifecycle_state,
        due.contract_event_type,
        '{{ var("reporting_currency") }}' as currency,

        -- numerics
        cast(due.days_until_end as integer) as days_until_end,
        due.contract_amount,

        -- dates
        due.contract_end_date,

        -- timestamps
        due.contracted_at

    from due
    inner join contacts
        on due.contact_id = contacts.contact_id

)

select * from final
