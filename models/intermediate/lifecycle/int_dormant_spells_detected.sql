{#- One row per dormant spell: a contact's engagement followed by
    dormant_after_days without another one. The spell starts at the last
    engagement plus dormant_after_days and ends at the next engagement. Outbound
    touches in the spell (up to as_of) are re-engagement attempts, at most one per
    reengagement_cooldown_days window counted from the spell start; the spell is
    exhausted one cooldown after the window of the reengagement_max_attempts-th
    attempt, unless the contact engages first. Only spells started by as_of. -#}

{%- set cooldown_days = var('reengagement_cooldown_days') -%}

with

activities as (

    select * from {{ ref('int_lifecycle_activities_flagged') }}

),

engagements as (

    select distinct
        contact_id,
        event_at as engaged_at
    from activities
    where is_engagement

),

spells as (

    select
        contact_id,
        engaged_at,
        {{ dbt.dateadd('day', var('dormant_after_days'), 'engaged_at') }} as spell_started_at,
        lead(engaged_at) over (
            partition by contact_id
            order by engaged_at
        ) as next_engaged_at
    from engagements

),

open_spells as (

    select *
    from spells
    where
        (next_engaged_at is null or spell_started_at < next_engaged_at)
        and spell_started_at <= {{ as_of_timestamp() }}

),

touches as (

    select
        open_spells.contact_id,
        open_spells.engaged_at,
        activities.event_at as touched_at,
        floor(
            cast(
                {{ dbt.datediff('open_spells.spell_started_at', 'activities.event_at', 'second') }}
                as {{ type_double() }}
            ) / {{ cooldown_days * 86400 }}
        ) as cooldown_window
    from open_spells
    inner join activities
        on
            open_spells.contact_id = activities.contact_id
            and open_spells.spell_started_at <= activities.event_at
            and (open_spells.next_engaged_at > activities.event_at or open_spells.next_engaged_at is null)
    where
        activities.is_outbound_touch
        and activities.event_at <= {{ as_of_timestamp() }}

),

attempts as (

    select
        contact_id,
        engaged_at,
        cooldown_window,
        min(touched_at) as attempted_at,
        row_number() over (
            partition by contact_id, engaged_at
            order by cooldown_window
        ) as attempt_number
    from touches
    group by contact_id, engaged_at, cooldown_window

),

attempts_summarized as (

    select
        contact_id,
        engaged_at,
        count(*) as reengagement_attempts,
        max(attempted_at) as last_reengagement_attempt_at,
        max(
            case
                when attempt_number = {{ var('reengagement_max_attempts') }}
                    then cooldown_window + 1
            end
        ) as exhausting_windows
    from attempts
    group by contact_id, engaged_at

),

exhaustion_dated as (

    select
        open_spells.*,
        coalesce(attempts_summarized.reengagement_attempts, 0) as reengagement_attempts,
        attempts_summarized.last_reengagement_attempt_at,
        case
            when attempts_summarized.exhausting_windows is not null
                then {{ dbt.dateadd(
                    'day',
                    'attempts_summarized.exhausting_windows * ' ~ cooldown_days,
                    'open_spells.spell_started_at'
                ) }}
        end as exhaustion_at
    from open_spells
    left join attempts_summarized
        on
            open_spells.contact_id = attempts_summarized.contact_id
            and open_spells.engaged_at = attempts_summarized.engaged_at

),

final as (

    select
        -- ids
        {{ surrogate_key(['contact_id', 'engaged_at']) }} as spell_id,
        contact_id,

        -- numerics
        reengagement_attempts,

        -- timestamps
        engaged_at,
        spell_started_at,
        next_engaged_at,
        last_reengagement_attempt_at,
        case
            when next_engaged_at is null or exhaustion_at < next_engaged_at
                then exhaustion_at
        end as exhausted_at

    from exhaustion_dated

)

select * from final
