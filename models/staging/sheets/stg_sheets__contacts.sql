{#- One row per landed row of a contacts sheet (`funnel-load --kind contacts`),
    with the cells pulled out of the JSON and typed: every text stripped of
    surrounding whitespace (empty -> null), the email also lower-cased exactly
    as stg_raw__events does, the channel of origin lower-cased, and date added
    parsed as an ISO-8601 date or timestamp in UTC (null when it is not one).
    Nothing is filtered here; validation happens in int_sheet_contacts_validated. -#}

{{ sheet_staging('contacts') }}
