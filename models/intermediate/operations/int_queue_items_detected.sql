{#- The orchestrator queue's items before assignment: one row per contact and
    queue type whose rule holds at as_of, with its playbook entry. Only
    activities at or before as_of count; "after" means a strictly later
    event_at (a touch at the same instant as a reply does not answer it). A
    contact in a state that is never contacted (lifecycle_states.is_contactable)
    keeps only its complaint item; a suppressed contact (dim_contacts
    suppression_reason) gets no item whose playbook action sends marketing.
    Events within future_tolerance_hours after as_of are valid and move the
    contact's stage and state (dim_contacts), but nothing is detected after
    as_of: an item whose rule starts to hold then (e.g. an SQL reached an hour
    after as_of) is detected at as_of. -#}

{%- set as_of = as_of_timestamp() -%}
{%- set lookback_start = dbt.dateadd('day', -1 * var('queue_lookback_days'), as_of) -%}
{%- set reengagement_cap = var('queue_reengagement_daily_cap') -%}
{%- set eligible_columns = [
    'contact_id', 'queue_type', 'condition_started_at', 'detected_at', 'email', 'lifecycle_state',
    'funnel_stage', 'title', 'recommended_action', 'owner_department', 'priority', 'due_in_days',
    'sends_marketing',
] -%}

with

contacts as (

    select * from {{ ref('int_contacts_joined') }}

),

lifecycle_signals as (

    select * from {{ ref('lifecycle_signals') }}

),

lifecycle_states as (

    select * from {{ ref('lifecycle_states') }}

),

queue_playbook as (

    select * from {{ ref('queue_playbook') }}

),

past_activities as (

    select * from {{ ref('int_activities_enriched') }}
    where event_at <= {{ as_of }}

),

signal_activities as (

    select
        past_activities.contact_id,
        past_activities.event_at,
        lifecycle_signals.signal
    from past_activities
    inner join lifecycle_signals
        on past_activities.event_type = lifecycle_signals.event_type
    where lifecycle_signals.signal in ('reply', 'complaint', 'onboarding')

),

latest_actions as (

    select
        contact_id,
        max(case when is_outbound_touch then event_at end) as last_touch_at,
        max(case when event_type = 'manual_override' then event_at end) as last_override_at
    from past_activities
    group by contact_id

),

latest_onboarding as (

    select
        contacts.contact_id,
        max(signal_activities.event_at) as last_onboarding_at
    from contacts
    inner join signal_activities
        on
            contacts.contact_id = signal_activities.contact_id
            and contacts.became_customer_at <= signal_activities.event_at
    where signal_activities.signal = 'onboarding'
    group by contacts.contact_id

),

waiting_signals as (

    {#- a reply no outbound touch answered, a complaint no manual_override: the
        condition starts at the first such signal at or after the last answer -#}
    select
        signal_activities.contact_id,
        signal_activities.signal,
        min(signal_activities.event_at) as first_waiting_at,
        max(signal_activities.event_at) as last_waiting_at
    from signal_activities
    left join latest_actions
        on signal_activities.contact_id = latest_actions.contact_id
    where
        (signal_activities.signal = 'reply' and coalesce(
            latest_actions.last_touch_at <= signal_activities.event_at, true
        ))
        or (signal_activities.signal = 'complaint' and coalesce(
            latest_actions.last_override_at <= signal_activities.event_at, true
        ))
    group by signal_activities.contact_id, signal_activities.signal

),

unanswered as (

    select
        contact_id,
        case when signal = 'reply' then 'reply_waiting' else 'complaint' end as queue_type,
        first_waiting_at as detected_at
    from waiting_signals
    where last_waiting_at >= {{ lookback_start }}

),

vip_touch_clocks as (

    select
        contact_id,
        {{ dbt.dateadd(
            'day',
            var('queue_vip_untouched_days'),
            'coalesce(last_outbound_touch_at, lifecycle_state_since)'
        ) }} as untouched_at
    from contacts
    where lifecycle_state = 'VIP'

),

vip_untouched as (

    select
        contact_id,
        'vip_untouched' as queue_type,
        untouched_at as detected_at
    from vip_touch_clocks
    where untouched_at <= {{ as_of }}

),

hot_idle_clocks as (

    select
        contact_id,
        {{ dbt.dateadd('day', var('queue_hot_idle_days'), 'last_activity_at') }} as idle_at
    from contacts
    where lifecycle_state = 'Hot'

),

hot_idle as (

    select
        contact_id,
        'hot_idle' as queue_type,
        idle_at as detected_at
    from hot_idle_clocks
    where idle_at <= {{ as_of }}

),

sql_handover as (

    select
        contacts.contact_id,
        'sql_handover' as queue_type,
        contacts.became_sql_at as detected_at
    from contacts
    left join latest_actions
        on contacts.contact_id = latest_actions.contact_id
    where
        contacts.funnel_stage = 'SQL'
        and contacts.became_sql_at >= {{ lookback_start }}
        and coalesce(latest_actions.last_touch_at < contacts.became_sql_at, true)

),

onboarding_clocks as (

    select
        contacts.contact_id,
        {{ dbt.dateadd(
            'day',
            var('queue_onboarding_idle_days'),
            'coalesce(latest_onboarding.last_onboarding_at, contacts.became_customer_at)'
        ) }} as stalled_at
    from contacts
    left join latest_onboarding
        on contacts.contact_id = latest_onboarding.contact_id
    where
        contacts.lifecycle_state = 'Customer'
        and contacts.became_customer_at
        >= {{ dbt.dateadd('day', -1 * var('queue_onboarding_period_days'), as_of) }}

),

onboarding_stalled as (

    select
        contact_id,
        'onboarding_stalled' as queue_type,
        stalled_at as detected_at
    from onboarding_clocks
    where stalled_at <= {{ as_of }}

),

reengagement_clocks as (

    -- A Dormant state set by a manual_override has no spell start: it counts
    -- from when the contact entered the state.
    select
        contact_id,
        coalesce(dormant_since, lifecycle_state_since) as dormant_since,
        {{ dbt.dateadd('day', var('reengagement_cooldown_days'), 'last_reengagement_attempt_at') }}
            as cooldown_ends_at
    from contacts
    where lifecycle_state = 'Dormant'

),

reengagement as (

    select
        contact_id,
        'reengagement' as queue_type,
        case
            when cooldown_ends_at > dormant_since then cooldown_ends_at
            else dormant_since
        end as detected_at
    from reengagement_clocks
    where coalesce(cooldown_ends_at <= {{ as_of }}, true)

),

detected as (

    select * from unanswered
    union all
    select * from vip_untouched
    union all
    select * from hot_idle
    union all
    select * from sql_handover
    union all
    select * from onboarding_stalled
    union all
    select * from reengagement

),

eligible as (

    select
        detected.contact_id,
        detected.queue_type,
        detected.detected_at as condition_started_at,
        case when detected.detected_at > {{ as_of }} then {{ as_of }} else detected.detected_at end as detected_at,
        contacts.email,
        contacts.lifecycle_state,
        contacts.funnel_stage,
        queue_playbook.title,
        queue_playbook.recommended_action,
        queue_playbook.owner_department,
        queue_playbook.priority,
        queue_playbook.due_in_days,
        queue_playbook.sends_marketing
    from detected
    inner join contacts
        on detected.contact_id = contacts.contact_id
    inner join lifecycle_states
        on contacts.lifecycle_state = lifecycle_states.lifecycle_state
    left join queue_playbook
        on detected.queue_type = queue_playbook.queue_type
    where
        (lifecycle_states.is_contactable or detected.queue_type = 'complaint')
        and not coalesce(queue_playbook.sends_marketing and contacts.suppression_reason is not null, false)

),

reengagement_days as (

    {#- Re-engagement arrives at most queue_reengagement_daily_cap items a day: in
        (condition start, contact_id) order, candidate k takes slot
        max(its start day * cap, slot of k-1 + 1), i.e. the running maximum of
        (start day * cap - k) plus k, and becomes an item on day slot / cap
        (whole days since min_event_date). A start before the lookback window
        counts from the window's start, so of an old backlog at most
        (queue_lookback_days + 1) x cap are items at a time (each one re-engaged
        or out of Dormant makes room for the next); the days move with as_of
        together, so an item once released stays released. -#}
    select
        *,
        {{ dbt.datediff(
            "cast('" ~ var('min_event_date') ~ "' as " ~ dbt.type_timestamp() ~ ")",
            'case when detected_at < ' ~ lookback_start ~ ' then ' ~ lookback_start ~ ' else detected_at end',
            'day',
        ) }} as start_day,
        row_number() over (
            order by condition_started_at, contact_id
        ) - 1 as candidate_rank
    from eligible
    where queue_type = 'reengagement'

),

reengagement_slots as (

    select
        *,
        max(start_day * {{ reengagement_cap }} - candidate_rank) over (
            order by candidate_rank
            rows between unbounded preceding and current row
        ) + candidate_rank as release_slot
    from reengagement_days

),

released as (

    select * from eligible
    where queue_type != 'reengagement'

    union all

    select {{ eligible_columns | join(', ') }}
    from reengagement_slots
    where
        floor(release_slot / {{ reengagement_cap }})
        <= {{ dbt.datediff(
            "cast('" ~ var('min_event_date') ~ "' as " ~ dbt.type_timestamp() ~ ")",
            as_of,
            'day',
        ) }}

),

final as (

    select
        -- ids
        {{ surrogate_key(['contact_id', 'queue_type', 'condition_started_at']) }} as queue_item_id,
        contact_id,

        -- strings
        email,
        queue_type,
        title,
        recommended_action,
        owner_department,
        lifecycle_state,
        funnel_stage,

        -- numerics
        priority,
        due_in_days,

        -- booleans
        sends_marketing,

        -- timestamps
        detected_at

    from released

)

select * from final
