{#- Every landed raw event, classified: its canonical event type (through the
    vocabulary and alias seeds), whether it repeats an earlier event key, and
    the first rule it breaks (null when it is a valid activity). A
    manual_override must name one of the lifecycle_states. -#}

with

events as (

    select * from {{ ref('stg_raw__events') }}

),

event_types as (

    select * from {{ ref('event_types') }}

),

event_type_aliases as (

    select * from {{ ref('event_type_aliases') }}

),

lifecycle_states as (

    select * from {{ ref('lifecycle_states') }}

),

event_type_names as (

    select
        event_type as event_type_input,
        event_type
    from event_types

    union all

    select
        lower(alias) as event_type_input,
        event_type
    from event_type_aliases

),

canonicalised as (

    select
        events.*,
        event_types.event_type,
        event_types.category as event_category,
        event_types.is_engagement,
        event_types.is_outbound_touch,
        lifecycle_states.lifecycle_state is not null as is_override_state_known
    from events
    left join event_type_names
        on events.event_type_input = event_type_names.event_type_input
    left join event_types
        on event_type_names.event_type = event_types.event_type
    left join lifecycle_states
        on events.override_state = lifecycle_states.lifecycle_state

),

ranked as (

    select
        *,
        row_number() over (
            partition by event_key
            order by loaded_at, load_id, source_position
        ) as event_key_occurrence
    from canonicalised

),

classified as (

    select
        *,
        event_key_occurrence > 1 as is_duplicate,
        case
            when email is null
                then 'missing email'
            when not {{ regex_matches('email', var('valid_email_regex')) }}
                then 'malformed email'
            when event_type_input is null
                then 'missing event_type'
            when event_type is null
                then 'unknown event_type'
            when event_time_text is null
                then 'missing event_time'
            when event_at is null
                then 'unparseable event_time'
            when
                event_at < cast('{{ var("min_event_date") }}' as {{ dbt.type_timestamp() }})
                or event_at > {{ dbt.dateadd('hour', var('future_tolerance_hours'), as_of_timestamp()) }}
                then 'event_time out of range'
            when event_type = 'manual_override' and not is_override_state_known
                then 'invalid manual_override state'
        end as rejection_reason
    from ranked

),

final as (

    select
        -- ids
        event_key,
        load_id,
        {{ surrogate_key(['email']) }} as contact_id,

        -- strings
        email,
        event_type,
        event_category,
        coalesce(channel, '{{ var("unknown_channel") }}') as channel,
        company,
        industry,
        lead_source,
        properties,
        currency,
        bounce_type,
        override_state,
        override_set_by,
        campaign_id,
        rejection_reason,
        event_type_input,
        event_time_text,
        payload,
        source_file,
        source_format,

        -- numerics
        source_position,
        amount,
        sequence_step,

        -- booleans
        coalesce(is_engagement, false) as is_engagement,
        coalesce(is_outbound_touch, false) as is_outbound_touch,
        is_duplicate,
        coalesce(not is_duplicate and rejection_reason is null, false) as is_activity,

        -- dates
        contract_end_date,

        -- timestamps
        event_at,
        scheduled_at,
        loaded_at

    from classified

)

select * from final
