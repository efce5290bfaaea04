{#- One row per appointment (an `appointment` signal event, e.g. a booked
    demo) with its outcome: converted, held, no_show or booked, and whether it
    is still upcoming. -#}

with

activities as (

    select * from {{ ref('fct_activities') }}

),

appointment_signals as (

    select
        event_type,
        signal
    from {{ ref('lifecycle_signals') }}
    where signal in ('appointment', 'appointment_held', 'appointment_no_show')

),

contacts as (

    select * from {{ ref('dim_contacts') }}

),

signalled_activities as (

    select
        activities.activity_id,
        activities.contact_id,
        activities.event_at,
        activities.scheduled_at,
        appointment_signals.signal
    from activities
    inner join appointment_signals
        on activities.event_type = appointment_signals.event_type

),

bookings as (

    select
        activity_id as appointment_id,
        contact_id,
        event_at as booked_at,
        coalesce(scheduled_at, event_at) as scheduled_at,
        lead(event_at) over (
            partition by contact_id
            order by event_at, activity_id
        ) as next_booked_at
    from signalled_activities
    where signal = 'appointment'

),

outcome_events as (

    select
        activity_id,
        contact_id,
        event_at,
        signal
    from signalled_activities
    where signal in ('appointment_held', 'appointment_no_show')

),

matched_outcomes as (

    select
        bookings.appointment_id,
        outcome_events.activity_id as outcome_activity_id,
        outcome_events.signal as outcome_signal,
        outcome_events.event_at as outcome_at,
        row_number() over (
            partition by bookings.appointment_id
            order by outcome_events.event_at, outcome_events.activity_id
        ) as outcome_number
    from bookings
    inner join outcome_events
        on
            bookings.contact_id = outcome_events.contact_id
            and bookings.booked_at <= outcome_events.event_at
            and (bookings.next_booked_at is null or bookings.next_booked_at > outcome_events.event_at)

),

first_outcomes as (

    select *
    from matched_outcomes
    where outcome_number = 1

),

classified as (

    select
        bookings.*,
        contacts.email,
        first_outcomes.outcome_activity_id,
        first_outcomes.outcome_at,
        coalesce(first_outcomes.outcome_signal = 'appointment_held', false) as is_held,
        coalesce(first_outcomes.outcome_signal = 'appointment_no_show', false) as is_no_show,
        case
            when contacts.became_customer_at >= bookings.booked_at then 'converted'
            when first_outcomes.outcome_signal = 'appointment_held' then 'held'
            when first_outcomes.outcome_signal = 'appointment_no_show' then 'no_show'
            else 'booked'
        end as outcome
    from bookings
    inner join contacts
        on bookings.contact_id = contacts.contact_id
    left join first_outcomes
        on bookings.appointment_id = first_outcomes.appointment_id

),

final as (

    select
        -- ids
        appointment_id,
        contact_id,
        outcome_activity_id,

        -- strings
        email,
        outcome,

        -- booleans
        is_held,
        is_no_show,
        coalesce(outcome = 'booked' and scheduled_at > {{ as_of_timestamp() }}, false) as is_upcoming,

        -- timestamps
        booked_at,
        scheduled_at,
        outcome_at

    from classified

)

select * from final
