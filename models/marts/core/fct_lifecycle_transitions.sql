{#- The lifecycle audit log: one row per change of a contact's lifecycle state
    (and one for the state it enters with), replayed over the activity stream. -#}

with

moments as (

    select * from {{ ref('int_lifecycle_moments_evaluated') }}

),

compared as (

    select
        *,
        lag(lifecycle_state) over contact_moments as from_state,
        lag(is_manual_override) over contact_moments as is_from_manual_override,
        row_number() over contact_moments as moment_number
    from moments
    window contact_moments as (
        partition by contact_id
        order by moment_at
    )

),

changes as (

    select
        *,
        row_number() over (
            partition by contact_id
            order by moment_at
        ) as transition_number
    from compared
    where moment_number = 1 or from_state != lifecycle_state

),

final as (

    select
        -- ids
        {{ surrogate_key(['contact_id', 'moment_at']) }} as transition_id,
        contact_id,
        trigger_activity_id,

        -- strings
        from_state,
        lifecycle_state as to_state,
        trigger,
        set_by,

        -- numerics
        transition_number,

        -- booleans
        is_manual_override,
        coalesce(is_from_manual_override, false) as is_from_manual_override,

        -- timestamps
        moment_at as transitioned_at

    from changes

)

select * from final
