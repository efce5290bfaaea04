{#- One row per landed row of a channel spend file (`funnel-load --kind spend`),
    typed: the date as an ISO-8601 date (or timestamp, taken in UTC), the
    channel stripped and lower-cased, the spend as a number written with a `.`
    decimal point and no thousands separators (up to 6 decimals; anything else
    is null, never guessed), the currency stripped and upper-cased. Nothing is
    filtered here; validation happens in int_channel_spend_validated. -#}

with

source as (

    select * from {{ source('sheets', 'sheet_rows') }}
    where kind = 'spend'

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
        {{ json_extract_text('payload_document', ['date']) }} as date_text,
        {{ json_extract_text('payload_document', ['channel']) }} as channel_text,
        {{ json_extract_text('payload_document', ['spend']) }} as spend_text,
        {{ json_extract_text('payload_document', ['currency']) }} as currency_text
    from parsed

),

stripped as (

    select
        *,
        {{ strip_whitespace('date_text') }} as date_stripped,
        {{ strip_whitespace('spend_text') }} as spend_stripped
    from extracted

),

final as (

    select
        -- ids
        load_id,

        -- strings
        lower({{ strip_whitespace('channel_text') }}) as channel,
        upper({{ strip_whitespace('currency_text') }}) as currency,
        date_stripped as spend_date_text,
        spend_stripped as spend_text,
        payload,
        source_file,

        -- numerics
        row_number,
        case
            when {{ regex_matches('spend_stripped', '^[+-]?[0-9]{1,15}([.][0-9]{1,6})?$') }}
                then cast(spend_stripped as {{ dbt.type_numeric() }})
        end as spend,

        -- dates
        cast({{ iso_timestamp_to_utc('date_stripped') }} as date) as spend_date,

        -- timestamps
        loaded_at

    from stripped

)

select * from final
