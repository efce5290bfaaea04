{#- The orchestrator queue: one row per open item (int_queue_items_assigned:
    detected, not resolved), with its playbook entry, its owner and its work
    bucket. The latest action wins: an item snoozed until after as_of is
    `snoozed`, an escalated one `escalated` (its manager in escalated_to); a
    snooze that has ended returns the item to the owner's list. Each
    orchestrator's list (the rest), ordered by (priority, due_at,
    queue_item_id), fills `today` up to the var queue_daily_capacity and
    spills into `backlog`; an unassigned item (its department has no active
    orchestrator) is backlog. -#}

{%- set as_of = as_of_timestamp() -%}

with

items as (

    select * from {{ ref('int_queue_items_assigned') }}
    where is_open

),

detected as (

    select * from {{ ref('int_queue_items_detected') }}

),

latest_actions as (

    select * from {{ ref('int_queue_actions') }}
    where is_latest

),

open_items as (

    select
        items.queue_item_id,
        items.orchestrator,
        items.assigned_by,
        items.due_at,
        items.assigned_at,
        detected.contact_id,
        detected.email,
        detected.queue_type,
        detected.title,
        detected.recommended_action,
        detected.owner_department,
        detected.lifecycle_state,
        detected.funnel_stage,
        detected.priority,
        detected.sends_marketing,
        detected.detected_at,
        case
            when latest_actions.action = 'snoozed' and latest_actions.snoozed_until > {{ as_of }}
                then latest_actions.snoozed_until
        end as snoozed_until,
        case when latest_actions.action = 'escalated' then latest_actions.escalated_to end as escalated_to
    from items
    inner join detected
        on items.queue_item_id = detected.queue_item_id
    left join latest_actions
        on items.queue_item_id = latest_actions.queue_item_id

),

ranked as (

    select
        *,
        case
            when orchestrator is not null and snoozed_until is null and escalated_to is null
                then row_number() over (
                    partition by
                        orchestrator,
                        snoozed_until is null and escalated_to is null
                    order by priority, due_at, queue_item_id
                )
        end as orchestrator_load_rank
    from open_items

),

final as (

    select
        -- ids
        queue_item_id,
        contact_id,

        -- strings
        email,
        queue_type,
        title,
        recommended_action,
        owner_department,
        lifecycle_state,
        funnel_stage,
        orchestrator,
        assigned_by,
        case
            when escalated_to is not null then 'escalated'
            when snoozed_until is not null then 'snoozed'
            when orchestrator_load_rank <= {{ var('queue_daily_capacity') }} then 'today'
            else 'backlog'
        end as work_bucket,
        escalated_to,

        -- numerics
        priority,
        cast(orchestrator_load_rank as {{ dbt.type_bigint() }}) as orchestrator_load_rank,

        -- booleans
        sends_marketing,

        -- timestamps
        detected_at,
        assigned_at,
        due_at,
        snoozed_until

    from ranked

)

select * from final
