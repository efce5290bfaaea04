{#- One row per landed raw event, whatever its source format, with the fields
    the rules read pulled out of the JSON and typed: email normalised, event
    time parsed to UTC (null when it is not a valid ISO-8601 timestamp), and the
    properties (amount, currency, bounce type, override state, campaign, step,
    contract end, meeting time; a queue action's item, snooze end, escalation
    and outcome; an interaction's direction, channel, outcome, initiator and
    summary) typed or null. Each format maps its own fields
    onto the native ones (docs: source_formats); validation and deduplication
    happen downstream.

    A table, parsed once: each payload's JSON is read once per event (macro
    json_fields), when its load first reaches a build; an incremental run adds
    only the loads it does not hold yet, and `--full-refresh` parses everything
    again. -#}

{{ config(materialized=incremental_materialization()) }}

{%- set landed = 'event_key, load_id, source_file, source_position, source_format, payload, loaded_at' -%}

{%- set native_fields = {
    'email_text': ['text', ['email']],
    'event_type_text': ['text', ['event_type']],
    'channel_text': ['text', ['channel']],
    'event_time_text': ['text', ['event_time']],
    'company_text': ['string', ['company']],
    'industry_text': ['string', ['industry']],
    'properties_text': ['text', ['properties']],
    'lead_source_text': ['string', ['properties', 'lead_source']],
    'amount_text': ['text', ['properties', 'amount']],
    'currency_text': ['string', ['properties', 'currency']],
    'bounce_type_text': ['string', ['properties', 'bounce_type']],
    'override_state_text': ['string', ['properties', 'state']],
    'override_set_by_text': ['string', ['properties', 'set_by']],
    'campaign_id_text': ['text', ['properties', 'campaign_id']],
    'sequence_step_text': ['text', ['properties', 'sequence_step']],
    'contract_end_text': ['string', ['properties', 'contract_end']],
    'scheduled_at_text': ['string', ['properties', 'scheduled_at']],
    'queue_item_id_text': ['string', ['properties', 'queue_item_id']],
    'snoozed_until_text': ['string', ['properties', 'until']],
    'escalated_to_text': ['string', ['properties', 'to']],
    'action_reason_text': ['string', ['properties', 'reason']],
    'action_outcome_text': ['string', ['properties', 'outcome']],
    'action_by_text': ['string', ['properties', 'by']],
    'interaction_direction_text': ['string', ['properties', 'direction']],
    'interaction_channel_text': ['string', ['properties', 'interaction_channel']],
    'initiated_by_text': ['string', ['properties', 'initiated_by']],
    'interaction_summary_text': ['string', ['properties', 'summary']],
} -%}

{%- set resend_fields = {
    'first_recipient': ['string', ['data', 'to', 0]],
    'only_recipient': ['string', ['data', 'to']],
    'event_type_text': ['string', ['type']],
    'event_time_text': ['string', ['created_at']],
    'properties_text': ['text', ['data', 'tags']],
    'bounce_type_text': ['string', ['data', 'bounce', 'type']],
    'broadcast_id': ['string', ['data', 'broadcast_id']],
} -%}
{%- do resend_fields.update(resend_tag_fields(['campaign_id', 'sequence_step'])) -%}

{%- set segment_fields = {
    'context_traits_email': ['string', ['context', 'traits', 'email']],
    'traits_email': ['string', ['traits', 'email']],
    'properties_email': ['string', ['properties', 'email']],
    'call_type': ['string', ['type']],
    'event_name': ['string', ['event']],
    'campaign_medium': ['string', ['context', 'campaign', 'medium']],
    'properties_channel': ['string', ['properties', 'channel']],
    'call_timestamp': ['string', ['timestamp']],
    'original_timestamp': ['string', ['originalTimestamp']],
    'context_traits_company': ['string', ['context', 'traits', 'company']],
    'traits_company': ['string', ['traits', 'company']],
    'context_traits_company_name': ['string', ['context', 'traits', 'company', 'name']],
    'traits_company_name': ['string', ['traits', 'company', 'name']],
    'context_traits_industry': ['string', ['context', 'traits', 'industry']],
    'traits_industry': ['string', ['traits', 'industry']],
    'properties_json': ['text', ['properties']],
    'traits_json': ['text', ['traits']],
    'campaign_source': ['string', ['context', 'campaign', 'source']],
    'properties_revenue': ['text', ['properties', 'revenue']],
    'properties_value': ['text', ['properties', 'value']],
    'properties_total': ['text', ['properties', 'total']],
    'currency_text': ['string', ['properties', 'currency']],
    'properties_campaign_id': ['text', ['properties', 'campaign_id']],
    'campaign_name': ['string', ['context', 'campaign', 'name']],
    'sequence_step_text': ['text', ['properties', 'sequence_step']],
    'scheduled_at_text': ['string', ['properties', 'scheduled_at']],
} -%}

{#- Each format reads raw.events itself: a CTE read three times would be
    materialised (payload and all) by PostgreSQL before any JSON is parsed. An
    incremental run reads only the loads it does not hold yet. -#}
{%- set new_loads -%}
    {%- if is_incremental() %}
        and loaded_at >= (select max(held.loaded_at) from {{ this }} as held)
        and load_id not in (select distinct held.load_id from {{ this }} as held)
    {%- endif -%}
{%- endset -%}

with

native_source as (

    select {{ landed }}
    from {{ source('raw', 'events') }}
    where source_format not in ('resend', 'segment'){{ new_loads }}

),

resend_source as (

    select {{ landed }}
    from {{ source('raw', 'events') }}
    where source_format = 'resend'{{ new_loads }}

),

segment_source as (

    select {{ landed }}
    from {{ source('raw', 'events') }}
    where source_format = 'segment'{{ new_loads }}

),

native_fields as (

    {{ json_fields('native_source', 'payload', native_fields) }}

),

resend_fields as (

    {{ json_fields('resend_source', 'payload', resend_fields) }}

),

segment_fields as (

    {{ json_fields('segment_source', 'payload', segment_fields) }}

),

native as (

    select
        {{ landed }},
        {{ native_fields.keys() | join(',\n        ') }}
    from native_fields

),

resend_recipients as (

    select
        *,
        coalesce(
            {{ strip_whitespace('first_recipient') }},
            {{ strip_whitespace('only_recipient') }}
        ) as recipient_text
    from resend_fields

),

resend as (

    select
        {{ landed }},
        case
            when recipient_text like '%<%>%'
                then {{ dbt.split_part(dbt.split_part('recipient_text', "'<'", 2), "'>'", 1) }}
            else recipient_text
        end as email_text,
        event_type_text,
        'email' as channel_text,
        event_time_text,
        cast(null as {{ dbt.type_string() }}) as company_text,
        cast(null as {{ dbt.type_string() }}) as industry_text,
        properties_text,
        cast(null as {{ dbt.type_string() }}) as lead_source_text,
        cast(null as {{ dbt.type_string() }}) as amount_text,
        cast(null as {{ dbt.type_string() }}) as currency_text,
        bounce_type_text,
        cast(null as {{ dbt.type_string() }}) as override_state_text,
        cast(null as {{ dbt.type_string() }}) as override_set_by_text,
        coalesce(
            {{ resend_tag('campaign_id') }},
            {{ strip_whitespace('broadcast_id') }}
        ) as campaign_id_text,
        {{ resend_tag('sequence_step') }} as sequence_step_text,
        cast(null as {{ dbt.type_string() }}) as contract_end_text,
        cast(null as {{ dbt.type_string() }}) as scheduled_at_text,
        {%- for column in queue_property_columns() %}
            cast(null as {{ dbt.type_string() }}) as {{ column }}_text{% if not loop.last %},{% endif %}
        {%- endfor %}
    from resend_recipients

),

segment as (

    select
        {{ landed }},
        coalesce(
            {{ strip_whitespace('context_traits_email') }},
            {{ strip_whitespace('traits_email') }},
            {{ strip_whitespace('properties_email') }}
        ) as email_text,
        case
            when lower(call_type) = 'identify'
                then 'identify'
            else event_name
        end as event_type_text,
        coalesce(
            {{ strip_whitespace('campaign_medium') }},
            {{ strip_whitespace('properties_channel') }}
        ) as channel_text,
        coalesce(
            {{ strip_whitespace('call_timestamp') }},
            {{ strip_whitespace('original_timestamp') }}
        ) as event_time_text,
        coalesce(
            {{ strip_whitespace('context_traits_company') }},
            {{ strip_whitespace('traits_company') }},
            {{ strip_whitespace('context_traits_company_name') }},
            {{ strip_whitespace('traits_company_name') }}
        ) as company_text,
        coalesce(
            {{ strip_whitespace('context_traits_industry') }},
            {{ strip_whitespace('traits_industry') }}
        ) as industry_text,
        coalesce(
            {{ strip_whitespace('properties_json') }},
            {{ strip_whitespace('traits_json') }}
        ) as properties_text,
        campaign_source as lead_source_text,
        coalesce(
            {{ strip_whitespace('properties_revenue') }},
            {{ strip_whitespace('properties_value') }},
            {{ strip_whitespace('properties_total') }}
        ) as amount_text,
        currency_text,
        cast(null as {{ dbt.type_string() }}) as bounce_type_text,
        cast(null as {{ dbt.type_string() }}) as override_state_text,
        cast(null as {{ dbt.type_string() }}) as override_set_by_text,
        coalesce(
            {{ strip_whitespace('properties_campaign_id') }},
            {{ strip_whitespace('campaign_name') }}
        ) as campaign_id_text,
        sequence_step_text,
        cast(null as {{ dbt.type_string() }}) as contract_end_text,
        scheduled_at_text,
        {%- for column in queue_property_columns() %}
            cast(null as {{ dbt.type_string() }}) as {{ column }}_text{% if not loop.last %},{% endif %}
        {%- endfor %}
    from segment_fields

),

extracted as (

    select * from native
    union all
    select * from resend
    union all
    select * from segment

),

stripped as (

    select
        *,
        {{ strip_whitespace('event_time_text') }} as event_time_stripped,
        {{ strip_whitespace('amount_text') }} as amount_stripped,
        {{ strip_whitespace('sequence_step_text') }} as sequence_step_stripped,
        {{ strip_whitespace('contract_end_text') }} as contract_end_stripped,
        {{ strip_whitespace('scheduled_at_text') }} as scheduled_at_stripped,
        {{ strip_whitespace('snoozed_until_text') }} as snoozed_until_stripped
    from extracted

),

final as (

    select
        -- ids
        event_key,
        load_id,

        -- strings
        lower({{ strip_whitespace('email_text') }}) as email,
        lower({{ strip_whitespace('event_type_text') }}) as event_type_input,
        lower({{ strip_whitespace('channel_text') }}) as channel,
        {{ strip_whitespace('company_text') }} as company,
        {{ strip_whitespace('industry_text') }} as industry,
        lower({{ strip_whitespace('lead_source_text') }}) as lead_source,
        event_time_stripped as event_time_text,
        properties_text as properties,
        upper({{ strip_whitespace('currency_text') }}) as currency,
        lower({{ strip_whitespace('bounce_type_text') }}) as bounce_type,
        {{ strip_whitespace('override_state_text') }} as override_state,
        {{ strip_whitespace('override_set_by_text') }} as override_set_by,
        {{ strip_whitespace('campaign_id_text') }} as campaign_id,
        {{ strip_whitespace('queue_item_id_text') }} as queue_item_id,
        {{ strip_whitespace('escalated_to_text') }} as escalated_to,
        {{ strip_whitespace('action_reason_text') }} as action_reason,
        lower({{ strip_whitespace('action_outcome_text') }}) as action_outcome,
        {{ strip_whitespace('action_by_text') }} as action_by,
        lower({{ strip_whitespace('interaction_direction_text') }}) as interaction_direction,
        lower({{ strip_whitespace('interaction_channel_text') }}) as interaction_channel,
        lower({{ strip_whitespace('initiated_by_text') }}) as initiated_by,
        {{ strip_whitespace('interaction_summary_text') }} as interaction_summary,
        payload,
        source_file,
        source_format,

        -- numerics
        source_position,
        {{ numeric_from_text('amount_stripped') }} as amount,
        case
            when {{ regex_matches('sequence_step_stripped', '^[0-9]{1,9}$') }}
                then cast(sequence_step_stripped as integer)
        end as sequence_step,

        -- dates
        cast({{ iso_timestamp_to_utc('contract_end_stripped') }} as date) as contract_end_date,

        -- timestamps
        {{ iso_timestamp_to_utc('event_time_stripped') }} as event_at,
        {{ iso_timestamp_to_utc('scheduled_at_stripped') }} as scheduled_at,
        {{ iso_timestamp_to_utc('snoozed_until_stripped') }} as snoozed_until,
        loaded_at

    from stripped

)

select * from final
