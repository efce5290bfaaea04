{#- Queue health for managers: one row per orchestrator (every one in the
    orchestrators seed, with their department) and UTC day, for the var
    queue_health_days days up to as_of. An item counts for its current (or
    last) owner (int_queue_items_assigned); unassigned items are left out.
    open_items: detected before the day ended and not closed by then;
    due_today_items: those due during the day; overdue_items: those due
    before the day began. resolved_items: closed during the day (resolved, or
    their rule stopped holding), with the median and 90th percentile of their
    hours from detection to close and their outcomes ('outcome=n', an unstated
    outcome as 'unspecified'); escalations: queue_item_escalated actions on
    the owner's items that day. -#}

{%- set as_of = as_of_timestamp() -%}
{%- set as_of_day = 'cast(cast(' ~ as_of ~ ' as date) as ' ~ dbt.type_timestamp() ~ ')' -%}

with

orchestrators as (

    select * from {{ ref('orchestrators') }}

),

items as (

    select * from {{ ref('int_queue_items_assigned') }}
    where orchestrator is not null

),

history as (

    select * from {{ ref('fct_queue_item_history') }}
    where orchestrator is not null

),

day_numbers as (

    {{ numbers(var('queue_health_days')) }}

),

days as (

    select
        {{ dbt.dateadd('day', '-1 * n', as_of_day) }} as day_start,
        {{ dbt.dateadd('day', '1 - n', as_of_day) }} as day_end
    from day_numbers

),

open_counts as (

    select
        items.orchestrator,
        days.day_start,
        count(*) as open_items,
        sum(
            case when items.due_at >= days.day_start and items.due_at < days.day_end then 1 else 0 end
        ) as due_today_items,
        sum(case when items.due_at < days.day_start then 1 else 0 end) as overdue_items
    from items
    inner join days
        on
            items.detected_at < days.day_end
            and coalesce(items.closed_at >= days.day_end, true)
    group by items.orchestrator, days.day_start

),

closes as (

    {#- an item's close: its resolve (the last one when it has several) or its cleared row -#}
    select
        history.orchestrator,
        history.queue_item_id,
        coalesce(history.outcome, 'unspecified') as outcome,
        history.action_at as closed_at,
        cast(
            {{ dbt.datediff('items.detected_at', 'history.action_at', 'second') }}
            as {{ type_double() }}
        ) / 3600 as hours_to_close
    from history
    inner join items
        on
            history.queue_item_id = items.queue_item_id
            and history.action_at = items.closed_at
    where
        history.action = 'resolved'
        and not items.is_open

),

close_counts as (

    select
        closes.orchestrator,
        days.day_start,
        count(*) as resolved_items,
        {{ percentile('closes.hours_to_close', 0.5) }} as median_hours_to_resolve,
        {{ percentile('closes.hours_to_close', 0.9) }} as p90_hours_to_resolve
    from closes
    inner join days
        on
            closes.closed_at >= days.day_start
            and closes.closed_at < days.day_end
    group by closes.orchestrator, days.day_start

),

outcome_totals as (

    select
        closes.orchestrator,
        days.day_start,
        closes.outcome,
        count(*) as items
    from closes
    inner join days
        on
            closes.closed_at >= days.day_start
            and closes.closed_at < days.day_end
    group by closes.orchestrator, days.day_start, closes.outcome

),

outcome_summaries as (

    select
        orchestrator,
        day_start,
        {{ dbt.listagg(
            dbt.concat(['outcome', "'='", 'cast(items as ' ~ dbt.type_string() ~ ')']),
            "', '",
            'order by outcome'
        ) }} as outcomes
    from outcome_totals
    group by orchestrator, day_start

),

escalation_counts as (

    select
        history.orchestrator,
        days.day_start,
        count(*) as escalations
    from history
    inner join days
        on
            history.action_at >= days.day_start
            and history.action_at < days.day_end
    where history.action = 'escalated'
    group by history.orchestrator, days.day_start

),

final as (

    select
        -- strings
        orchestrators.orchestrator,
        orchestrators.department,
        outcome_summaries.outcomes,

        -- numerics
        cast(coalesce(open_counts.open_items, 0) as {{ dbt.type_bigint() }}) as open_items,
        cast(coalesce(open_counts.due_today_items, 0) as {{ dbt.type_bigint() }}) as due_today_items,
        cast(coalesce(open_counts.overdue_items, 0) as {{ dbt.type_bigint() }}) as overdue_items,
        cast(coalesce(close_counts.resolved_items, 0) as {{ dbt.type_bigint() }}) as resolved_items,
        cast(close_counts.median_hours_to_resolve as {{ type_double() }}) as median_hours_to_resolve,
        cast(close_counts.p90_hours_to_resolve as {{ type_double() }}) as p90_hours_to_resolve,
        cast(coalesce(escalation_counts.escalations, 0) as {{ dbt.type_bigint() }}) as escalations,

        -- dates
        cast(days.day_start as date) as health_date

    from orchestrators
    cross join days
    left join open_counts
        on
            orchestrators.orchestrator = open_counts.orchestrator
            and days.day_start = open_counts.day_start
    left join close_counts
        on
            orchestrators.orchestrator = close_counts.orchestrator
            and days.day_start = close_counts.day_start
    left join outcome_summaries
        on
            orchestrators.orchestrator = outcome_summaries.orchestrator
            and days.day_start = outcome_summaries.day_start
    left join escalation_counts
        on
            orchestrators.orchestrator = escalation_counts.orchestrator
            and days.day_start = escalation_counts.day_start

)

select * from final
