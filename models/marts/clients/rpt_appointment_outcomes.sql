{#- Appointment outcomes per calendar month (UTC) of the scheduled time:
    appointments by outcome and the show rate. -#}

with

appointments as (

    select * from {{ ref('rpt_appointments') }}

),

monthly as (

    select
        cast({{ dbt.date_trunc('month', 'scheduled_at') }} as date) as scheduled_month,
        count(*) as appointments,
        sum(case when outcome = 'booked' then 1 else 0 end) as booked,
        sum(case when outcome = 'held' then 1 else 0 end) as held,
        sum(case when outcome = 'no_show' then 1 else 0 end) as no_show,
        sum(case when outcome = 'converted' then 1 else 0 end) as converted,
        sum(case when is_upcoming then 1 else 0 end) as upcoming,
        sum(case when is_held then 1 else 0 end) as attended,
        sum(case when is_held or is_no_show then 1 else 0 end) as attendance_recorded
    from appointments
    group by cast({{ dbt.date_trunc('month', 'scheduled_at') }} as date)

),

final as (

    select
        -- numerics
        cast(appointments as {{ dbt.type_bigint() }}) as appointments,
        cast(booked as {{ dbt.type_bigint() }}) as booked,
        cast(held as {{ dbt.type_bigint() }}) as held,
        cast(no_show as {{ dbt.type_bigint() }}) as no_show,
        cast(converted as {{ dbt.type_bigint() }}) as converted,
        cast(upcoming as {{ dbt.type_bigint() }}) as upcoming,
        {{ safe_divide('attended', 'attendance_recorded') }} as show_rate,

        -- dates
        scheduled_month

    from monthly

)

select * from final
