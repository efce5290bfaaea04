{#- One row per valid, deduplicated event: the activity stream every contact
    model is built from, with the typed properties the rules read. Amounts are
    also converted to the var reporting_currency (seed fx_rates; an amount
    without a currency is in the reporting currency, an unknown one gives null).
    Incremental: a run adds the events validated since the newest it holds. -#}

{{ config(
    materialized=incremental_materialization(),
    unique_key='activity_id',
    incremental_strategy='delete+insert',
) }}

with

events as (

    select * from {{ ref('int_events_validated') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates_to_reporting') }}

),

final as (

    select
        -- ids
        events.event_key as activity_id,
        events.contact_id,
        events.load_id,

        -- strings
        events.email,
        events.event_type,
        events.event_category,
        events.channel,
        events.company,
        events.industry,
        events.lead_source,
        events.currency,
        events.bounce_type,
        events.override_state,
        events.override_set_by,
        events.campaign_id,
        events.action_outcome,
        events.action_by,
        events.interaction_direction,
        events.interaction_channel,
        events.initiated_by,
        events.interaction_summary,
        events.properties,
        events.source_file,

        -- numerics
        events.source_position,
        {{ intent_weight('events.event_type') }} as intent_weight,
        events.amount,
        cast(events.amount * fx_rates.rate_to_reporting as {{ dbt.type_numeric() }}) as amount_reporting,
        events.sequence_step,

        -- booleans
        events.is_engagement,
        events.is_outbound_touch,

        -- dates
        cast(events.event_at as date) as event_date,
        events.contract_end_date,

        -- timestamps
        events.event_at,
        events.scheduled_at,
        events.loaded_at,
        events.validated_at

    from events
    left join fx_rates
        on coalesce(events.currency, '{{ var("reporting_currency") }}') = fx_rates.currency
    where
        {% if is_incremental() -%}
            events.validated_at > (select max(held.validated_at) from {{ this }} as held) and
        {% endif -%}
        events.is_activity

)

select * from final
