{#- One row per contact: identity, first touch, intent score, funnel stage with
    the time each stage was reached, and the nurture track. -#}

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

funnel_stages as (

    select * from {{ ref('funnel_stages') }}

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
            when profiles.is_opted_out then '{{ var("opted_out_nurture_track") }}'
            else funnel_stages.nurture_track
        end as nurture_track,

        -- numerics
        funnel_stages.stage_order,
        scores.lifetime_intent_score,
        scores.intent_score,
        profiles.events_total,

        -- booleans
        profiles.is_opted_out,

        -- timestamps
        stages.became_lead_at,
        stages.became_mql_at,
        stages.became_sql_at,
        stages.became_opportunity_at,
        stages.became_customer_at,
        profiles.first_activity_at,
        profiles.last_activity_at,
        profiles.last_engagement_at

    from profiles
    inner join scores
        on profiles.contact_id = scores.contact_id
    inner join stages
        on profiles.contact_id = stages.contact_id
    inner join funnel_stages
        on stages.funnel_stage = funnel_stages.funnel_stage

)

select * from final
