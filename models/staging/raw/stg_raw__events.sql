{#- One row per landed raw event, with the native fields pulled out of the JSON
    and typed: email normalised, event time parsed to UTC (null when it is not a
    valid ISO-8601 timestamp). Validation and deduplication happen downstream. -#}

{#- ISO-8601: a date, optionally a time (seconds and up to 6 fraction digits
    optional), optionally Z or an offset +HH, +HHMM or +HH:MM. -#}
{%- set iso_date = '^[0-9]{4}-[0-9]{2}-[0-9]{2}' -%}
{%- set iso_time = '[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?' -%}
{%- set iso_zone = '([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?' -%}
{%- set iso_timestamp_pattern = iso_date ~ '(' ~ iso_time ~ iso_zone ~ ')?$' -%}
{%- set iso_datetime_prefix = iso_date ~ '(' ~ iso_time ~ ')?' -%}

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
        {{ json_extract_string('payload_document', ['properties', 'lead_source']) }} as lead_source_text
    from parsed

),

stripped as (

    select
        *,
        {{ strip_whitespace('event_time_text') }} as event_time_stripped
    from extracted

),

time_parts as (

    select
        *,
        coalesce({{ regex_matches('event_time_stripped', iso_timestamp_pattern) }}, false)
            as is_iso_shaped,
        {{ regex_replace('event_time_stripped', iso_datetime_prefix, '') }} as utc_offset_text
    from stripped

),

time_fields as (

    select
        *,
        case when is_iso_shaped then cast(substring(event_time_stripped, 1, 4) as integer) end
            as time_year,
        case when is_iso_shaped then cast(substring(event_time_stripped, 6, 2) as integer) end
            as time_month,
        case when is_iso_shaped then cast(substring(event_time_stripped, 9, 2) as integer) end
            as time_day,
        case
            when is_iso_shaped and length(event_time_stripped) > 10
                then cast(substring(event_time_stripped, 12, 2) as integer)
            else 0
        end as time_hour,
        case
            when is_iso_shaped and length(event_time_stripped) > 10
                then cast(substring(event_time_stripped, 15, 2) as integer)
            else 0
        end as time_minute,
        case
            when is_iso_shaped and substring(event_time_stripped, 17, 1) = ':'
                then cast(substring(event_time_stripped, 18, 2) as integer)
            else 0
        end as time_second,
        case
            when is_iso_shaped and length(utc_offset_text) > 1
                then cast(substring(utc_offset_text, 2, 2) as integer)
            else 0
        end as offset_hours,
        case
            when is_iso_shaped and length(replace(utc_offset_text, ':', '')) = 5
                then cast(substring(replace(utc_offset_text, ':', ''), 4, 2) as integer)
            else 0
        end as offset_minutes,
        case when substring(utc_offset_text, 1, 1) = '-' then -1 else 1 end as offset_sign
    from time_parts

),

time_checked as (

    select
        *,
        coalesce(
            is_iso_shaped
            and time_year >= 1
            and time_month between 1 and 12
            and time_day between 1 and case
                when time_month = 2 and (
                    (time_year % 4 = 0 and time_year % 100 != 0) or time_year % 400 = 0
                ) then 29
                when time_month = 2 then 28
                when time_month in (4, 6, 9, 11) then 30
                else 31
            end
            and time_hour <= 23
            and time_minute <= 59
            and time_second <= 59
            and offset_hours <= 18
            and offset_minutes <= 59,
            false
        ) as is_event_time_valid
    from time_fields

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
        payload,
        source_file,
        source_format,

        -- numerics
        source_position,

        -- booleans
        is_event_time_valid,

        -- timestamps
        case
            when is_event_time_valid
                then {{ dbt.dateadd(
                    'minute',
                    '-1 * offset_sign * (offset_hours * 60 + offset_minutes)',
                    "cast(replace(replace(substring(event_time_stripped, 1, length(event_time_stripped) - length(utc_offset_text)), 'T', ' '), 't', ' ') as " ~ dbt.type_timestamp() ~ ")"
                ) }}
        end as event_at,
        loaded_at

    from time_checked

)

select * from final
