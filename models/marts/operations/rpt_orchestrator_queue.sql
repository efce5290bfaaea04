{#- The orchestrator queue, rebuilt each run: one row per open item (contact
    and queue type) with its playbook entry and the orchestrator it is
    assigned to. Within each owning department, items ordered by (priority,
    due_at, contact_id, queue_type) go round-robin to the department's
    orchestrators in name order, so loads differ by at most one item. -#}

with

queue_items as (

    select * from {{ ref('int_queue_items_detected') }}

),

orchestrators as (

    select * from {{ ref('orchestrators') }}

),

numbered_items as (

    select
        *,
        row_number() over (
            partition by owner_department
            order by priority, due_at, contact_id, queue_type
        ) - 1 as department_position
    from queue_items

),

numbered_orchestrators as (

    select
        orchestrator,
        department,
        row_number() over (
            partition by department
            order by orchestrator
        ) - 1 as orchestrator_position,
        count(*) over (partition by department) as department_orchestrators
    from orchestrators

),

assigned as (

    select
        numbered_items.*,
        numbered_orchestrators.orchestrator
    from numbered_items
    left join numbered_orchestrators
        on
            numbered_items.owner_department = numbered_orchestrators.department
            and numbered_items.department_position % numbered_orchestrators.department_orchestrators
            = numbered_orchestrators.orchestrator_position

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

        -- numerics
        priority,
        cast(case
            when orchestrator is not null
                then row_number() over (
                    partition by orchestrator
                    order by priority, due_at, contact_id, queue_type
                )
        end as {{ dbt.type_bigint() }}) as orchestrator_load_rank,

        -- booleans
        sends_marketing,

        -- timestamps
        detected_at,
        due_at

    from assigned

)

select * from final
