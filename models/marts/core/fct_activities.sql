{#- One row per valid, deduplicated event: the activity stream every contact
    model is built from. -#}

with

events as (

    select * from {{ ref('int_events_validated') }}

),

final as (

    select
        -- ids
        event_key as activity_id,
        contact_id,
        load_id,

        -- strings
        email,
        event_type,
        event_category,
        channel,
        company,
        industry,
        lead_source,
        properties,
        source_file,

        -- numerics
        source_position,
        {{ intent_weight('event_type') }} as intent_weight,

        -- booleans
        is_engagement,
        is_outbound_touch,

        -- dates
        cast(event_at as date) as event_date,

        -- timestamps
        event_at,
        loaded_at

    from events
    where is_activity

)

select * from final
