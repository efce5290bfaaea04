{#- Nothing vanishes: every landed raw event is an activity, a duplicate or
    quarantined, and the three add up to the raw row count. Returns a row when
    they do not. -#}

with

raw_events as (

    select count(*) as raw_count from {{ source('raw', 'events') }}

),

classified as (

    select sum(case when is_duplicate then 1 else 0 end) as duplicate_count
    from {{ ref('int_events_validated') }}

),

activities as (

    select count(*) as activity_count from {{ ref('fct_activities') }}

),

quarantined as (

    select count(*) as quarantined_count from {{ ref('fct_quarantined_events') }}

)

select
    raw_events.raw_count,
    activities.activity_count,
    classified.duplicate_count,
    quarantined.quarantined_count
from raw_events
cross join classified
cross join activities
cross join quarantined
where
    raw_events.raw_count
    != activities.activity_count + coalesce(classified.duplicate_count, 0) + quarantined.quarantined_count
