{#- Email campaign performance: per campaign and sequence step, plus one total
    row per campaign, the email events as event counts and unique contacts,
    rates over nested denominators, and email-to-meeting conversions (contacts
    who book a meeting within var conversion_window_days of their first click
    or reply in the campaign or step). Rows come from the activities that carry
    a campaign_id; the campaigns sheet (int_campaigns_deduplicated) adds the
    name, goal, status and owner when it has the campaign.
    Rates nest: a contact counts in a rate's numerator only when it is in the
    denominator's set (delivered within sent, opened within delivered, clicked
    within opened, ...; `within` below), so every rate is in [0, 1] even when
    a tool drops events (a delivered or opened email whose sent event is
    missing counts in delivered_contacts, not in the rates). -#}

{%- set email_metrics = [
    ('sent', 'email_sent'),
    ('delivered', 'email_delivered'),
    ('opened', 'email_opened'),
    ('clicked', 'email_clicked'),
    ('replied', 'email_replied'),
    ('bounced', 'email_bounced'),
    ('complained', 'email_complained'),
    ('unsubscribed', 'unsubscribed'),
] -%}
{#- metric -> the metric whose contacts it must be among to count in a rate -#}
{%- set within = {
    'delivered': 'sent',
    'opened': 'delivered',
    'clicked': 'opened',
    'replied': 'delivered',
    'bounced': 'sent',
    'complained': 'delivered',
    'unsubscribed': 'delivered',
} -%}
{%- set rates = [
    ('delivery_rate', 'delivered', 'sent'),
    ('open_rate', 'opened', 'delivered'),
    ('click_rate', 'clicked', 'delivered'),
    ('click_to_open_rate', 'clicked', 'opened'),
    ('reply_rate', 'replied', 'delivered'),
    ('bounce_rate', 'bounced', 'sent'),
    ('complaint_rate', 'complained', 'delivered'),
    ('unsubscribe_rate', 'unsubscribed', 'delivered'),
] -%}
{%- set window_days = var('conversion_window_days') -%}

with

activities as (

    select * from {{ ref('fct_activities') }}

),

campaigns as (

    select * from {{ ref('int_campaigns_deduplicated') }}

),

lifecycle_signals as (

    select * from {{ ref('lifecycle_signals') }}

),

campaign_activities as (

    select
        campaign_id,
        sequence_step,
        contact_id,
        event_type,
        event_at
    from activities
    where campaign_id is not null

),

grains as (

    {#- Each activity counts twice: in its step's row and in its campaign's total. -#}
    select
        campaign_id,
        sequence_step,
        false as is_campaign_total,
        contact_id,
        event_type,
        event_at
    from campaign_activities

    union all

    select
        campaign_id,
        cast(null as integer) as sequence_step,
        true as is_campaign_total,
        contact_id,
        event_type,
        event_at
    from campaign_activities

),

keyed as (

    select
        {{ surrogate_key(['campaign_id', 'sequence_step', 'is_campaign_total']) }} as campaign_performance_id,
        *
    from grains

),

event_counts as (

    select
        campaign_performance_id,
        campaign_id,
        sequence_step,
        is_campaign_total,
        {%- for metric, event_type in email_metrics %}
            sum(case when event_type = '{{ event_type }}' then 1 else 0 end) as {{ metric }}_events,
        {%- endfor %}
        min(event_at) as first_activity_at,
        max(event_at) as last_activity_at
    from keyed
    group by campaign_performance_id, campaign_id, sequence_step, is_campaign_total

),

contact_grains as (

    select
        campaign_performance_id,
        contact_id,
        {%- for metric, event_type in email_metrics %}
            max(case when event_type = '{{ event_type }}' then 1 else 0 end) as has_{{ metric }},
        {%- endfor %}
        min(
            case when event_type in ('email_clicked', 'email_replied') then event_at end
        ) as first_engaged_at
    from keyed
    group by campaign_performance_id, contact_id

),

meetings as (

    select
        activities.contact_id,
        activities.event_at as booked_at
    from activities
    inner join lifecycle_signals
        on activities.event_type = lifecycle_signals.event_type
    where lifecycle_signals.signal = 'appointment'

),

nested_contact_grains as (

    {#- is_nested_<metric>: the contact has the metric and every metric it nests in -#}
    select
        campaign_performance_id,
        contact_id,
        {%- for metric, event_type in email_metrics %}
            {%- set chain = namespace(at=metric, factors=['has_' ~ metric]) %}
            {%- for _ in email_metrics %}
                {%- if chain.at in within %}
                    {%- set chain.at = within[chain.at] %}
                    {%- set chain.factors = chain.factors + ['has_' ~ chain.at] %}
                {%- endif %}
            {%- endfor %}
            {{ chain.factors | join(' * ') }} as is_nested_{{ metric }},
        {%- endfor %}
        first_engaged_at
    from contact_grains

),

converted_contacts as (

    select distinct
        contact_grains.campaign_performance_id,
        contact_grains.contact_id
    from contact_grains
    inner join meetings
        on
            contact_grains.contact_id = meetings.contact_id
            and meetings.booked_at >= contact_grains.first_engaged_at
            and meetings.booked_at <= {{ dbt.dateadd(
                'day', window_days, 'contact_grains.first_engaged_at'
            ) }}

),

contact_counts as (

    select
        contact_grains.campaign_performance_id,
        {%- for metric, event_type in email_metrics %}
            sum(contact_grains.has_{{ metric }}) as {{ metric }}_contacts,
            sum(nested_contact_grains.is_nested_{{ metric }}) as nested_{{ metric }}_contacts,
        {%- endfor %}
        count(contact_grains.first_engaged_at) as engaged_contacts,
        count(converted_contacts.contact_id) as meeting_conversions
    from contact_grains
    inner join nested_contact_grains
        on
            contact_grains.campaign_performance_id = nested_contact_grains.campaign_performance_id
            and contact_grains.contact_id = nested_contact_grains.contact_id
    left join converted_contacts
        on
            contact_grains.campaign_performance_id = converted_contacts.campaign_performance_id
            and contact_grains.contact_id = converted_contacts.contact_id
    group by contact_grains.campaign_performance_id

),

final as (

    select
        -- ids
        event_counts.campaign_performance_id,
        event_counts.campaign_id,

        -- strings
        campaigns.campaign_name,
        campaigns.goal,
        campaigns.channel as campaign_channel,
        campaigns.status,
        campaigns.target_segment,
        campaigns.owner,

        -- numerics
        event_counts.sequence_step,
        {%- for metric, event_type in email_metrics %}
            cast(event_counts.{{ metric }}_events as {{ dbt.type_bigint() }}) as {{ metric }}_events,
            cast(contact_counts.{{ metric }}_contacts as {{ dbt.type_bigint() }}) as {{ metric }}_contacts,
        {%- endfor %}
        cast(contact_counts.engaged_contacts as {{ dbt.type_bigint() }}) as engaged_contacts,
        cast(contact_counts.meeting_conversions as {{ dbt.type_bigint() }}) as meeting_conversions,
        {%- for rate, numerator, denominator in rates %}
            {{ safe_divide(
                'contact_counts.nested_' ~ numerator ~ '_contacts',
                'contact_counts.nested_' ~ denominator ~ '_contacts'
            ) }} as {{ rate }},
        {%- endfor %}
        {{ safe_divide('contact_counts.meeting_conversions', 'contact_counts.engaged_contacts') }}
            as meeting_conversion_rate,

        -- booleans
        event_counts.is_campaign_total,
        campaigns.campaign_id is not null as is_in_campaign_sheet,

        -- dates
        campaigns.starts_on,
        campaigns.ends_on,

        -- timestamps
        event_counts.first_activity_at,
        event_counts.last_activity_at

    from event_counts
    inner join contact_counts
        on event_counts.campaign_performance_id = contact_counts.campaign_performance_id
    left join campaigns
        on event_counts.campaign_id = campaigns.campaign_id

)

select * from final
