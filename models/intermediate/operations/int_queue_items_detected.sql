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

latest_signals as (

    select
        contact_id,
        max(case when signal = 'reply' then event_at end) as last_reply_at,
        max(case when signal = 'complaint' then event_at end) as last_complaint_at
    from signal_activities
    group by contact_id

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

unanswered as (

    {#- a reply no outbound touch answered since, a complaint no manual_override -#}
    {%- for queue_type, signal_at, answer_at in [
        ('reply_waiting', 'last_reply_at', 'last_touch_at'),
        ('complaint', 'last_complaint_at', 'last_override_at'),
    ] %}
        select
            latest_signals.contact_id,
            '{{ queue_type }}' as queue_type,
            latest_signals.{{ signal_at }} as detected_at
        from latest_signals
        left join latest_actions
            on latest_signals.contact_id = latest_actions.contact_id
        where
            latest_signals.{{ signal_at }} >= {{ lookback_start }}
            and coalesce(latest_actions.{{ answer_at }} <= latest_signals.{{ signal_at }}, true)
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

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

detected_by_as_of as (

    select
        contact_id,
        queue_type,
        case when detected_at > {{ as_of }} then {{ as_of }} else detected_at end as detected_at
    from detected

),

final as (

    select
        -- ids
        {{ surrogate_key(['detected.contact_id', 'detected.queue_type']) }} as queue_item_id,
        detected.contact_id,

        -- strings
        contacts.email,
        detected.queue_type,
        queue_playbook.title,
        queue_playbook.recommended_action,
        queue_playbook.owner_department,
        contacts.lifecycle_state,
        contacts.funnel_stage,

        -- numerics
        queue_playbook.priority,

        -- booleans
        queue_playbook.sends_marketing,

        -- timestamps
        detected.detected_at,
        {{ dbt.dateadd('day', 'queue_playbook.due_in_days', 'detected.detected_at') }} as due_at

    from detected_by_as_of as detected
    inner join contacts
        on detected.contact_id = contacts.contact_id
    inner join lifecycle_states
        on contacts.lifecycle_state = lifecycle_states.lifecycle_state
    left join queue_playbook
        on detected.queue_type = queue_playbook.queue_type
    where
        (lifecycle_states.is_contactable or detected.queue_type = 'complaint')
        and not coalesce(queue_playbook.sends_marketing and contacts.suppression_reason is not null, false)

)

select * from final
