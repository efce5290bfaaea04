{#- One row per landed row of a campaigns file (`funnel-load --kind campaigns`),
    typed: texts stripped (empty -> null), channel and status lower-cased, start
    and end dates parsed as ISO-8601 dates (or timestamps, taken in UTC; null
    when not valid). The campaign id is kept as given (stripped), because events
    carry it verbatim in `properties.campaign_id`. Nothing is filtered here;
    validation happens in int_campaigns_validated. -#}

with

source as (

    select * from {{ source('sheets', 'sheet_rows') }}
    where kind = 'campaigns'

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
        {{ json_extract_text('payload_document', ['campaign_id']) }} as campaign_id_text,
        {{ json_extract_text('payload_document', ['name']) }} as name_text,
        {{ json_extract_text('payload_document', ['goal']) }} as goal_text,
        {{ json_extract_text('payload_document', ['channel']) }} as channel_text,
        {{ json_extract_text('payload_document', ['status']) }} as status_text,
        {{ json_extract_text('payload_document', ['start_date']) }} as start_date_text,
        {{ json_extract_text('payload_document', ['end_date']) }} as end_date_text,
        {{ json_extract_text('payload_document', ['target_segment']) }} as target_segment_text,
        {{ json_extract_text('payload_document', ['owner']) }} as owner_text
    from parsed

),

stripped as (

    select
        *,
        {{ strip_whitespace('start_date_text') }} as start_date_stripped,
        {{ strip_whitespace('end_date_text') }} as end_date_stripped
    from extracted

),

final as (

    select
        -- ids
        load_id,
        {{ strip_whitespace('campaign_id_text') }} as campaign_id,

        -- strings
        {{ strip_whitespace('name_text') }} as campaign_name,
        {{ strip_whitespace('goal_text') }} as goal,
        lower({{ strip_whitespace('channel_text') }}) as channel,
        lower({{ strip_whitespace('status_text') }}) as status,
        {{ strip_whitespace('target_segment_text') }} as target_segment,
        {{ strip_whitespace('owner_text') }} as owner,  -- noqa: RF04
        start_date_stripped as start_date_text,
        end_date_stripped as end_date_text,
        payload,
        source_file,

        -- numerics
        row_number,

        -- dates
        cast({{ iso_timestamp_to_utc('start_date_stripped') }} as date) as starts_on,
        cast({{ iso_timestamp_to_utc('end_date_stripped') }} as date) as ends_on,

        -- timestamps
        loaded_at

    from stripped

)

select * from final
