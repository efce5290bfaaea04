{#- The lifecycle audit log: one row per change of a contact's lifecycle state
    (and one for the state it enters with), replayed over the activity stream.
    Incremental: a run rewrites the history of the contacts replayed by this run. -#}

{{ config(
    materialized=incremental_materialization(),
    unique_key='contact_id',
    incremental_strategy='delete+insert',
) }}

with

all_moments as (

    select * from {{ ref('int_lifecycle_moments_evaluated') }}

),

moments as (

    select *
    from all_moments
    {%- if is_incremental() %}
        where all_moments.refreshed_at > (select max(held.refreshed_at) from {{ this }} as held)
    {%- endif %}

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
        cast(row_number() over (
            partition by contact_id
            order by moment_at
        ) as {{ dbt.type_bigint() }}) as transition_number
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
        moment_at as transitioned_at,
        refreshed_at

    from changes

)

select * from final
