{#- One row per campaign id of the campaigns file: the valid row of the latest
    load that has it (latest loaded_at, then load id). The id is kept as given
    (stripped), as events carry it in `properties.campaign_id`. -#}

{{ sheet_latest_valid_rows('campaigns', 'int_campaigns_validated', ['campaign_id'], 'campaign_id') }}
