{#- One row per queue action event (queue_item_resolved, queue_item_snoozed,
    queue_item_escalated) at or before as_of: the item it names, who acted and
    when, and what they said; is_latest marks each item's latest action (by
    action_at, then activity_id), the one that wins. The action is the event type without its
    `queue_item_` prefix. Whether the item exists is decided downstream
    (int_queue_items_assigned holds every item ever detected). -#}

{%- set as_of = as_of_timestamp() -%}

with

activities as (

    select * from {{ ref('int_activities_enriched') }}
    where
        event_category = 'queue'
        and event_at <= {{ as_of }}

),

final as (

    select
        -- ids
        activity_id,
        queue_item_id,
        contact_id,

        -- strings
        email,
        replace(event_type, 'queue_item_', '') as action,
        action_by,
        action_outcome as outcome,
        escalated_to,
        action_reason as reason,

        -- booleans
        row_number() over (
            partition by queue_item_id
            order by event_at desc, activity_id desc
        ) = 1 as is_latest,

        -- timestamps
        event_at as action_at,
        snoozed_until

    from activities

)

select * from final
