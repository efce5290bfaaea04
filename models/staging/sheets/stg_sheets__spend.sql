{#- One row per landed row of a channel spend file (`funnel-load --kind spend`),
    typed: the date as an ISO-8601 date (or timestamp, taken in UTC), the
    channel stripped and lower-cased, the spend as a number written with a `.`
    decimal point and no thousands separators (up to 6 decimals; anything else
    is null, never guessed), the currency stripped and upper-cased. Nothing is
    filtered here; validation happens in int_channel_spend_validated. -#}

{{ sheet_staging('spend') }}
