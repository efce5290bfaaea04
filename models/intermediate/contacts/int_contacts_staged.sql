{#- When each contact first met each funnel stage's rule, replayed over the
    activity stream. Stages are monotone: reaching a stage implies the lower
    ones, at the latest at the same time.
    Incremental: a run recomputes only the contacts with new activities. -#}

{{ config(
    materialized=incremental_materialization(),
    unique_key='contact_id',
    incremental_strategy='delete+insert',
) }}


{%- set mql_rule = in_list('event_type', var('mql_trigger_events'))
    ~ ' or running_score >= ' ~ var('mql_score_threshold') -%}
{%- set sql_rule = in_list('event_type', var('sql_trigger_events')) -%}
{%- if var('sql_score_threshold') is not none -%}
    {%- set sql_rule = sql_rule ~ ' or running_score >= ' ~ var('sql_score_threshold') -%}
{%- endif -%}

with

activities_in_scope as (

    select * from {{ ref('int_activities_enriched') }}
    {%- if is_incremental() %}
        where contact_id in ({{ contacts_with_new_activities(ref('int_activities_enriched')) }})
    {%- endif %}

),

running_scores as (

    select
        contact_id,
        event_type,
        event_at,
        sum(intent_weight) over (
            partition by contact_id
            order by event_at, activity_id
            rows between unbounded preceding and current row
        ) as running_score
    from activities_in_scope

),

criteria as (

    select
        contact_id,
        min(event_at) as became_lead_at,
        min(
            case
                when {{ mql_rule }} then event_at
            end
        ) as mql_criteria_at,
        min(
            case
                when {{ sql_rule }} then event_at
            end
        ) as sql_criteria_at,
        min(
            case when {{ in_list('event_type', var('customer_trigger_events')) }} then event_at end
        ) as became_customer_at
    from running_scores
    group by contact_id

),

opportunities as (

    select
        criteria.contact_id,
        min(activities_in_scope.event_at) as opportunity_criteria_at
    from criteria
    inner join activities_in_scope
        on
            criteria.contact_id = activities_in_scope.contact_id
            and criteria.sql_criteria_at <= activities_in_scope.event_at
    where {{ in_list('activities_in_scope.event_type', var('opportunity_trigger_events')) }}
    group by criteria.contact_id

),

opportunity_backfilled as (

    select
        criteria.*,
        {{ earliest('opportunities.opportunity_criteria_at', 'criteria.became_customer_at') }}
            as became_opportunity_at
    from criteria
    left join opportunities
        on criteria.contact_id = opportunities.contact_id

),

sql_backfilled as (

    select
        *,
        {{ earliest('sql_criteria_at', 'became_opportunity_at') }} as became_sql_at
    from opportunity_backfilled

),

final as (

    select
        -- ids
        contact_id,

        -- strings
        case
            when became_customer_at is not null then 'Customer'
            when became_opportunity_at is not null then 'Opportunity'
            when became_sql_at is not null then 'SQL'
            when {{ earliest('mql_criteria_at', 'became_sql_at') }} is not null then 'MQL'
            else 'Lead'
        end as funnel_stage,

        -- timestamps
        became_lead_at,
        {{ earliest('mql_criteria_at', 'became_sql_at') }} as became_mql_at,
        became_sql_at,
        became_opportunity_at,
        became_customer_at,
        {{ run_started_timestamp() }} as refreshed_at

    from sql_backfilled

)

select * from final
