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

    {%- for name in ['mql_trigger_events', 'sql_trigger_events', 'opportunity_trigger_events', 'customer_trigger_events', 'opt_out_events'] -%}
        {%- set value = var(name) -%}
        {%- if value is string or value is not sequence -%}
            {%- do problems.append(name ~ " = '" ~ value ~ "' must be a list of event types") -%}
        {%- endif -%}
    {%- endfor -%}

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
