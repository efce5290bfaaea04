{#- The amounts, ratios and durations of the marts that no column test bounds:
    never negative where set (null = unknown or nothing to divide by), a revenue
    credit within its conversion's revenue, an intent score at least the lowest
    possible sum of its events' weights (0 while no weight is negative), a
    campaign's last activity not before its first, a forecast's end not before
    its start. Returns each mart and rule with the number of rows breaking it. -#}

with

lowest_weight as (

    select least(coalesce(min(intent_weight), 0), 0) as weight
    from {{ ref('fct_activities') }}

),

checks as (

    select
        'dim_contacts' as mart,
        'counts and revenue >= 0, intent scores >= events_total x the lowest weight'
            as broken_rule,
        count(*) as failing_rows
    from {{ ref('dim_contacts') }} as contacts
    cross join lowest_weight
    where
        not (
            contacts.events_total >= 0
            and contacts.lifetime_revenue >= 0
            and contacts.referrals_given >= 0
            and contacts.intent_score >= contacts.events_total * lowest_weight.weight
            and contacts.lifetime_intent_score >= contacts.events_total * lowest_weight.weight
        )

    union all

    select
        'rpt_campaign_performance' as mart,
        'last_activity_at >= first_activity_at' as broken_rule,
        count(*) as failing_rows
    from {{ ref('rpt_campaign_performance') }}
    where last_activity_at < first_activity_at

    union all

    select
        'rpt_attribution' as mart,
        '0 <= revenue_credit <= conversion_revenue, days_before_conversion >= 0' as broken_rule,
        count(*) as failing_rows
    from {{ ref('rpt_attribution') }}
    where
        not (
            revenue_credit >= 0
            and revenue_credit <= conversion_revenue
            and coalesce(days_before_conversion, 0) >= 0
        )

    union all

    select
        'rpt_attribution_channel_roi' as mart,
        'attributed counts and revenue, spend, roas, cost_per_sql, cpa >= 0' as broken_rule,
        count(*) as failing_rows
    from {{ ref('rpt_attribution_channel_roi') }}
    where
        not (
            attributed_sqls >= 0
            and attributed_customers >= 0
            and attributed_revenue >= 0
            and coalesce(spend, 0) >= 0
            and coalesce(roas, 0) >= 0
            and coalesce(cost_per_sql, 0) >= 0
            and coalesce(cpa, 0) >= 0
        )

    union all

    select
        'rpt_channel_cac_ltv' as mart,
        'revenue and the unit economics >= 0' as broken_rule,
        count(*) as failing_rows
    from {{ ref('rpt_channel_cac_ltv') }}
    where
        not (
            revenue >= 0
            and coalesce(cost_per_lead, 0) >= 0
            and coalesce(cac, 0) >= 0
            and coalesce(ltv, 0) >= 0
            and coalesce(ltv_to_cac, 0) >= 0
            and coalesce(monthly_revenue_per_customer, 0) >= 0
            and coalesce(payback_months, 0) >= 0
        )

    union all

    select
        'rpt_stage_velocity' as mart,
        'median_days and p75_days >= 0, skipped_contacts >= 0' as broken_rule,
        count(*) as failing_rows
    from {{ ref('rpt_stage_velocity') }}
    where
        not (
            coalesce(median_days, 0) >= 0
            and coalesce(p75_days, 0) >= 0
            and skipped_contacts >= 0
        )

    union all

    select
        'rpt_funnel_over_time' as mart,
        'target_contacts >= 0' as broken_rule,
        count(*) as failing_rows
    from {{ ref('rpt_funnel_over_time') }}
    where target_contacts < 0

    union all

    select
        'rpt_pipeline_forecast' as mart,
        'forecast_until >= forecast_as_of, durations and amounts >= 0' as broken_rule,
        count(*) as failing_rows
    from {{ ref('rpt_pipeline_forecast') }}
    where not (
        forecast_until >= forecast_as_of
        and horizon_days >= 0
        and coalesce(median_days_to_customer, 0) >= 0
        and coalesce(avg_customer_revenue, 0) >= 0
        and coalesce(expected_revenue, 0) >= 0
    )

)

select * from checks
where failing_rows > 0
