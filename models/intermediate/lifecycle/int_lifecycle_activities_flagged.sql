{#- Every activity with the lifecycle signals it counts for (seed
    lifecycle_signals, plus the opt-out, resubscribe, customer and hard-bounce
    vars; a manual_override to Unsubscribed is an opt-out), so the
    state rules read flags, never event type names. A view: the incremental
    lifecycle models read it for the contacts they recompute. -#}

{{ config(materialized='view') }}

{%- set signal_names = [
    'hot', 'warm', 'open', 'click', 'referral', 'revenue', 'alumni', 'hard_bounce', 'signal', 'complaint',
] -%}

with

activities as (

    select * from {{ ref('int_activities_enriched') }}

),

lifecycle_signals as (

    select * from {{ ref('lifecycle_signals') }}

),

signals_by_event_type as (

    select
        event_type,
        {%- for name in signal_names %}
            max(case when signal = '{{ name }}' then 1 end) = 1 as is_{{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from lifecycle_signals
    group by event_type

),

final as (

    select
        -- ids
        activities.activity_id,
        activities.contact_id,

        -- strings
        activities.email,
        activities.event_type,
        activities.override_state,
        activities.override_set_by,

        -- numerics
        case when signals.is_revenue then coalesce(activities.amount_reporting, 0) else 0 end as revenue,

        -- booleans
        activities.is_engagement,
        activities.is_outbound_touch,
        activities.event_type = 'manual_override' as is_manual_override,
        coalesce(
            {{ in_list('activities.event_type', var('opt_out_events')) }}
            or (activities.event_type = 'manual_override' and activities.override_state = 'Unsubscribed'),
            false
        ) as is_opt_out,
        {{ in_list('activities.event_type', var('resubscribe_events')) }} as is_resubscribe,
        {{ in_list('activities.event_type', var('customer_trigger_events')) }} as is_customer,
        coalesce(signals.is_hot, false) as is_hot,
        coalesce(signals.is_warm, false) as is_warm,
        coalesce(signals.is_open, false) as is_open,
        coalesce(signals.is_click, false) as is_click,
        coalesce(signals.is_referral, false) as is_referral,
        coalesce(signals.is_alumni, false) as is_alumni,
        coalesce(signals.is_signal, false) as is_signal,
        coalesce(signals.is_complaint, false) as is_complaint,
        coalesce(
            signals.is_hard_bounce and {{ in_list('activities.bounce_type', var('hard_bounce_types')) }},
            false
        ) as is_hard_bounce,

        -- timestamps
        activities.event_at,
        activities.validated_at

    from activities
    left join signals_by_event_type as signals
        on activities.event_type = signals.event_type

)

select * from final
