{#- Everyone who must not receive marketing, one row per contact, for sending
    tools (a Resend audience's suppression, a CSV export, the BI role): the
    winning reason, its source and since when (int_contacts_suppressed). -#}

with

suppressions as (

    select * from {{ ref('int_contacts_suppressed') }}

),

final as (

    select
        -- ids
        contact_id,

        -- strings
        email,
        reason,
        source,

        -- booleans
        is_email_deliverable,
        is_email_only,

        -- timestamps
        suppressed_since

    from suppressions

)

select * from final
