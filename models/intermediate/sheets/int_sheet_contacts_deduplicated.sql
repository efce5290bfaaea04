{#- One row per contact of the contacts sheet: the valid row of the latest load
    that has the email (latest loaded_at, then load id; within a file the last
    row). The contact_id is the key int_events_validated gives the same email,
    so sheet contacts join the event-based contacts. -#}

with

contacts as (

    select * from {{ ref('int_sheet_contacts_validated') }}
    where is_valid

),

ranked as (

    select
        *,
        row_number() over (
            partition by email
            order by loaded_at desc, load_id desc, row_number desc
        ) as recency
    from contacts

),

final as (

    select
        -- ids
        contact_id,
        load_id,

        -- strings
        email,
        full_name,
        phone,
        company,
        role,
        industry,
        country,
        timezone,
        lead_source,
        lead_status,
        tags,
        notes,
        owner,
        source_file,

        -- numerics
        row_number,

        -- timestamps
        added_at,
        loaded_at

    from ranked
    where recency = 1

)

select * from final
