{#- When each contact first met each funnel stage's rule, replayed over the
    activity stream. Stages are monotone: reaching a stage implies the lower
    ones, at the latest at the same time. -#}

{%- set mql_rule = in_list('event_type', var('mql_trigger_events'))
    ~ ' or running_score >= ' ~ var('mql_score_threshold') -%}
{%- set sql_rule = in_list('event_type', var('sql_trigger_events')) -%}
{%- if var('sql_score_threshold') is not none -%}
    {%- set sql_rule = sql_rule ~ ' or running_score >= ' ~ var('sql_score_threshold') -%}
{%- endif -%}

with

activities as (

    select * from {{ ref('fct_activities') }}

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
    from activities

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
        min(activities.event_at) as opportunity_criteria_at
    from criteria
    inner join activities
        on
            criteria.contact_id = activities.contact_id
            and criteria.sql_criteria_at <= activities.event_at
    where {{ in_list('activities.event_type', var('opportunity_trigger_events')) }}
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
        became_customer_at

    from sql_backfilled

)

select * from final
