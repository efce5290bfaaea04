{#- Who owns each queue item: a stateful table holding every item ever detected
    (so an action naming an id it does not hold is unknown), updated each run.

    Each run, an item detected now and not resolved (its latest action is not
    queue_item_resolved) is open. An open item the table already holds keeps
    its orchestrator, assigned_at and due_at while that orchestrator is active
    (orchestrators.is_active) in the item's department. Any other open item
    (new, or its owner left) goes to the contact's owner when that person is an
    active member of the item's department: the contacts sheet's
    assigned_orchestrator, else the orchestrator of the contact's latest kept
    open item (by detected_at, then queue_item_id). The rest are shared out by
    water-filling: each active member of the department gets the slots
    open_items + 1, open_items + 2, ... (open_items = the items they keep or
    just got as owner), the slots ordered by (slot, orchestrator) and the items
    by (priority, due_at, queue_item_id) are dealt one to one, so the least
    loaded get work first and loads end up within one of each other. A
    department without an active member leaves the item unassigned (null)
    until one is added. A newly assigned item is due the playbook's
    due_in_days after it was assigned (it cannot be due before anyone was
    told); a reassigned one keeps its due_at.

    An item that is no longer open is closed: closed_at is the time of its
    resolve action, or, when its rule stopped holding (say an outbound touch
    answered the reply), the as_of of the first run that no longer detected it.
    A detected item resolved before any run assigned it stays unassigned.

    Not rebuilt by `dbt build --full-refresh` (full_refresh: false), like a
    snapshot: who owns what is state, and a rebuild would deal every item out
    again (drop the table to start over). On Spark (no Delta Lake here) it is
    a plain table, so every run deals the items out afresh. -#}

{{ config(
    materialized=incremental_materialization(),
    unique_key='queue_item_id',
    incremental_strategy='delete+insert',
    full_refresh=false,
) }}

{%- set as_of = as_of_timestamp() -%}
{%- set held_columns = [
    'queue_item_id', 'contact_id', 'queue_type', 'owner_department', 'priority', 'orchestrator',
    'assigned_by', 'detected_at', 'due_at', 'assigned_at', 'closed_at', 'is_open',
] -%}

with

detected as (

    select * from {{ ref('int_queue_items_detected') }}

),

latest_actions as (

    select * from {{ ref('int_queue_actions') }}
    where is_latest

),

orchestrators as (

    select * from {{ ref('orchestrators') }}
    where is_active

),

contacts as (

    select * from {{ ref('int_contacts_joined') }}

),

held as (

    {% if is_incremental() -%}
        select {{ held_columns | join(', ') }}
        from {{ this }}
    {%- else -%}
        select
            queue_item_id,
            contact_id,
            queue_type,
            owner_department,
            priority,
            cast(null as {{ dbt.type_string() }}) as orchestrator,
            cast(null as {{ dbt.type_string() }}) as assigned_by,
            detected_at,
            detected_at as due_at,
            detected_at as assigned_at,
            detected_at as closed_at,
            true as is_open
        from detected
        where 1 = 0
    {%- endif %}

),

current_items as (

    select
        detected.*,
        coalesce(latest_actions.action != 'resolved', true) as is_open,
        case when latest_actions.action = 'resolved' then latest_actions.action_at end as resolved_at
    from detected
    left join latest_actions
        on detected.queue_item_id = latest_actions.queue_item_id

),

kept as (

    select
        current_items.queue_item_id,
        current_items.contact_id,
        current_items.detected_at,
        held.orchestrator,
        held.assigned_by,
        held.due_at,
        held.assigned_at
    from current_items
    inner join held
        on current_items.queue_item_id = held.queue_item_id
    inner join orchestrators
        on
            held.orchestrator = orchestrators.orchestrator
            and current_items.owner_department = orchestrators.department
    where current_items.is_open

),

latest_kept as (

    select
        contact_id,
        orchestrator,
        row_number() over (
            partition by contact_id
            order by detected_at desc, queue_item_id desc
        ) as recency_rank
    from kept

),

contact_owners as (

    {#- the sheet's owner, else the owner of the contact's latest kept open item -#}
    select
        contacts.contact_id,
        coalesce(contacts.assigned_orchestrator, latest_kept.orchestrator) as owner_name
    from contacts
    left join latest_kept
        on
            contacts.contact_id = latest_kept.contact_id
            and latest_kept.recency_rank = 1

),

to_assign as (

    select
        current_items.*,
        {{ dbt.dateadd('day', 'current_items.due_in_days', as_of) }} as new_due_at,
        orchestrators.orchestrator as contact_owner
    from current_items
    left join kept
        on current_items.queue_item_id = kept.queue_item_id
    left join contact_owners
        on current_items.contact_id = contact_owners.contact_id
    left join orchestrators
        on
            contact_owners.owner_name = orchestrators.orchestrator
            and current_items.owner_department = orchestrators.department
    where
        current_items.is_open
        and kept.queue_item_id is null

),

owned as (

    select orchestrator from kept

    union all

    select contact_owner as orchestrator
    from to_assign
    where contact_owner is not null

),

open_loads as (

    select
        orchestrators.orchestrator,
        orchestrators.department,
        count(owned.orchestrator) as open_items
    from orchestrators
    left join owned
        on orchestrators.orchestrator = owned.orchestrator
    group by orchestrators.orchestrator, orchestrators.department

),

balanced_items as (

    select
        queue_item_id,
        owner_department,
        row_number() over (
            partition by owner_department
            order by priority, new_due_at, queue_item_id
        ) as item_rank
    from to_assign
    where contact_owner is null

),

slots as (

    {#- slot j of each member, j = 1 .. the department's items to deal (the items'
        own ranks are the numbers, so no engine-specific series is needed) -#}
    select
        open_loads.orchestrator,
        open_loads.department,
        row_number() over (
            partition by open_loads.department
            order by open_loads.open_items + balanced_items.item_rank, open_loads.orchestrator
        ) as slot_rank
    from open_loads
    inner join balanced_items
        on open_loads.department = balanced_items.owner_department

),

dealt as (

    select
        balanced_items.queue_item_id,
        slots.orchestrator
    from balanced_items
    inner join slots
        on
            balanced_items.owner_department = slots.department
            and balanced_items.item_rank = slots.slot_rank

),

assigned as (

    select
        to_assign.queue_item_id,
        coalesce(to_assign.contact_owner, dealt.orchestrator) as orchestrator,
        case
            when to_assign.contact_owner is not null then 'contact_owner'
            when dealt.orchestrator is not null then 'least_open_work'
        end as assigned_by,
        coalesce(held.due_at, to_assign.new_due_at) as due_at,
        {{ as_of }} as assigned_at
    from to_assign
    left join dealt
        on to_assign.queue_item_id = dealt.queue_item_id
    left join held
        on to_assign.queue_item_id = held.queue_item_id

),

current_rows as (

    select
        current_items.queue_item_id,
        current_items.contact_id,
        current_items.queue_type,
        current_items.owner_department,
        current_items.priority,
        current_items.detected_at,
        current_items.is_open,
        coalesce(kept.orchestrator, assigned.orchestrator, held.orchestrator) as orchestrator,
        coalesce(kept.assigned_by, assigned.assigned_by, held.assigned_by) as assigned_by,
        coalesce(kept.due_at, assigned.due_at, held.due_at) as due_at,
        coalesce(kept.assigned_at, assigned.assigned_at, held.assigned_at) as assigned_at,
        case when not current_items.is_open then current_items.resolved_at end as closed_at
    from current_items
    left join kept
        on current_items.queue_item_id = kept.queue_item_id
    left join assigned
        on current_items.queue_item_id = assigned.queue_item_id
    left join held
        on current_items.queue_item_id = held.queue_item_id

),

cleared_rows as (

    {#- held open, no longer detected: its rule stopped holding -#}
    select
        held.queue_item_id,
        held.contact_id,
        held.queue_type,
        held.owner_department,
        held.priority,
        held.orchestrator,
        held.assigned_by,
        held.detected_at,
        held.due_at,
        held.assigned_at,
        {{ as_of }} as closed_at,
        false as is_open
    from held
    left join current_items
        on held.queue_item_id = current_items.queue_item_id
    where
        held.is_open
        and current_items.queue_item_id is null

),

final as (

    select
        -- ids
        queue_item_id,
        contact_id,

        -- strings
        queue_type,
        owner_department,
        orchestrator,
        assigned_by,

        -- numerics
        priority,

        -- booleans
        is_open,

        -- timestamps
        detected_at,
        due_at,
        assigned_at,
        closed_at

    from current_rows

    union all

    select
        queue_item_id,
        contact_id,
        queue_type,
        owner_department,
        orchestrator,
        assigned_by,
        priority,
        is_open,
        detected_at,
        due_at,
        assigned_at,
        closed_at
    from cleared_rows

)

select * from final
