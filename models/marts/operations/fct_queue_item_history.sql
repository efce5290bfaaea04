{#- One row per queue item and action: its detection (when its rule started
    to hold), every queue action event naming it (resolved, snoozed,
    escalated: who, when, what they said, the event's activity_id), and, when
    its rule stopped holding without a resolve (an outbound touch answered the
    reply, the hot lead acted again), a `resolved` row with outcome
    'condition_cleared' at the closing run's as_of. The item's owner is its
    current (or last) orchestrator. An action naming an item never detected is
    not here: fct_quarantined_events lists it. -#}

with

items as (

    select * from {{ ref('int_queue_items_assigned') }}

),

actions as (

    select * from {{ ref('int_queue_actions') }}

),

contacts as (

    select * from {{ ref('dim_contacts') }}

),

latest_actions as (

    select * from actions
    where is_latest

),

detections as (

    select
        queue_item_id,
        'detected' as action,  -- noqa: RF04
        detected_at as action_at,
        cast(null as {{ dbt.type_string() }}) as action_by,
        cast(null as {{ dbt.type_string() }}) as outcome,
        cast(null as {{ dbt.type_timestamp() }}) as snoozed_until,
        cast(null as {{ dbt.type_string() }}) as escalated_to,
        cast(null as {{ dbt.type_string() }}) as reason,
        cast(null as {{ dbt.type_string() }}) as activity_id
    from items

),

acted as (

    select
        actions.queue_item_id,
        actions.action,
        actions.action_at,
        actions.action_by,
        actions.outcome,
        actions.snoozed_until,
        actions.escalated_to,
        actions.reason,
        actions.activity_id
    from actions
    inner join items
        on actions.queue_item_id = items.queue_item_id

),

cleared as (

    select
        items.queue_item_id,
        'resolved' as action,  -- noqa: RF04
        items.closed_at as action_at,
        cast(null as {{ dbt.type_string() }}) as action_by,
        'condition_cleared' as outcome,
        cast(null as {{ dbt.type_timestamp() }}) as snoozed_until,
        cast(null as {{ dbt.type_string() }}) as escalated_to,
        cast(null as {{ dbt.type_string() }}) as reason,
        cast(null as {{ dbt.type_string() }}) as activity_id
    from items
    left join latest_actions
        on items.queue_item_id = latest_actions.queue_item_id
    where
        not items.is_open
        and latest_actions.action is distinct from 'resolved'

),

history as (

    select * from detections
    union all
    select * from acted
    union all
    select * from cleared

),

final as (

    select
        -- ids
        {{ surrogate_key(['history.queue_item_id', 'history.action', 'history.activity_id']) }}
            as history_id,
        history.queue_item_id,
        items.contact_id,
        history.activity_id,

        -- strings
        contacts.email,
        items.queue_type,
        items.owner_department,
        items.orchestrator,
        history.action,
        history.action_by,
        history.outcome,
        history.escalated_to,
        history.reason,

        -- timestamps
        history.action_at,
        history.snoozed_until

    from history
    inner join items
        on history.queue_item_id = items.queue_item_id
    left join contacts
        on items.contact_id = contacts.contact_id

)

select * from final
