{#- One row per contact, everything dim_contacts shows: identity, first touch,
    intent score, funnel stage with the time each stage was reached, lifecycle
    state and funnel, and the nurture track (None for a suppressed contact, see
    int_contacts_suppressed, or one in a non-contactable state); whether the
    address is deliverable; for a contact in the contacts sheet, the sheet's
    columns (its latest row). -#}

with

profiles as (

    select * from {{ ref('int_contacts_profiled') }}

),

scores as (

    select * from {{ ref('int_contacts_scored') }}

),

stages as (

    select * from {{ ref('int_contacts_staged') }}

),

lifecycles as (

    select * from {{ ref('int_contacts_lifecycle_evaluated') }}

),

stage_tracks as (

    select
        funnel_stage,
        stage_order,
        nurture_track
    from {{ ref('funnel_stages') }}

),

state_funnels as (

    select
        lifecycle_state,
        lifecycle_funnel,
        is_contactable
    from {{ ref('lifecycle_states') }}

),

sheet_contacts as (

    select * from {{ ref('int_sheet_contacts_deduplicated') }}

),

suppressions as (

    select * from {{ ref('int_contacts_suppressed') }}

),

final as (

    select
        -- ids
        profiles.contact_id,

        -- strings
        profiles.email,
        profiles.company,
        profiles.industry,
        profiles.first_touch_channel,
        profiles.lead_source,
        stages.funnel_stage,
        case
            when suppressions.contact_id is not null or not state_funnels.is_contactable
                then '{{ var("opted_out_nurture_track") }}'
            else stage_tracks.nurture_track
        end as nurture_track,
        lifecycles.lifecycle_state,
        case
            when
                lifecycles.lifecycle_state = 'Cold'
                and lifecycles.last_signal_at
                >= {{ dbt.dateadd('day', -1 * var('signal_fresh_days'), as_of_timestamp()) }}
                then 'Signal'
            else state_funnels.lifecycle_funnel
        end as lifecycle_funnel,
        sheet_contacts.full_name,
        sheet_contacts.phone,
        sheet_contacts.role,
        sheet_contacts.country,
        sheet_contacts.timezone,
        sheet_contacts.lead_status as sheet_lead_status,
        sheet_contacts.owner as assigned_orchestrator,
        sheet_contacts.tags as sheet_tags,
        suppressions.reason as suppression_reason,

        -- numerics
        stage_tracks.stage_order,
        scores.lifetime_intent_score,
        scores.intent_score,
        profiles.events_total,
        lifecycles.lifetime_revenue,
        lifecycles.referrals_given,
        lifecycles.reengagement_attempts,

        -- booleans
        coalesce(suppressions.reason in ('unsubscribed', 'complained'), false) as is_opted_out,
        coalesce(suppressions.is_email_deliverable, true) as is_email_deliverable,
        lifecycles.is_manual_override,

        -- timestamps
        stages.became_lead_at,
        stages.became_mql_at,
        stages.became_sql_at,
        stages.became_opportunity_at,
        stages.became_customer_at,
        profiles.first_activity_at,
        profiles.last_activity_at,
        profiles.last_engagement_at,
        lifecycles.lifecycle_state_since,
        lifecycles.last_outbound_touch_at,
        lifecycles.last_signal_at,
        lifecycles.dormant_since,
        lifecycles.last_reengagement_attempt_at,
        sheet_contacts.added_at as sheet_added_at,
        {{ as_of_timestamp() }} as state_as_of

    from profiles
    inner join scores
        on profiles.contact_id = scores.contact_id
    inner join stages
        on profiles.contact_id = stages.contact_id
    inner join lifecycles
        on profiles.contact_id = lifecycles.contact_id
    inner join stage_tracks
        on stages.funnel_stage = stage_tracks.funnel_stage
    inner join state_funnels
        on lifecycles.lifecycle_state = state_funnels.lifecycle_state
    left join sheet_contacts
        on profiles.contact_id = sheet_contacts.contact_id
    left join suppressions
        on profiles.contact_id = suppressions.contact_id

)

select * from final
