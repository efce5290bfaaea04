{#- One row per valid, first-seen queue action event (queue_item_resolved,
    queue_item_snoozed, queue_item_escalated) at or before as_of (they are not
    activities of the contact, so they come from int_events_validated): the item it names, who acted and
    when, and what they said; is_latest marks each item's latest action (by
    action_at, then activity_id), the one that wins. The action is the event type without its
    `queue_item_` prefix. Whether the item exists is decided downstream
    (int_queue_items_assigned holds every item ever detected). -#}

{%- set as_of = as_of_timestamp() -%}

with

events as (

    select * from {{ ref('int_events_validated') }}
    where
        event_category = 'queue'
        and not is_duplicate
        and rejection_reason is null
        and event_at <= {{ as_of }}

),

named as (

    select
        *,
        replace(event_type, 'queue_item_', '') as action_name,
        row_number() over (
            partition by queue_item_id
            order by event_at desc, event_key desc
        ) = 1 as is_latest_action
    from events

),

final as (

    select
        -- ids
        event_key as activity_id,
        queue_item_id,
        contact_id,

        -- strings
        email,
        action_name as action,  -- noqa: RF04
        action_by,
        action_outcome as outcome,
        escalated_to,
        action_reason as reason,

        -- booleans
        is_latest_action as is_latest,

        -- timestamps
        event_at as action_at,
        snoozed_until

    from named

)

select * from final
