{#- Recent lifecycle movements: every transition of the last
    `recent_movement_days` days up to as_of, with the contact's email, so a
    person can see who moved where and why. -#}

with

transitions as (

    select * from {{ ref('fct_lifecycle_transitions') }}

),

contacts as (

    select * from {{ ref('dim_contacts') }}

),

recent_transitions as (

    select *
    from transitions
    where
        transitioned_at >= {{ dbt.dateadd('day', -1 * var('recent_movement_days'), as_of_timestamp()) }}
        and transitioned_at <= {{ as_of_timestamp() }}

),

final as (

    select
        -- ids
        recent_transitions.transition_id,
        recent_transitions.contact_id,
        recent_transitions.trigger_activity_id,

        -- strings
        contacts.email,
        recent_transitions.from_state,
        recent_transitions.to_state,
        recent_transitions.trigger,
        recent_transitions.set_by,

        -- booleans
        recent_transitions.is_manual_override,

        -- timestamps
        recent_transitions.transitioned_at

    from recent_transitions
    inner join contacts
        on recent_transitions.contact_id = contacts.contact_id

)

select * from final
