{#- One row per landed raw event, with the native fields pulled out of the JSON
    and typed: email normalised, event time parsed to UTC (null when it is not a
    valid ISO-8601 timestamp), and the properties the rules read (amount,
    currency, bounce type, override state, campaign, contract end, meeting time)
    typed or null. Validation and deduplication happen downstream. -#}

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

extracted as (

    select
        event_key,
        load_id,
        source_file,
        source_position,
        source_format,
        payload,
        loaded_at,
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
        case
            when {{ regex_matches('amount_stripped', '^[+-]?[0-9]{1,15}([.][0-9]{1,6})?$') }}
                then cast(amount_stripped as {{ dbt.type_numeric() }})
        end as amount,
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
