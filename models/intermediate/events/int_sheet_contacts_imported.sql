{#- Each valid contacts-sheet row as an event, shaped like stg_raw__events, so
    an imported contact enters the funnel like any other: a `contact_imported`
    activity at the sheet's date added (the load time when the sheet has none),
    on the channel of origin, which is also its lead source. The event key is
    the contact's, so importing a contact again (the same or a newer sheet) is a
    duplicate of its first import. -#}

{{ config(materialized='view') }}

with

sheet_contacts as (

    select * from {{ ref('int_sheet_contacts_validated') }}
    where is_valid

),

final as (

    select
        -- ids
        {{ dbt.concat(["'contact_imported:'", 'contact_id']) }} as event_key,
        load_id,

        -- strings
        email,
        'contact_imported' as event_type_input,
        lead_source as channel,
        company,
        industry,
        lead_source,
        coalesce(date_added_text, cast(loaded_at as {{ dbt.type_string() }})) as event_time_text,
        cast(null as {{ dbt.type_string() }}) as properties,
        cast(null as {{ dbt.type_string() }}) as currency,
        cast(null as {{ dbt.type_string() }}) as bounce_type,
        cast(null as {{ dbt.type_string() }}) as override_state,
        cast(null as {{ dbt.type_string() }}) as override_set_by,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        cast(null as {{ dbt.type_string() }}) as queue_item_id,
        cast(null as {{ dbt.type_string() }}) as escalated_to,
        cast(null as {{ dbt.type_string() }}) as action_reason,
        cast(null as {{ dbt.type_string() }}) as action_outcome,
        cast(null as {{ dbt.type_string() }}) as action_by,
        cast(null as {{ dbt.type_string() }}) as interaction_direction,
        cast(null as {{ dbt.type_string() }}) as interaction_channel,
        cast(null as {{ dbt.type_string() }}) as initiated_by,
        cast(null as {{ dbt.type_string() }}) as interaction_summary,
        payload,
        source_file,
        'sheet:contacts' as source_format,

        -- numerics
        row_number as source_position,
        cast(null as {{ dbt.type_numeric() }}) as amount,
        cast(null as integer) as sequence_step,

        -- dates
        cast(null as date) as contract_end_date,

        -- timestamps
        coalesce(added_at, loaded_at) as event_at,
        cast(null as {{ dbt.type_timestamp() }}) as scheduled_at,
        cast(null as {{ dbt.type_timestamp() }}) as snoozed_until,
        loaded_at

    from sheet_contacts

)

select * from final
