{#- Any contact's whole story in one row: everything in dim_contacts, the
    first and last touch, counts per event type, the latest interactions (var
    contact_360_interactions), campaigns, purchases, and the next action from
    the orchestrator queue. -#}

with

contacts as (

    select * from {{ ref('dim_contacts') }}

),

activities as (

    select * from {{ ref('fct_activities') }}

),

revenue_types as (

    select event_type
    from {{ ref('lifecycle_signals') }}
    where signal = 'revenue'

),

queue as (

    select * from {{ ref('rpt_orchestrator_queue') }}

),

event_type_totals as (

    select
        contact_id,
        event_type,
        count(*) as events
    from activities
    group by contact_id, event_type

),

event_type_summaries as (

    select
        contact_id,
        {{ dbt.listagg(
            dbt.concat(['event_type', "'='", 'cast(events as ' ~ dbt.type_string() ~ ')']),
            "', '",
            'order by event_type'
        ) }} as event_type_counts
    from event_type_totals
    group by contact_id

),

ranked_interactions as (

    select
        contact_id,
        activity_id,
        event_at,
        {{ dbt.concat([
            'substring(cast(event_at as ' ~ dbt.type_string() ~ '), 1, 16)',
            "' '",
            'event_type',
            "' ('",
            'channel',
            "')'",
        ]) }} as interaction,
        row_number() over (
            partition by contact_id
            order by event_at desc, activity_id desc
        ) as recency_rank
    from activities

),

interaction_summaries as (

    select
        contact_id,
        {{ dbt.listagg('interaction', "' | '", 'order by event_at desc, activity_id desc') }}
            as last_interactions
    from ranked_interactions
    where recency_rank <= {{ var('contact_360_interactions') }}
    group by contact_id

),

contact_campaigns as (

    select distinct
        contact_id,
        campaign_id
    from activities
    where campaign_id is not null

),

campaign_summaries as (

    select
        contact_id,
        {{ dbt.listagg('campaign_id', "', '", 'order by campaign_id') }} as campaigns
    from contact_campaigns
    group by contact_id

),

purchase_summaries as (

    select
        activities.contact_id,
        count(*) as purchases
    from activities
    inner join revenue_types
        on activities.event_type = revenue_types.event_type
    group by activities.contact_id

),

ranked_queue_items as (

    select
        contact_id,
        queue_item_id,
        recommended_action,
        orchestrator,
        priority,
        due_at,
        queue_type,
        row_number() over (
            partition by contact_id
            order by priority, due_at, queue_type
        ) as action_rank,
        row_number() over (
            partition by contact_id
            order by detected_at desc, queue_item_id desc
        ) as recency_rank,
        count(*) over (partition by contact_id) as open_queue_items
    from queue

),

next_actions as (

    select * from ranked_queue_items
    where action_rank = 1

),

latest_item_owners as (

    select
        contact_id,
        orchestrator
    from ranked_queue_items
    where recency_rank = 1

),

open_item_lists as (

    select
        contact_id,
        {{ dbt.listagg('queue_item_id', "', '", 'order by priority, due_at, queue_type') }}
            as open_queue_item_ids
    from ranked_queue_items
    group by contact_id

),

ranked_logged_interactions as (

    select
        contact_id,
        activity_id,
        event_at,
        {{ dbt.concat([
            'substring(cast(event_at as ' ~ dbt.type_string() ~ '), 1, 16)',
            "' '",
            "coalesce(interaction_direction, '?')",
            "' '",
            "coalesce(interaction_channel, '?')",
            "': '",
            "coalesce(action_outcome, '?')",
        ]) }} as interaction,
        row_number() over (
            partition by contact_id
            order by event_at desc, activity_id desc
        ) as recency_rank
    from activities
    where event_type = 'interaction_logged'

),

logged_interaction_summaries as (

    select
        contact_id,
        {{ dbt.listagg('interaction', "' | '", 'order by event_at desc, activity_id desc') }}
            as last_logged_interactions
    from ranked_logged_interactions
    where recency_rank <= {{ var('contact_360_interactions') }}
    group by contact_id

),

final as (

    select
        -- ids
        contacts.contact_id,

        -- strings
        contacts.email,
        contacts.company,
        contacts.industry,
        contacts.first_touch_channel,
        contacts.lead_source,
        contacts.funnel_stage,
        contacts.lifecycle_state,
        contacts.lifecycle_funnel,
        contacts.nurture_track,
        event_type_summaries.event_type_counts,
        interaction_summaries.last_interactions,
        campaign_summaries.campaigns,
        next_actions.recommended_action as next_action,
        coalesce(contacts.assigned_orchestrator, latest_item_owners.orchestrator) as owner,  -- noqa: RF04
        open_item_lists.open_queue_item_ids,
        logged_interaction_summaries.last_logged_interactions,

        -- numerics
        contacts.stage_order,
        contacts.lifetime_intent_score,
        contacts.intent_score,
        contacts.events_total,
        cast(coalesce(purchase_summaries.purchases, 0) as {{ dbt.type_bigint() }}) as purchases,
        contacts.lifetime_revenue,
        contacts.referrals_given,
        contacts.reengagement_attempts,
        cast(coalesce(next_actions.open_queue_items, 0) as {{ dbt.type_bigint() }}) as open_queue_items,

        -- booleans
        contacts.is_opted_out,
        contacts.is_manual_override,

        -- timestamps
        contacts.became_lead_at,
        contacts.became_mql_at,
        contacts.became_sql_at,
        contacts.became_opportunity_at,
        contacts.became_customer_at,
        contacts.lifecycle_state_since,
        contacts.first_activity_at as first_touch_at,
        contacts.last_activity_at as last_touch_at,
        contacts.last_engagement_at,
        contacts.last_outbound_touch_at,
        contacts.last_signal_at,
        contacts.dormant_since,
        contacts.last_reengagement_attempt_at,
        contacts.state_as_of,
        next_actions.due_at as next_action_due_at

    from contacts
    left join event_type_summaries
        on contacts.contact_id = event_type_summaries.contact_id
    left join interaction_summaries
        on contacts.contact_id = interaction_summaries.contact_id
    left join campaign_summaries
        on contacts.contact_id = campaign_summaries.contact_id
    left join purchase_summaries
        on contacts.contact_id = purchase_summaries.contact_id
    left join next_actions
        on contacts.contact_id = next_actions.contact_id
    left join latest_item_owners
        on contacts.contact_id = latest_item_owners.contact_id
    left join open_item_lists
        on contacts.contact_id = open_item_lists.contact_id
    left join logged_interaction_summaries
        on contacts.contact_id = logged_interaction_summaries.contact_id

)

select * from final
