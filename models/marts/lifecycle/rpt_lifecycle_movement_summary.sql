{#- How contacts move between lifecycle states: one row per (from_state,
    to_state, trigger) over every recorded transition, with the number of
    transitions and of distinct contacts. -#}

with

transitions as (

    select * from {{ ref('fct_lifecycle_transitions') }}

),

movements as (

    select
        from_state,
        to_state,
        trigger,
        count(*) as transitions,
        count(distinct contact_id) as contacts,
        max(transitioned_at) as last_transitioned_at
    from transitions
    group by from_state, to_state, trigger

),

final as (

    select
        -- ids
        {{ surrogate_key(['from_state', 'to_state', 'trigger']) }} as movement_id,

        -- strings
        from_state,
        to_state,
        trigger,

        -- numerics
        cast(transitions as {{ dbt.type_bigint() }}) as transitions,
        cast(contacts as {{ dbt.type_bigint() }}) as contacts,

        -- booleans
        from_state is null as is_entry,

        -- timestamps
        last_transitioned_at

    from movements

)

select * from final
