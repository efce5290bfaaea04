{#- One row per landed row of a campaigns file (`funnel-load --kind campaigns`),
    typed: texts stripped (empty -> null), channel and status lower-cased, start
    and end dates parsed as ISO-8601 dates (or timestamps, taken in UTC; null
    when not valid). The campaign id is kept as given (stripped), because events
    carry it verbatim in `properties.campaign_id`. Nothing is filtered here;
    validation happens in int_campaigns_validated. -#}

{{ sheet_staging('campaigns') }}
