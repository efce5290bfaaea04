{#- Checks every rule var before anything runs (on-run-start) and stops the
    run with one line naming the var and what it must be. Whether the event
    types named in the vars exist is a data test (they live in a seed). -#}
{% macro validate_vars() -%}
    {%- set problems = [] -%}

    {%- set weights = var('intent_weights') -%}
    {%- if weights is not mapping -%}
        {%- do problems.append("intent_weights must be a map of event type to points") -%}
    {%- else -%}
        {%- for name, points in weights.items() -%}
            {%- if points is boolean or points is not number -%}
                {%- do problems.append("intent_weights." ~ name ~ " = '" ~ points ~ "' must be a number") -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}

    {%- for name in ['mql_score_threshold', 'future_tolerance_hours'] -%}
        {%- set value = var(name) -%}
        {%- if value is boolean or value is not number or value < 0 -%}
            {%- do problems.append(name ~ " = '" ~ value ~ "' must be a number >= 0") -%}
        {%- endif -%}
    {%- endfor -%}

    {%- for name in ['sql_score_threshold', 'intent_half_life_days'] -%}
        {%- set value = var(name) -%}
        {%- if value is not none and (value is boolean or value is not number or value <= 0) -%}
            {%- do problems.append(name ~ " = '" ~ value ~ "' must be null or a number > 0") -%}
        {%- endif -%}
    {%- endfor -%}

    {%- for name in ['mql_trigger_events', 'sql_trigger_events', 'opportunity_trigger_events', 'customer_trigger_events', 'opt_out_events', 'resubscribe_events', 'sheet_opt_out_statuses'] -%}
        {%- set value = var(name) -%}
        {%- if value is string or value is not sequence -%}
            {%- do problems.append(name ~ " = '" ~ value ~ "' must be a list of " ~ ('lead_status values' if name == 'sheet_opt_out_statuses' else 'event types')) -%}
        {%- endif -%}
    {%- endfor -%}

    {%- for name, least in [('conversion_window_days', 0), ('attribution_lookback_days', 0), ('forecast_history_days', 1), ('forecast_min_history_contacts', 1)] -%}
        {%- set value = var(name) -%}
        {%- if value is boolean or value is not number or value != value | int or value < least -%}
            {%- do problems.append(name ~ " = '" ~ value ~ "' must be a whole number >= " ~ least) -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set half_life = var('attribution_half_life_days') -%}
    {%- if half_life is boolean or half_life is not number or half_life <= 0 -%}
        {%- do problems.append("attribution_half_life_days = '" ~ half_life ~ "' must be a number > 0") -%}
    {%- endif -%}

    {%- set shares = var('attribution_position_weights') -%}
    {%- set share_values = [shares.get('first'), shares.get('middle'), shares.get('last')] if shares is mapping else [] -%}
    {%- if share_values | select('number') | reject('boolean') | list | length != 3
        or share_values | select('lt', 0) | list
        or (share_values | sum - 1) | abs > 1e-9 -%}
        {%- do problems.append("attribution_position_weights = '" ~ shares ~ "' must be {first, middle, last}: numbers >= 0 that sum to 1") -%}
    {%- endif -%}

    {%- set horizons = var('forecast_horizons_days') -%}
    {%- if horizons is string or horizons is not sequence or not horizons
        or horizons | reject('number') | list or horizons | select('boolean') | list
        or horizons | select('le', 0) | list -%}
        {%- do problems.append("forecast_horizons_days = '" ~ horizons ~ "' must be a list of numbers of days > 0") -%}
    {%- endif -%}

    {%- if var('grant_marts') is not boolean -%}
        {%- do problems.append("grant_marts = '" ~ var('grant_marts') ~ "' must be true or false") -%}
    {%- endif -%}

    {%- if problems -%}
        {{ exceptions.raise_compiler_error("invalid var: " ~ problems | join("; ")) }}
    {%- endif -%}
    {%- do crm_funnel.parse_var_timestamp('min_event_date', var('min_event_date')) -%}
    {%- if var('as_of') -%}
        {%- do crm_funnel.parse_var_timestamp('as_of', var('as_of')) -%}
    {%- endif -%}
{%- endmacro %}
