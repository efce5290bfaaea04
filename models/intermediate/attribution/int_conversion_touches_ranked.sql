{#- One row per conversion and touch: every conversion (a contact reaching SQL,
    a contact becoming a customer) with the contact's marketing and sales
    touches in the var attribution_lookback_days strictly before it, numbered
    in time order (ties in event_at broken by activity_id).
    A touch is an activity whose event type is an engagement or an outbound
    touch (seed event_types) that happened before the conversion instant: the
    converting event (a purchase, a demo booking) and anything else at that
    instant never is. A conversion without a touch keeps one row on the
    channel var attribution_no_touch_channel, with no touch activity, so no
    conversion is dropped. -#}

{%- set lookback_days = var('attribution_lookback_days') -%}
{%- set touch_columns = [
    'contact_id', 'conversion_type', 'converted_at', 'conversion_revenue', 'activity_id', 'event_type',
    'channel', 'campaign_id', 'event_at', 'days_before_conversion', 'touch_position', 'touch_count',
] -%}

with

contacts as (

    select * from {{ ref('int_contacts_joined') }}

),

activities as (

    select * from {{ ref('int_activities_enriched') }}

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
            and activities.event_at < conversions.converted_at
            and activities.event_at >= {{ dbt.dateadd(
                'day', -1 * lookback_days, 'conversions.converted_at'
            ) }}
    where activities.is_engagement or activities.is_outbound_touch

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

touched_conversions as (

    select distinct
        contact_id,
        conversion_type
    from touches

),

untouched as (

    select
        conversions.contact_id,
        conversions.conversion_type,
        conversions.converted_at,
        conversions.conversion_revenue,
        cast(null as {{ dbt.type_string() }}) as activity_id,
        cast(null as {{ dbt.type_string() }}) as event_type,
        '{{ var("attribution_no_touch_channel") }}' as channel,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        cast(null as {{ dbt.type_timestamp() }}) as event_at,
        cast(null as {{ type_double() }}) as days_before_conversion,
        1 as touch_position,
        1 as touch_count
    from conversions
    left join touched_conversions
        on
            conversions.contact_id = touched_conversions.contact_id
            and conversions.conversion_type = touched_conversions.conversion_type
    where touched_conversions.contact_id is null

),

all_touches as (

    {%- for touches in ['ranked', 'untouched'] %}
        select
            {{ touch_columns | join(',\n            ') }}
        from {{ touches }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

final as (

    select
        -- ids
        {{ surrogate_key(['contact_id', 'conversion_type', 'activity_id']) }} as conversion_touch_id,
        {{ surrogate_key(['contact_id', 'conversion_type']) }} as conversion_id,
        contact_id,
        activity_id as touch_activity_id,
        campaign_id as touch_campaign_id,

        -- strings
        conversion_type,
        event_type as touch_event_type,
        channel as touch_channel,

        -- numerics
        cast(touch_position as {{ dbt.type_bigint() }}) as touch_position,
        cast(touch_count as {{ dbt.type_bigint() }}) as touch_count,
        days_before_conversion,
        conversion_revenue,

        -- booleans
        activity_id is not null as has_prior_touch,

        -- timestamps
        converted_at,
        event_at as touch_at

    from all_touches

)

select * from final
