{#- One row per landed raw event, whatever its source format, with the fields
    the rules read pulled out of the JSON and typed: email normalised, event
    time parsed to UTC (null when it is not a valid ISO-8601 timestamp), and the
    properties (amount, currency, bounce type, override state, campaign, step,
    contract end, meeting time) typed or null. Each format maps its own fields
    onto the native ones (docs: source_formats); validation and deduplication
    happen downstream. -#}

{%- set landed = 'event_key, load_id, source_file, source_position, source_format, payload, loaded_at' -%}

with

source as (

    select * from {{ source('raw', 'events') }}

),

parsed as (

    select
        *,
        {{ json_document('payload') }} as payload_document
    from source

),

native as (

    select
        {{ landed }},
        {{ json_extract_text('payload_document', ['email']) }} as email_text,
        {{ json_extract_text('payload_document', ['event_type']) }} as event_type_text,
        {{ json_extract_text('payload_document', ['channel']) }} as channel_text,
        {{ json_extract_text('payload_document', ['event_time']) }} as event_time_text,
        {{ json_extract_string('payload_document', ['company']) }} as company_text,
        {{ json_extract_string('payload_document', ['industry']) }} as industry_text,
        {{ json_extract_text('payload_document', ['properties']) }} as properties_text,
        {{ json_extract_string('payload_document', ['properties', 'lead_source']) }} as lead_source_text,
        {{ json_extract_text('payload_document', ['properties', 'amount']) }} as amount_text,
        {{ json_extract_string('payload_document', ['properties', 'currency']) }} as currency_text,
        {{ json_extract_string('payload_document', ['properties', 'bounce_type']) }} as bounce_type_text,
        {{ json_extract_string('payload_document', ['properties', 'state']) }} as override_state_text,
        {{ json_extract_string('payload_document', ['properties', 'set_by']) }} as override_set_by_text,
        {{ json_extract_text('payload_document', ['properties', 'campaign_id']) }} as campaign_id_text,
        {{ json_extract_text('payload_document', ['properties', 'sequence_step']) }} as sequence_step_text,
        {{ json_extract_string('payload_document', ['properties', 'contract_end']) }} as contract_end_text,
        {{ json_extract_string('payload_document', ['properties', 'scheduled_at']) }} as scheduled_at_text
    from parsed
    where source_format not in ('resend', 'segment')

),

resend_recipients as (

    select
        *,
        coalesce(
            {{ strip_whitespace(json_extract_string("payload_document", ["data", "to", 0])) }},
            {{ strip_whitespace(json_extract_string("payload_document", ["data", "to"])) }}
        ) as recipient_text
    from parsed
    where source_format = 'resend'

),

resend as (

    select
        {{ landed }},
        case
            when recipient_text like '%<%>%'
                then {{ dbt.split_part(dbt.split_part('recipient_text', "'<'", 2), "'>'", 1) }}
            else recipient_text
        end as email_text,
        {{ json_extract_string('payload_document', ['type']) }} as event_type_text,
        'email' as channel_text,
        {{ json_extract_string('payload_document', ['created_at']) }} as event_time_text,
        cast(null as {{ dbt.type_string() }}) as company_text,
        cast(null as {{ dbt.type_string() }}) as industry_text,
        {{ json_extract_text('payload_document', ['data', 'tags']) }} as properties_text,
        cast(null as {{ dbt.type_string() }}) as lead_source_text,
        cast(null as {{ dbt.type_string() }}) as amount_text,
        cast(null as {{ dbt.type_string() }}) as currency_text,
        {{ json_extract_string('payload_document', ['data', 'bounce', 'type']) }} as bounce_type_text,
        cast(null as {{ dbt.type_string() }}) as override_state_text,
        cast(null as {{ dbt.type_string() }}) as override_set_by_text,
        coalesce(
            {{ resend_tag('payload_document', 'campaign_id') }},
            {{ strip_whitespace(json_extract_string("payload_document", ["data", "broadcast_id"])) }}
        ) as campaign_id_text,
        {{ resend_tag('payload_document', 'sequence_step') }} as sequence_step_text,
        cast(null as {{ dbt.type_string() }}) as contract_end_text,
        cast(null as {{ dbt.type_string() }}) as scheduled_at_text
    from resend_recipients

),

segment as (

    select
        {{ landed }},
        coalesce(
            {{ strip_whitespace(json_extract_string("payload_document", ["context", "traits", "email"])) }},
            {{ strip_whitespace(json_extract_string("payload_document", ["traits", "email"])) }},
            {{ strip_whitespace(json_extract_string("payload_document", ["properties", "email"])) }}
        ) as email_text,
        case
            when lower({{ json_extract_string('payload_document', ['type']) }}) = 'identify'
                then 'identify'
            else {{ json_extract_string('payload_document', ['event']) }}
        end as event_type_text,
        coalesce(
            {{ strip_whitespace(json_extract_string("payload_document", ["context", "campaign", "medium"])) }},
            {{ strip_whitespace(json_extract_string("payload_document", ["properties", "channel"])) }}
        ) as channel_text,
        coalesce(
            {{ strip_whitespace(json_extract_string("payload_document", ["timestamp"])) }},
            {{ strip_whitespace(json_extract_string("payload_document", ["originalTimestamp"])) }}
        ) as event_time_text,
        coalesce(
            {{ strip_whitespace(json_extract_string("payload_document", ["context", "traits", "company"])) }},
            {{ strip_whitespace(json_extract_string("payload_document", ["traits", "company"])) }},
            {{ strip_whitespace(json_extract_string("payload_document", ["context", "traits", "company", "name"])) }},
            {{ strip_whitespace(json_extract_string("payload_document", ["traits", "company", "name"])) }}
        ) as company_text,
        coalesce(
            {{ strip_whitespace(json_extract_string("payload_document", ["context", "traits", "industry"])) }},
            {{ strip_whitespace(json_extract_string("payload_document", ["traits", "industry"])) }}
        ) as industry_text,
        coalesce(
            {{ strip_whitespace(json_extract_text("payload_document", ["properties"])) }},
            {{ strip_whitespace(json_extract_text("payload_document", ["traits"])) }}
        ) as properties_text,
        {{ json_extract_string('payload_document', ['context', 'campaign', 'source']) }} as lead_source_text,
        coalesce(
            {{ strip_whitespace(json_extract_text("payload_document", ["properties", "revenue"])) }},
            {{ strip_whitespace(json_extract_text("payload_document", ["properties", "value"])) }},
            {{ strip_whitespace(json_extract_text("payload_document", ["properties", "total"])) }}
        ) as amount_text,
        {{ json_extract_string('payload_document', ['properties', 'currency']) }} as currency_text,
        cast(null as {{ dbt.type_string() }}) as bounce_type_text,
        cast(null as {{ dbt.type_string() }}) as override_state_text,
        cast(null as {{ dbt.type_string() }}) as override_set_by_text,
        coalesce(
            {{ strip_whitespace(json_extract_text("payload_document", ["properties", "campaign_id"])) }},
            {{ strip_whitespace(json_extract_string("payload_document", ["context", "campaign", "name"])) }}
        ) as campaign_id_text,
        {{ json_extract_text('payload_document', ['properties', 'sequence_step']) }} as sequence_step_text,
        cast(null as {{ dbt.type_string() }}) as contract_end_text,
        {{ json_extract_string('payload_document', ['properties', 'scheduled_at']) }} as scheduled_at_text
    from parsed
    where source_format = 'segment'

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
        {{ strip_whitespace('scheduled_at_text') }} as scheduled_at_stripped
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
        loaded_at

    from stripped

)

select * from final
