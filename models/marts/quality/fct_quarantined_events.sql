{#- One row per landed event that breaks a validation rule, with the reason and
    the original payload, so nothing is dropped silently. -#}

with

events as (

    select * from {{ ref('int_events_validated') }}

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

    from events
    where not is_duplicate and rejection_reason is not null

)

select * from final
