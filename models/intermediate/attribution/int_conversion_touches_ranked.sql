{#- One row per conversion and touch: every conversion (a contact reaching SQL,
    a contact becoming a customer) with the contact's marketing and sales
    touches in the var attribution_lookback_days up to it, numbered in time
    order (ties in event_at broken by activity_id).
    A touch is an activity whose event type is an engagement or an outbound
    touch (seed event_types), or any activity at the conversion instant: the
    event that caused the conversion is a touch whatever its type (a signal
    can push the score over sql_score_threshold), so every conversion has at
    least one. A manual_override (a person setting a state) never is. -#}

{%- set lookback_days = var('attribution_lookback_days') -%}

with

contacts as (

    select * from {{ ref('dim_contacts') }}

),

activities as (

    select * from {{ ref('fct_activities') }}

),

conversions as (

    select
        contact_id,
        'sql' as conversion_type,
        became_sql_at as converted_at,
        cast(0 as {{ dbt.type_numeric() }}) as conversion_revenue
    from contacts
    where became_sql_at is not null

    union all

    select
        contact_id,
        'customer' as conversion_type,
        became_customer_at as converted_at,
        cast(lifetime_revenue as {{ dbt.type_numeric() }}) as conversion_revenue
    from contacts
    where became_customer_at is not null

),

touches as (

    select
        conversions.contact_id,
        conversions.conversion_type,
        conversions.converted_at,
        conversions.conversion_revenue,
        activities.activity_id,
        activities.event_type,
        activities.channel,
        activities.campaign_id,
        activities.event_at,
        cast(
            {{ dbt.datediff('activities.event_at', 'conversions.converted_at', 'second') }}
            as {{ type_double() }}
        ) / 86400 as days_before_conversion
    from conversions
    inner join activities
        on
            conversions.contact_id = activities.contact_id
            and activities.event_at <= conversions.converted_at
            and activities.event_at >= {{ dbt.dateadd(
                'day', -1 * lookback_days, 'conversions.converted_at'
            ) }}
    where
        activities.event_type != 'manual_override'
        and (
            activities.is_engagement
            or activities.is_outbound_touch
            or activities.event_at = conversions.converted_at
        )

),

ranked as (

    select
        *,
        row_number() over (
            partition by contact_id, conversion_type
            order by event_at, activity_id
        ) as touch_position,
        count(*) over (partition by contact_id, conversion_type) as touch_count
    from touches

),

final as (

    select
        -- ids
        {{ surrogate_key(['contact_id', 'conversion_type', 'activity_id']) }} as conversion_touch_id,
        {{ surrogate_key(['contact_id', 'conversion_type']) }} as conversion_id,
        contact_id,
        activity_id as touch_activity_id,
        campaign_id,

        -- strings
        conversion_type,
        event_type as touch_event_type,
        channel as touch_channel,

        -- numerics
        cast(touch_position as {{ dbt.type_bigint() }}) as touch_position,
        cast(touch_count as {{ dbt.type_bigint() }}) as touch_count,
        days_before_conversion,
        conversion_revenue,

        -- timestamps
        converted_at,
        event_at as touch_at

    from ranked

)

select * from final
