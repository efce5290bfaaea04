{#- One row per landed row of a campaigns file (`funnel-load --kind campaigns`),
    typed: texts stripped (empty -> null), channel and status lower-cased, start
    and end dates parsed as ISO-8601 dates (or timestamps, taken in UTC; null
    when not valid). The campaign id is kept as given (stripped), because events
    carry it verbatim in `properties.campaign_id`. Nothing is filtered here;
    validation happens in int_campaigns_validated. -#}

{{ sheet_staging('campaigns', [
    {'cell': 'campaign_id', 'as': 'campaign_id', 'type': 'id'},
    {'cell': 'name', 'as': 'campaign_name', 'type': 'text'},
    {'cell': 'goal', 'as': 'goal', 'type': 'text'},
    {'cell': 'channel', 'as': 'channel', 'type': 'lower'},
    {'cell': 'status', 'as': 'status', 'type': 'lower'},
    {'cell': 'start_date', 'as': 'starts_on', 'type': 'date', 'text_as': 'start_date_text'},
    {'cell': 'end_date', 'as': 'ends_on', 'type': 'date', 'text_as': 'end_date_text'},
    {'cell': 'target_segment', 'as': 'target_segment', 'type': 'text'},
    {'cell': 'owner', 'as': 'owner', 'type': 'text'},
]) }}
