{#- One row per contact (normalised email) with identity and activity span:
    channel and lead source of first touch, latest known company and industry.
    Incremental: a run recomputes only the contacts with new activities. -#}

{{ config(
    materialized=incremental_materialization(),
    unique_key='contact_id',
    incremental_strategy='delete+insert',
) }}

with

activities_in_scope as (

    select * from {{ ref('int_activities_enriched') }}
    {%- if is_incremental() %}
        where contact_id in ({{ contacts_with_new_activities(ref('int_activities_enriched')) }})
    {%- endif %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by contact_id
            order by event_at, activity_id
        ) as first_touch_rank,
        row_number() over (
            partition by contact_id
            order by case when lead_source is null then 1 else 0 end, event_at, activity_id
        ) as lead_source_rank,
        row_number() over (
            partition by contact_id
            order by case when company is null then 1 else 0 end, event_at desc, activity_id desc
        ) as company_rank,
        row_number() over (
            partition by contact_id
            order by case when industry is null then 1 else 0 end, event_at desc, activity_id desc
        ) as industry_rank
    from activities_in_scope

),

aggregated as (

    select
        contact_id,
        max(email) as email,
        max(case when company_rank = 1 then company end) as company,
        max(case when industry_rank = 1 then industry end) as industry,
        max(case when first_touch_rank = 1 then channel end) as first_touch_channel,
        coalesce(
            max(case when lead_source_rank = 1 then lead_source end),
            max(case when first_touch_rank = 1 then channel end)
        ) as lead_source,
        count(*) as events_total,
        min(event_at) as first_activity_at,
        max(event_at) as last_activity_at,
        max(case when is_engagement then event_at end) as last_engagement_at
    from ranked
    group by contact_id

),

final as (

    select
        -- ids
        contact_id,

        -- strings
        email,
        company,
        industry,
        first_touch_channel,
        lead_source,

        -- numerics
        events_total,

        -- timestamps
        first_activity_at,
        last_activity_at,
        last_engagement_at,
        {{ run_started_timestamp() }} as refreshed_at

    from aggregated

)

select * from final
