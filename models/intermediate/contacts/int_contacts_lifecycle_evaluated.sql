{#- Each contact's lifecycle as of its last moment: the state and since when
    (its last transition), the facts behind the VIP and outreach rules, and the
    re-engagement progress of the dormant spell it is in. Incremental: a run
    recomputes the contacts whose lifecycle this run replayed. -#}

{{ config(
    materialized=incremental_materialization(),
    unique_key='contact_id',
    incremental_strategy='delete+insert',
) }}

with

all_moments as (

    select * from {{ ref('int_lifecycle_moments_evaluated') }}

),

transitions as (

    select * from {{ ref('int_lifecycle_transitions_detected') }}

),

all_activities as (

    select * from {{ ref('int_lifecycle_activities_flagged') }}

),

moments as (

    select *
    from all_moments
    {%- if is_incremental() %}
        where refreshed_at > (select max(held.refreshed_at) from {{ this }} as held)
    {%- endif %}

),

activities as (

    select all_activities.*
    from all_activities
    {%- if is_incremental() %}
        where contact_id in (select moments.contact_id from moments)
    {%- endif %}

),

spells as (

    select * from {{ ref('int_dormant_spells_detected') }}

),

last_moments as (

    select
        *,
        row_number() over (
            partition by contact_id
            order by moment_at desc
        ) as recency_rank
    from moments

),

last_transitions as (

    select
        *,
        row_number() over (
            partition by contact_id
            order by transition_number desc
        ) as recency_rank
    from transitions
    {%- if is_incremental() %}
        where contact_id in (select moments.contact_id from moments)
    {%- endif %}

),

touches as (

    select
        contact_id,
        max(case when is_outbound_touch then event_at end) as last_outbound_touch_at,
        max(case when is_signal then event_at end) as last_signal_at
    from activities
    group by contact_id

),

final as (

    select
        -- ids
        last_moments.contact_id,

        -- strings
        last_moments.lifecycle_state,

        -- numerics
        cast(last_moments.lifetime_revenue as {{ dbt.type_numeric() }}) as lifetime_revenue,
        last_moments.referrals_given,
        coalesce(spells.reengagement_attempts, 0) as reengagement_attempts,

        -- booleans
        last_moments.is_manual_override,

        -- timestamps
        last_transitions.transitioned_at as lifecycle_state_since,
        touches.last_outbound_touch_at,
        touches.last_signal_at,
        case when last_moments.is_dormant_rule then last_moments.spell_started_at end as dormant_since,
        spells.last_reengagement_attempt_at,
        last_moments.refreshed_at

    from last_moments
    inner join last_transitions
        on
            last_moments.contact_id = last_transitions.contact_id
            and last_transitions.recency_rank = 1
    inner join touches
        on last_moments.contact_id = touches.contact_id
    left join spells
        on
            last_moments.contact_id = spells.contact_id
            and last_moments.spell_started_at = spells.spell_started_at
            and last_moments.spell_started_at <= last_moments.moment_at
    where last_moments.recency_rank = 1

)

select * from final
