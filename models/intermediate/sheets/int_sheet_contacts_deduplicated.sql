{#- One row per contact of the contacts sheet: the valid row of the latest load
    that has the email (latest loaded_at, then load id; within a file the last
    row). The contact_id is the key int_events_validated gives the same email,
    so sheet contacts join the event-based contacts. -#}

{{ sheet_latest_valid_rows('contacts', 'int_sheet_contacts_validated', ['email'], 'contact_id') }}
