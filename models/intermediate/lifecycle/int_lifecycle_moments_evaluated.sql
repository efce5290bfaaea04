{#- The lifecycle state machine replayed over each contact's activity stream.
    A moment is an instant with activities (evaluated after all of them) or a
    time-based instant without any: a dormant spell starting, or a spell's
    re-engagement running out. At each moment the cumulative facts so far give
    the state: of the states whose rule holds, the one first in the precedence
    of the lifecycle_states seed (the seed alone decides the order); an active manual
    override (no engagement, opt-out or resubscribe after it) wins over the
    rules. An opt-out (an override to Unsubscribed included) holds until a later
    resubscribe; a hard bounce disqualifies only a contact who is not a client.
    Incremental: a run replays only the contacts with new activities, or with a
    dormant spell that started or ran out since the as_of of the previous run
    (all contacts when as_of moved back). -#}

{{ config(
    materialized=incremental_materialization(),
    unique_key='contact_id',
    incremental_strategy='delete+insert',
) }}

{%- set counted = [
    'is_opt_out', 'is_resubscribe', 'is_hard_bounce', 'is_referral', 'is_alumni', 'is_customer',
    'is_hot', 'is_warm', 'is_open', 'is_click', 'is_manual_override',
] -%}

{#- The condition of each state's rule; the state is the one of lowest precedence in
    the lifecycle_states seed whose condition holds (Cold always does). -#}
{%- set state_rules = {
    'Unsubscribed': 'last_opted_out_at >= coalesce(last_resubscribed_at, last_opted_out_at)',
    'VIP': 'is_vip',
    'Alumni': 'alumni_events > 0',
    'Customer': 'customer_events > 0',
    'Disqualified': 'hard_bounce_events > 0 or (is_in_dormant_spell and is_reengagement_exhausted)',
    'Dormant': 'is_in_dormant_spell',
    'Hot': 'hot_events > 0',
    'Warm': 'warm_events > 0 or open_events >= ' ~ var('warm_min_opens')
        ~ ' or click_events >= ' ~ var('warm_min_clicks'),
    'Engaged': 'open_events > 0 or click_events > 0',
    'Cold': 'true',
} -%}
{%- set precedence_columns = [] -%}
{%- set candidates = [] -%}
{%- for state, rule in state_rules.items() -%}
    {%- do precedence_columns.append(
        "max(case when lifecycle_state = '" ~ state ~ "' then precedence end) as " ~ state | lower ~ '_precedence'
    ) -%}
    {%- do candidates.append('case when ' ~ rule ~ ' then precedences.' ~ state | lower ~ '_precedence end') -%}
{%- endfor -%}

with

activities as (

    select * from {{ ref('int_lifecycle_activities_flagged') }}

),

spells as (

    select * from {{ ref('int_dormant_spells_detected') }}

),

lifecycle_states as (

    select * from {{ ref('lifecycle_states') }}

),

precedences as (

    select
        {{ precedence_columns | join(',\n        ') }}
    from lifecycle_states

),

{% if is_incremental() %}

held as (

    select max(refreshed_as_of) as refreshed_as_of from {{ this }}

),

contacts_to_refresh as (

    {{ contacts_with_new_activities('activities') }}

    union

    select spells.contact_id
    from spells
    cross join held
    where
        (spells.spell_started_at > held.refreshed_as_of and spells.spell_started_at <= {{ as_of_timestamp() }})
        or (spells.exhausted_at > held.refreshed_as_of and spells.exhausted_at <= {{ as_of_timestamp() }})

    union

    select activities.contact_id
    from activities
    cross join held
    where {{ as_of_timestamp() }} < held.refreshed_as_of

),

activities_in_scope as (

    select activities.*
    from activities
    inner join contacts_to_refresh
        on activities.contact_id = contacts_to_refresh.contact_id

),

spells_in_scope as (

    select spells.*
    from spells
    inner join contacts_to_refresh
        on spells.contact_id = contacts_to_refresh.contact_id

),

{% else %}

    activities_in_scope as (

        select * from activities

    ),

    spells_in_scope as (

        select * from spells

    ),

{% endif %}

ranked_activities as (

    select
        *,
        row_number() over (
            partition by contact_id, event_at
            order by activity_id desc
        ) as last_at_instant_rank,
        row_number() over (
            partition by contact_id, event_at, is_manual_override
            order by activity_id desc
        ) as last_override_at_instant_rank
    from activities_in_scope

),

instants as (

    select
        contact_id,
        event_at as moment_at,
        max(case when last_at_instant_rank = 1 then activity_id end) as last_activity_id,
        max(case when last_at_instant_rank = 1 then event_type end) as last_event_type,
        max(case when is_manual_override and last_override_at_instant_rank = 1 then activity_id end)
            as override_activity_id,
        max(case when is_manual_override and last_override_at_instant_rank = 1 then override_state end)
            as override_state,
        max(case when is_manual_override and last_override_at_instant_rank = 1 then override_set_by end)
            as override_set_by,
        sum(revenue) as revenue,
        {%- for flag in counted %}
            sum(case when {{ flag }} then 1 else 0 end) as {{ flag | replace('is_', '') }}_events,
        {%- endfor %}
        sum(case when is_engagement then 1 else 0 end) as engagement_events
    from ranked_activities
    group by contact_id, event_at

),

time_based as (

    select
        contact_id,
        spell_started_at as moment_at
    from spells_in_scope

    union all

    select
        contact_id,
        exhausted_at as moment_at
    from spells_in_scope
    where exhausted_at <= {{ as_of_timestamp() }}

),

time_based_only as (

    select distinct time_based.*
    from time_based
    left join instants
        on
            time_based.contact_id = instants.contact_id
            and time_based.moment_at = instants.moment_at
    where instants.contact_id is null

),

moments as (

    select
        *,
        false as is_time_based
    from instants

    union all

    select
        contact_id,
        moment_at,
        null as last_activity_id,
        null as last_event_type,
        null as override_activity_id,
        null as override_state,
        null as override_set_by,
        0 as revenue,
        {%- for flag in counted %}
            0 as {{ flag | replace('is_', '') }}_events,
        {%- endfor %}
        0 as engagement_events,
        true as is_time_based
    from time_based_only

),

cumulated as (

    select
        contact_id,
        moment_at,
        is_time_based,
        last_activity_id,
        last_event_type,
        override_activity_id,
        {%- for flag in counted %}
            cast(sum({{ flag | replace('is_', '') }}_events) over contact_so_far as {{ dbt.type_bigint() }})
                as {{ flag | replace('is_', '') }}_events,
        {%- endfor %}
        sum(revenue) over contact_so_far as lifetime_revenue,
        max(case when engagement_events > 0 then moment_at end) over contact_so_far as last_engaged_at,
        max(case when opt_out_events > 0 then moment_at end) over contact_so_far as last_opted_out_at,
        max(case when resubscribe_events > 0 then moment_at end) over contact_so_far as last_resubscribed_at,
        max(case when manual_override_events > 0 then moment_at end) over contact_so_far as last_override_at
    from moments
    window contact_so_far as (
        partition by contact_id
        order by moment_at
        rows between unbounded preceding and current row
    )

),

with_override as (

    select
        cumulated.*,
        overrides.override_activity_id as active_override_id,
        overrides.override_state as active_override_state,
        overrides.override_set_by as active_override_set_by,
        coalesce(
            cumulated.last_override_at >= coalesce(cumulated.last_engaged_at, cumulated.last_override_at)
            and cumulated.last_override_at >= coalesce(cumulated.last_opted_out_at, cumulated.last_override_at)
            and cumulated.last_override_at >= coalesce(cumulated.last_resubscribed_at, cumulated.last_override_at),
            false
        ) as is_override_active
    from cumulated
    left join instants as overrides
        on
            cumulated.contact_id = overrides.contact_id
            and cumulated.last_override_at = overrides.moment_at

),

with_spell as (

    select
        with_override.*,
        spells.spell_started_at,
        spells.exhausted_at,
        coalesce(
            with_override.lifetime_revenue >= {{ var('vip_min_lifetime_revenue') }}
            or with_override.referral_events >= {{ var('vip_min_referrals') }},
            false
        ) as is_vip,
        coalesce(spells.spell_started_at <= with_override.moment_at, false) as is_in_dormant_spell,
        coalesce(spells.exhausted_at <= with_override.moment_at, false) as is_reengagement_exhausted
    from with_override
    left join spells_in_scope as spells
        on
            with_override.contact_id = spells.contact_id
            and with_override.last_engaged_at = spells.engaged_at

),

flagged as (

    select
        with_spell.*,
        least(
            {{ candidates | join(',\n            ') }}
        ) as rule_precedence
    from with_spell
    cross join precedences

),

evaluated as (

    select
        flagged.*,
        lifecycle_states.lifecycle_state as rule_state
    from flagged
    left join lifecycle_states
        on flagged.rule_precedence = lifecycle_states.precedence

),

resolved as (

    select
        *,
        case
            when is_override_active then active_override_id
            else last_activity_id
        end as trigger_activity_id,
        case when is_override_active then active_override_state else rule_state end as lifecycle_state,
        case
            when is_override_active then 'manual_override'
            when is_time_based then 'inactivity'
            else last_event_type
        end as trigger_name,
        case when is_override_active then active_override_set_by end as set_by,
        coalesce(
            not is_override_active
            and rule_state in ('Dormant', 'Disqualified')
            and is_in_dormant_spell
            and hard_bounce_events = 0,
            false
        ) as is_dormant_rule
    from evaluated

),

final as (

    select
        -- ids
        contact_id,
        trigger_activity_id,

        -- strings
        lifecycle_state,
        trigger_name as trigger,  -- noqa: RF04
        set_by,

        -- numerics
        lifetime_revenue,
        referral_events as referrals_given,

        -- booleans
        is_override_active as is_manual_override,
        is_time_based,
        is_dormant_rule,

        -- timestamps
        moment_at,
        spell_started_at,
        {{ run_started_timestamp() }} as refreshed_at,
        {{ as_of_timestamp() }} as refreshed_as_of

    from resolved

)

select * from final
