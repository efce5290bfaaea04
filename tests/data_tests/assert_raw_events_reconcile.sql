{#- Nothing vanishes: every landed raw event of the loads this build saw is an
    activity, a duplicate, quarantined or a queue action, and they add up to the
    raw row count; and every load committed before the run started was seen. (A load that
    commits while the build runs is picked up by the next build.) Returns a row
    when either fails. Contacts imported from the contacts sheet are events of
    sheet loads, not of raw.events, and are left out of both sides. A valid
    queue action is a fourth kind (it acts on the queue, not the contact); one
    naming an unknown item is also listed in the quarantine mart and is
    counted once, as a queue action. -#}

with

validated as (

    select * from {{ ref('int_events_validated') }}
    where source_format != 'sheet:contacts'

),

seen_loads as (

    select distinct load_id from validated

),

raw_events as (

    select count(*) as raw_count
    from {{ source('raw', 'events') }}
    where load_id in (select seen_loads.load_id from seen_loads)

),

unseen_events as (

    select count(*) as unseen_count
    from {{ source('raw', 'events') }} as events
    inner join {{ source('raw', 'loads') }} as loads
        on events.load_id = loads.load_id
    where
        loads.finished_at < cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
        and events.load_id not in (select seen_loads.load_id from seen_loads)

),

classified as (

    select
        sum(case when is_duplicate then 1 else 0 end) as duplicate_count,
        sum(case when not is_duplicate and rejection_reason is null and event_category = 'queue' then 1 else 0 end)
            as queue_action_count
    from validated

),

activities as (

    select count(*) as activity_count
    from {{ ref('fct_activities') }}
    where load_id in (select seen_loads.load_id from seen_loads)

),

quarantined as (

    select count(*) as quarantined_count
    from {{ ref('fct_quarantined_events') }}
    where
        load_id in (select seen_loads.load_id from seen_loads)
        -- an action on an unknown queue item is also a queue action
        and rejection_reason not like 'unknown queue_item_id %'

)

select
    raw_events.raw_count,
    unseen_events.unseen_count,
    activities.activity_count,
    classified.duplicate_count,
    classified.queue_action_count,
    quarantined.quarantined_count
from raw_events
cross join unseen_events
cross join classified
cross join activities
cross join quarantined
where
    unseen_events.unseen_count > 0
    or raw_events.raw_count
    != activities.activity_count + coalesce(classified.duplicate_count, 0) + quarantined.quarantined_count
    + coalesce(classified.queue_action_count, 0)
