{#- One row per contact who must not receive marketing, with the reason that
    wins (opt-out, then hard bounce, then disqualified), where it came from and
    since when. An opt-out is sticky: an opt-out event (var opt_out_events), a
    manual_override to Unsubscribed, a contacts-sheet lead_status in var
    sheet_opt_out_statuses (at its load time) or an opt-out event quarantined
    only for its timestamp (at its load time) holds until a later event in var
    resubscribe_events; the suppression counts from the first opt-out after the
    last resubscribe. A hard bounce never ends (the address is undeliverable);
    for a client it suppresses email only. -#}

{%- set timestamp_reasons = ['missing event_time', 'unparseable event_time', 'event_time out of range'] -%}
{%- set sheet_statuses = var('sheet_opt_out_statuses') | map('lower') | list -%}

with

activities as (

    select * from {{ ref('int_lifecycle_activities_flagged') }}

),

events as (

    select * from {{ ref('int_events_validated') }}

),

sheet_contacts as (

    select * from {{ ref('int_sheet_contacts_validated') }}

),

lifecycles as (

    select * from {{ ref('int_contacts_lifecycle_evaluated') }}

),

complaint_types as (

    select distinct event_type
    from {{ ref('lifecycle_signals') }}
    where signal = 'complaint'

),

opt_outs as (

    select
        contact_id,
        email,
        case when is_complaint then 'complained' else 'unsubscribed' end as reason,
        case when is_manual_override then 'manual_override' else 'event' end as source,
        event_at as suppressed_at
    from activities
    where is_opt_out

    union all

    select
        events.contact_id,
        events.email,
        case when complaint_types.event_type is null then 'unsubscribed' else 'complained' end as reason,
        'quarantined_event' as source,
        events.loaded_at as suppressed_at
    from events
    left join complaint_types
        on events.event_type = complaint_types.event_type
    where
        not events.is_duplicate
        and {{ in_list('events.rejection_reason', timestamp_reasons) }}
        and {{ in_list('events.event_type', var('opt_out_events')) }}

    union all

    select
        contact_id,
        email,
        'unsubscribed' as reason,
        'contacts_sheet' as source,
        loaded_at as suppressed_at
    from sheet_contacts
    where is_valid and {{ in_list('lower(lead_status)', sheet_statuses) }}

),

resubscribes as (

    select
        contact_id,
        max(event_at) as last_resubscribed_at
    from activities
    where is_resubscribe
    group by contact_id

),

standing_opt_outs as (

    select
        opt_outs.*,
        row_number() over (
            partition by opt_outs.contact_id
            order by opt_outs.suppressed_at, opt_outs.reason, opt_outs.source
        ) as standing_rank
    from opt_outs
    left join resubscribes
        on opt_outs.contact_id = resubscribes.contact_id
    where opt_outs.suppressed_at >= coalesce(resubscribes.last_resubscribed_at, opt_outs.suppressed_at)

),

hard_bounces as (

    select
        contact_id,
        max(email) as email,
        min(event_at) as suppressed_at
    from activities
    where is_hard_bounce
    group by contact_id

),

disqualified as (

    select
        contact_id,
        lifecycle_state_since as suppressed_at,
        case when is_manual_override then 'manual_override' else 'lifecycle_rule' end as source
    from lifecycles
    where lifecycle_state = 'Disqualified'

),

contact_emails as (

    select
        contact_id,
        max(email) as email
    from activities
    where contact_id in (select disqualified.contact_id from disqualified)
    group by contact_id

),

candidates as (

    select
        contact_id,
        email,
        reason,
        source,
        suppressed_at,
        1 as reason_rank
    from standing_opt_outs
    where standing_rank = 1

    union all

    select
        contact_id,
        email,
        'hard_bounce' as reason,
        'event' as source,
        suppressed_at,
        2 as reason_rank
    from hard_bounces

    union all

    select
        disqualified.contact_id,
        contact_emails.email,
        'disqualified' as reason,
        disqualified.source,
        disqualified.suppressed_at,
        3 as reason_rank
    from disqualified
    inner join contact_emails
        on disqualified.contact_id = contact_emails.contact_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by contact_id
            order by reason_rank
        ) as reason_precedence
    from candidates

),

winners as (

    select
        ranked.contact_id,
        ranked.email,
        ranked.reason,
        ranked.source,
        ranked.suppressed_at,
        hard_bounces.contact_id is null as is_email_deliverable,
        coalesce(ranked.reason = 'hard_bounce' and disqualified.contact_id is null, false) as is_email_only
    from ranked
    left join hard_bounces
        on ranked.contact_id = hard_bounces.contact_id
    left join disqualified
        on ranked.contact_id = disqualified.contact_id
    where ranked.reason_precedence = 1

),

final as (

    select
        -- ids
        contact_id,

        -- strings
        email,
        reason,
        source,

        -- booleans
        is_email_deliverable,
        is_email_only,

        -- timestamps
        suppressed_at as suppressed_since

    from winners

)

select * from final
