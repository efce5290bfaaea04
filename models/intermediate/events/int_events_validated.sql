{#- Every landed raw event, and every contact imported from the contacts
    sheet (int_sheet_contacts_imported), classified: its canonical event type (through the
    vocabulary and alias seeds), whether it repeats an earlier event key, and
    the first rule it breaks (null when it is a valid activity). A
    manual_override must name one of the lifecycle_states; a queue action must
    name its queue_item_id (a snooze its until, an escalation its to); an
    interaction_logged must say its direction (inbound or outbound). Whether
    a queue action's item exists is checked downstream (fct_quarantined_events).
    A valid queue action is not an activity of the contact (is_activity false:
    resolving an item must not make its contact look active); int_queue_actions
    reads it from here. The channel and the
    lead source are grouped here, once, through the channel_groups seed (a
    value it does not list keeps its lower-cased name), so every later model
    speaks the grouped names.

    Incremental: a run classifies only the loads it has not seen (loaded at or
    after the newest load it holds), plus the events it holds as out of range,
    which a later as_of can make valid (an event inside the future tolerance).
    Changing a rule var or seed needs `dbt build --full-refresh`. -#}

{{ config(
    materialized=incremental_materialization(),
    unique_key=['load_id', 'source_position'],
    incremental_strategy='delete+insert',
) }}

{%- set stg_columns = [
    'event_key', 'load_id', 'email', 'event_type_input', 'channel', 'company', 'industry',
    'lead_source', 'event_time_text', 'properties', 'currency', 'bounce_type',
    'override_state', 'override_set_by', 'campaign_id', 'payload', 'source_file',
    'source_format', 'source_position', 'amount', 'sequence_step', 'contract_end_date',
    'event_at', 'scheduled_at', 'loaded_at',
] + queue_property_columns() -%}

with

staged as (

    select {{ stg_columns | join(', ') }}
    from {{ ref('stg_raw__events') }}

    union all

    select {{ stg_columns | join(', ') }}
    from {{ ref('int_sheet_contacts_imported') }}

),

{% if is_incremental() %}

held_loads as (

    select
        load_id,
        max(loaded_at) as loaded_at
    from {{ this }}
    group by load_id

),

earlier_keys as (

    select distinct event_key
    from {{ this }}
    where rejection_reason is distinct from 'event_time out of range'

),

{% endif %}

events as (

    select {{ stg_columns | join(', ') }}
    from staged
    {%- if is_incremental() %}
        where
            staged.loaded_at >= (select max(held_loads.loaded_at) from held_loads)
            and staged.load_id not in (select held_loads.load_id from held_loads)

        union all

        select {{ stg_columns | join(', ') }}
        from {{ this }}
        where rejection_reason = 'event_time out of range'
    {%- endif %}

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

channel_groups as (

    select * from {{ ref('channel_groups') }}

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
        lifecycle_states.lifecycle_state is not null as is_override_state_known,
        coalesce(channel_groups.channel_group, events.channel) as grouped_channel,
        coalesce(lead_source_groups.channel_group, events.lead_source) as grouped_lead_source
    from events
    left join event_type_names
        on events.event_type_input = event_type_names.event_type_input
    left join event_types
        on event_type_names.event_type = event_types.event_type
    left join lifecycle_states
        on events.override_state = lifecycle_states.lifecycle_state
    left join channel_groups
        on events.channel = channel_groups.raw_channel
    left join channel_groups as lead_source_groups
        on events.lead_source = lead_source_groups.raw_channel

),

occurrences as (

    {#- numbered on the key columns alone: the window sorts these, not every column -#}
    select
        events.event_key,
        events.load_id,
        events.source_position,
        row_number() over (
            partition by events.event_key
            order by events.loaded_at, events.load_id, events.source_position
        ) {% if is_incremental() %}+ case when earlier_keys.event_key is null then 0 else 1 end {% endif %}as event_key_occurrence
    from events
    {%- if is_incremental() %}
        left join earlier_keys
            on events.event_key = earlier_keys.event_key
    {%- endif %}

),

ranked as (

    select
        canonicalised.*,
        occurrences.event_key_occurrence
    from canonicalised
    -- (load_id, source_position) is unique; the event key and the coalesces
    -- also pair rows without a load, as a unit test gives them
    inner join occurrences
        on
            canonicalised.event_key = occurrences.event_key
            and coalesce(canonicalised.load_id, '') = coalesce(occurrences.load_id, '')
            and coalesce(canonicalised.source_position, -1) = coalesce(occurrences.source_position, -1)

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
            when event_category = 'queue' and queue_item_id is null
                then 'missing queue_item_id'
            when event_type = 'queue_item_snoozed' and snoozed_until is null
                then 'missing or unparseable until'
            when event_type = 'queue_item_escalated' and escalated_to is null
                then 'missing escalation to'
            when
                event_type = 'interaction_logged'
                and coalesce(interaction_direction not in ('inbound', 'outbound'), true)
                then 'missing or invalid interaction direction'
            when
                event_type = 'interaction_logged'
                and not {{ in_list('interaction_channel', var('queue_interaction_channels')) }}
                then 'invalid interaction interaction_channel'
            when
                event_type = 'interaction_logged'
                and not {{ in_list('action_outcome', var('queue_interaction_outcomes')) }}
                then 'invalid interaction outcome'
            when
                event_type = 'interaction_logged'
                and not {{ in_list('initiated_by', var('queue_interaction_initiators')) }}
                then 'invalid interaction initiated_by'
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
        coalesce(grouped_channel, '{{ var("unknown_channel") }}') as channel,
        company,
        industry,
        grouped_lead_source as lead_source,
        properties,
        currency,
        bounce_type,
        {#- only a manual_override sets a state: `state` on any other event is
            just a property -#}
        case when event_type = 'manual_override' then override_state end as override_state,
        case when event_type = 'manual_override' then override_set_by end as override_set_by,
        campaign_id,
        {{ queue_property_columns() | join(',\n        ') }},
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
        {#- an event that says it is inbound (an interaction) is never a touch -#}
        coalesce(is_outbound_touch and interaction_direction is distinct from 'inbound', false)
            as is_outbound_touch,
        is_duplicate,
        {#- a queue action acts on the queue, not on the contact (int_queue_actions) -#}
        coalesce(
            not is_duplicate and rejection_reason is null and event_category != 'queue',
            false
        ) as is_activity,

        -- dates
        contract_end_date,

        -- timestamps
        event_at,
        scheduled_at,
        loaded_at,
        {{ run_started_timestamp() }} as validated_at

    from classified

)

select * from final
