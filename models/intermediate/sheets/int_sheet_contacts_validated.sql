{#- Every landed contacts-sheet row, classified: its contact_id (the same key
    int_events_validated gives the email) and the first rule it breaks (null
    when it is valid). Rules, in order: the email is missing; it does not match
    the var valid_email_regex; date added is not an ISO-8601 date or timestamp;
    an email repeated in the same file (the last row of the file counts, the
    earlier ones are flagged). -#}

with

contacts as (

    select * from {{ ref('stg_sheets__contacts') }}

),

checked as (

    select
        *,
        case
            when email is null
                then 'missing email'
            when not {{ regex_matches('email', var('valid_email_regex')) }}
                then 'invalid email'
            when date_added_text is not null and added_at is null
                then 'invalid date_added'
        end as invalid_reason
    from contacts

),

{{ sheet_rows_classified(['email'], 'email') }},

final as (

    select
        -- ids
        load_id,
        {{ surrogate_key(['email']) }} as contact_id,

        -- strings
        {%- for column in sheet_columns('contacts') if column.type in ['text', 'lower', 'upper'] %}
            {{ column.as }},
        {%- endfor %}
        date_added_text,
        rejection_reason,
        payload,
        source_file,

        -- numerics
        row_number,

        -- booleans
        is_valid,

        -- timestamps
        added_at,
        loaded_at

    from classified

)

select * from final
