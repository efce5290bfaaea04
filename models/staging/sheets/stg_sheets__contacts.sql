{#- One row per landed row of a contacts sheet (`funnel-load --kind contacts`),
    with the cells pulled out of the JSON and typed: every text stripped of
    surrounding whitespace (empty -> null), the email also lower-cased exactly
    as stg_raw__events does, the channel of origin lower-cased, and date added
    parsed as an ISO-8601 date or timestamp in UTC (null when it is not one).
    Nothing is filtered here; validation happens in int_sheet_contacts_validated. -#}

with

source as (

    select * from {{ source('sheets', 'sheet_rows') }}
    where kind = 'contacts'

),

parsed as (

    select
        *,
        {{ json_document('payload') }} as payload_document
    from source

),

extracted as (

    select
        load_id,
        source_file,
        row_number,
        payload,
        loaded_at,
        {{ json_extract_text('payload_document', ['email']) }} as email_text,
        {{ json_extract_text('payload_document', ['full_name']) }} as full_name_text,
        {{ json_extract_text('payload_document', ['phone']) }} as phone_text,
        {{ json_extract_text('payload_document', ['company']) }} as company_text,
        {{ json_extract_text('payload_document', ['role']) }} as role_text,
        {{ json_extract_text('payload_document', ['industry']) }} as industry_text,
        {{ json_extract_text('payload_document', ['country']) }} as country_text,
        {{ json_extract_text('payload_document', ['timezone']) }} as timezone_text,
        {{ json_extract_text('payload_document', ['channel_of_origin']) }} as channel_of_origin_text,
        {{ json_extract_text('payload_document', ['lead_status']) }} as lead_status_text,
        {{ json_extract_text('payload_document', ['tags']) }} as tags_text,
        {{ json_extract_text('payload_document', ['notes']) }} as notes_text,
        {{ json_extract_text('payload_document', ['date_added']) }} as date_added_text,
        {{ json_extract_text('payload_document', ['assigned_orchestrator']) }} as assigned_orchestrator_text
    from parsed

),

stripped as (

    select
        *,
        {{ strip_whitespace('date_added_text') }} as date_added_stripped
    from extracted

),

final as (

    select
        -- ids
        load_id,

        -- strings
        lower({{ strip_whitespace('email_text') }}) as email,
        {{ strip_whitespace('full_name_text') }} as full_name,
        {{ strip_whitespace('phone_text') }} as phone,
        {{ strip_whitespace('company_text') }} as company,
        {{ strip_whitespace('role_text') }} as role,  -- noqa: RF04
        {{ strip_whitespace('industry_text') }} as industry,
        {{ strip_whitespace('country_text') }} as country,
        {{ strip_whitespace('timezone_text') }} as timezone,
        lower({{ strip_whitespace('channel_of_origin_text') }}) as lead_source,
        {{ strip_whitespace('lead_status_text') }} as lead_status,
        {{ strip_whitespace('tags_text') }} as tags,
        {{ strip_whitespace('notes_text') }} as notes,
        {{ strip_whitespace('assigned_orchestrator_text') }} as owner,  -- noqa: RF04
        date_added_stripped as date_added_text,
        payload,
        source_file,

        -- numerics
        row_number,

        -- timestamps
        {{ iso_timestamp_to_utc('date_added_stripped') }} as added_at,
        loaded_at

    from stripped

)

select * from final
