{#- One row per landed row of a contacts sheet (`funnel-load --kind contacts`),
    with the cells pulled out of the JSON and typed: every text stripped of
    surrounding whitespace (empty -> null), the email also lower-cased exactly
    as stg_raw__events does, the channel of origin lower-cased, and date added
    parsed as an ISO-8601 date or timestamp in UTC (null when it is not one).
    Nothing is filtered here; validation happens in int_sheet_contacts_validated. -#}

{{ sheet_staging('contacts', [
    {'cell': 'email', 'as': 'email', 'type': 'lower'},
    {'cell': 'full_name', 'as': 'full_name', 'type': 'text'},
    {'cell': 'phone', 'as': 'phone', 'type': 'text'},
    {'cell': 'company', 'as': 'company', 'type': 'text'},
    {'cell': 'role', 'as': 'role', 'type': 'text'},
    {'cell': 'industry', 'as': 'industry', 'type': 'text'},
    {'cell': 'country', 'as': 'country', 'type': 'text'},
    {'cell': 'timezone', 'as': 'timezone', 'type': 'text'},
    {'cell': 'channel_of_origin', 'as': 'lead_source', 'type': 'lower'},
    {'cell': 'lead_status', 'as': 'lead_status', 'type': 'text'},
    {'cell': 'tags', 'as': 'tags', 'type': 'text'},
    {'cell': 'notes', 'as': 'notes', 'type': 'text'},
    {'cell': 'date_added', 'as': 'added_at', 'type': 'timestamp', 'text_as': 'date_added_text'},
    {'cell': 'assigned_orchestrator', 'as': 'owner', 'type': 'text'},
]) }}
