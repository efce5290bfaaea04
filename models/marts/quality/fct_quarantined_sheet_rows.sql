{#- One row per landed spreadsheet row (contacts, spend, campaigns) that breaks a
    validation rule, with the first rule it breaks and the original row, so no
    row of a sheet is dropped silently. -#}

with

contacts as (

    select * from {{ ref('int_sheet_contacts_validated') }}

),

spend as (

    select * from {{ ref('int_channel_spend_validated') }}

),

campaigns as (

    select * from {{ ref('int_campaigns_validated') }}

),

invalid_rows as (

    select
        'contacts' as kind,
        load_id,
        rejection_reason,
        payload,
        source_file,
        row_number,
        loaded_at
    from contacts
    where rejection_reason is not null

    union all

    select
        'spend' as kind,
        load_id,
        rejection_reason,
        payload,
        source_file,
        row_number,
        loaded_at
    from spend
    where rejection_reason is not null

    union all

    select
        'campaigns' as kind,
        load_id,
        rejection_reason,
        payload,
        source_file,
        row_number,
        loaded_at
    from campaigns
    where rejection_reason is not null

),

final as (

    select
        -- ids
        load_id,

        -- strings
        kind,
        rejection_reason as reason,
        payload,
        source_file,

        -- numerics
        row_number,

        -- dates
        cast(loaded_at as date) as quarantined_date,

        -- timestamps
        loaded_at

    from invalid_rows

)

select * from final
