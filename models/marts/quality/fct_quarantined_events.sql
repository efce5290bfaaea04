{#- One row per landed event that breaks a validation rule, with the reason and
    the original payload, so nothing is dropped silently. A queue action naming
    an item that was never detected (int_queue_items_assigned holds them all) is
    listed too, with the reason 'unknown queue_item_id <id>': it acts on
    nothing. -#}

with

events as (

    select * from {{ ref('int_events_validated') }}

),

actions as (

    select * from {{ ref('int_queue_actions') }}

),

queue_items as (

    select * from {{ ref('int_queue_items_assigned') }}

),

rejected as (

    select
        event_key,
        load_id,
        rejection_reason,
        event_type_input,
        event_time_text,
        payload,
        source_file,
        source_position,
        loaded_at
    from events
    where not is_duplicate and rejection_reason is not null

    union all

    select
        events.event_key,
        events.load_id,
        {{ dbt.concat(["'unknown queue_item_id '", 'actions.queue_item_id']) }} as rejection_reason,
        events.event_type_input,
        events.event_time_text,
        events.payload,
        events.source_file,
        events.source_position,
        events.loaded_at
    from actions
    inner join events
        on
            actions.activity_id = events.event_key
            and not events.is_duplicate
    left join queue_items
        on actions.queue_item_id = queue_items.queue_item_id
    where queue_items.queue_item_id is null

),

final as (

    select
        -- ids
        event_key,
        load_id,

        -- strings
        rejection_reason,
        event_type_input,
        event_time_text,
        payload,
        source_file,

        -- numerics
        source_position,

        -- dates
        cast(loaded_at as date) as quarantined_date,

        -- timestamps
        loaded_at

    from rejected

)

select * from final
