{#- Checks every var before anything runs (on-run-start) and stops the run with
    one line naming each bad var and what it must be. The known names are the
    project's own vars (dbt_project.yml `vars:`): a name given in --vars or
    under `vars: crm_funnel:` that is not one of them is an error with the
    closest known name as a suggestion, and every known var must have a kind
    below (type and range), so a new var cannot go unchecked. Whether the event
    types named in the vars exist is a data test (they live in a seed). -#}
{% macro validate_vars() -%}
    {%- set kinds = crm_funnel.var_kinds() -%}
    {%- set musts = {
        'identifier': 'must be a plain SQL identifier (letters, digits, _)',
        'whole >= 0': 'must be a whole number >= 0',
        'whole >= 1': 'must be a whole number >= 1',
        'number >= 0': 'must be a number >= 0',
        'number > 0': 'must be a number > 0',
        'number > 0 or null': 'must be null or a number > 0',
        'timestamp or null': 'must be null or an ISO-8601 timestamp',
        'timestamp': 'must be an ISO-8601 timestamp',
        'text': 'must be a non-empty text',
        'names': 'must be a list of names',
        'days': 'must be a non-empty list of whole numbers of days >= 1',
        'boolean': 'must be true or false',
        'weights': 'must be a map of event type to points (numbers)',
        'shares': 'must be {first, middle, last}: numbers >= 0 that sum to 1',
    } -%}
    {%- set problems = [] -%}

    {#- The known names: dbt 1.11 lists a project's vars only on the project
        object, which the var() of a hook yields (packages_for_node). -#}
    {%- set project = var.packages_for_node() | list | first -%}
    {%- set declared = project.vars.to_dict() -%}
    {%- set known = declared.keys() | reject('equalto', project_name) | sort -%}
    {%- set given = [] -%}
    {%- for name in (invocation_args_dict.get('vars') or {}).keys() -%}
        {%- do given.append((name, '--vars')) -%}
    {%- endfor -%}
    {%- for name in (declared.get(project_name) or {}).keys() -%}
        {%- do given.append((name, 'dbt_project.yml vars.' ~ project_name)) -%}
    {%- endfor -%}
    {%- for name, where in given if name not in known -%}
        {#- the closest known name by edit distance (Levenshtein) -#}
        {%- set closest = namespace(name=none, distance=name | length) -%}
        {%- for candidate in known -%}
            {%- set previous = namespace(row=range(candidate | length + 1) | list) -%}
            {%- for i in range(name | length) -%}
                {%- set current = [i + 1] -%}
                {%- for j in range(candidate | length) -%}
                    {%- do current.append([
                        previous.row[j + 1] + 1,
                        current[j] + 1,
                        previous.row[j] + (0 if name[i] == candidate[j] else 1),
                    ] | min) -%}
                {%- endfor -%}
                {%- set previous.row = current -%}
            {%- endfor -%}
            {%- if previous.row[-1] < closest.distance -%}
                {%- set closest.name = candidate -%}
                {%- set closest.distance = previous.row[-1] -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set hint = "did you mean '" ~ closest.name ~ "'?"
            if closest.name and closest.distance <= [2, (name | length) // 3] | max
            else "the known vars are in dbt_project.yml" -%}
        {%- do problems.append("unknown var '" ~ name ~ "' in " ~ where ~ " (" ~ hint ~ ")") -%}
    {%- endfor -%}

    {%- for name in known -%}
        {%- set kind = kinds.get(name) -%}
        {%- set value = var(name) -%}
        {%- set ok = kind is not none and crm_funnel.var_has_kind(name, value, kind) -%}
        {%- if kind is none -%}
            {%- do problems.append(name ~ " has no kind in macros/rules/validate_vars.sql (add one)") -%}
        {%- elif not ok -%}
            {%- do problems.append(name ~ " = '" ~ value ~ "' " ~ musts[kind]) -%}
        {%- endif -%}
    {%- endfor -%}

    {%- if problems -%}
        {{ exceptions.raise_compiler_error("invalid var: " ~ problems | join("; ")) }}
    {%- endif -%}
{%- endmacro %}


{#- The kind (type and range) of every var of dbt_project.yml; validate_vars
    says what each kind must be. -#}
{% macro var_kinds() -%}
{{- return({
    'raw_schema': 'identifier',
    'raw_freshness_warn_hours': 'whole >= 1',
    'raw_freshness_error_hours': 'whole >= 1',
    'quality_max_drop_pct': 'number >= 0',
    'quality_max_rate_change_pp': 'number >= 0',
    'quality_max_as_of_age_hours': 'number > 0 or null',
    'as_of': 'timestamp or null',
    'intent_weights': 'weights',
    'engagement_window_days': 'days',
    'intent_half_life_days': 'number > 0 or null',
    'mql_score_threshold': 'number >= 0',
    'sql_score_threshold': 'number > 0 or null',
    'mql_trigger_events': 'names',
    'sql_trigger_events': 'names',
    'opportunity_trigger_events': 'names',
    'customer_trigger_events': 'names',
    'opt_out_events': 'names',
    'resubscribe_events': 'names',
    'sheet_opt_out_statuses': 'names',
    'valid_email_regex': 'text',
    'opted_out_nurture_track': 'text',
    'min_event_date': 'timestamp',
    'future_tolerance_hours': 'number >= 0',
    'unknown_channel': 'text',
    'attribution_no_touch_channel': 'text',
    'reporting_currency': 'text',
    'dormant_after_days': 'whole >= 1',
    'vip_min_lifetime_revenue': 'number >= 0',
    'vip_min_referrals': 'whole >= 1',
    'warm_min_opens': 'whole >= 1',
    'warm_min_clicks': 'whole >= 1',
    'hard_bounce_types': 'names',
    'signal_fresh_days': 'whole >= 0',
    'reengagement_max_attempts': 'whole >= 0',
    'reengagement_cooldown_days': 'whole >= 0',
    'queue_lookback_days': 'whole >= 0',
    'queue_vip_untouched_days': 'whole >= 0',
    'queue_hot_idle_days': 'whole >= 0',
    'queue_daily_capacity': 'whole >= 1',
    'queue_reengagement_daily_cap': 'whole >= 1',
    'queue_health_days': 'whole >= 1',
    'queue_interaction_channels': 'names',
    'queue_interaction_outcomes': 'names',
    'queue_interaction_initiators': 'names',
    'queue_onboarding_idle_days': 'whole >= 0',
    'queue_onboarding_period_days': 'whole >= 0',
    'recent_movement_days': 'whole >= 0',
    'contact_360_interactions': 'whole >= 1',
    'renewal_window_days': 'whole >= 0',
    'conversion_window_days': 'whole >= 0',
    'attribution_lookback_days': 'whole >= 0',
    'attribution_half_life_days': 'number > 0',
    'attribution_position_weights': 'shares',
    'forecast_history_days': 'whole >= 1',
    'forecast_horizons_days': 'days',
    'forecast_min_history_contacts': 'whole >= 1',
    'loader_role': 'identifier',
    'transformer_role': 'identifier',
    'bi_role': 'identifier',
    'operator_role': 'identifier',
    'eraser_role': 'identifier',
    'raw_owner_role': 'identifier',
    'grant_marts': 'boolean',
}) -}}
{%- endmacro %}

{#- Whether a var's value has its kind. A timestamp that is no timestamp stops
    the run with its own line (parse_var_timestamp). -#}
{% macro var_has_kind(name, value, kind) -%}
    {%- set is_number = value is number and value is not boolean -%}
    {%- set is_list = value is sequence and value is not string and value is not mapping -%}
    {%- if kind == 'identifier' -%}
        {%- set ok = value is string and modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', value) is not none -%}
    {%- elif kind.startswith('whole') -%}
        {%- set ok = value is integer and value >= (kind[-1] | int) -%}
    {%- elif kind == 'number >= 0' -%}
        {%- set ok = is_number and value >= 0 -%}
    {%- elif kind == 'number > 0' -%}
        {%- set ok = is_number and value > 0 -%}
    {%- elif kind == 'number > 0 or null' -%}
        {%- set ok = value is none or (is_number and value > 0) -%}
    {%- elif kind.startswith('timestamp') -%}
        {%- set ok = value is none or value == '' if kind == 'timestamp or null' else false -%}
        {%- if not ok and value is not none and value is not mapping and not is_list -%}
            {#- stops the run with its own line when the text is no timestamp -#}
            {%- do crm_funnel.parse_var_timestamp(name, value) -%}
            {%- set ok = true -%}
        {%- endif -%}
    {%- elif kind == 'text' -%}
        {%- set ok = value is string and value | trim != '' -%}
    {%- elif kind == 'names' -%}
        {%- set ok = is_list and value | reject('string') | list | length == 0 -%}
    {%- elif kind == 'days' -%}
        {%- set ok = is_list and value | length > 0
            and value | reject('integer') | list | length == 0
            and value | select('lt', 1) | list | length == 0 -%}
    {%- elif kind == 'boolean' -%}
        {%- set ok = value is boolean -%}
    {%- elif kind == 'weights' -%}
        {%- set ok = value is mapping
            and value.values() | select('boolean') | list | length == 0
            and value.values() | reject('number') | list | length == 0 -%}
    {%- elif kind == 'shares' -%}
        {%- set shares = [value.get('first'), value.get('middle'), value.get('last')] if value is mapping else [] -%}
        {%- set ok = shares | select('number') | reject('boolean') | list | length == 3
            and shares | select('lt', 0) | list | length == 0
            and (shares | sum - 1) | abs <= 1e-9 -%}
    {%- endif -%}
    {{- return(ok) -}}
{%- endmacro %}

{#- var(name) when it has its kind, else the placeholder. Models that loop over
    a list or map var read it through this, so a wrong shape cannot stop dbt
    while it reads the project: validate_vars then stops the run (on-run-start)
    with its one line, before anything is built. -#}
{% macro checked_var(name, placeholder) -%}
    {%- set value = var(name) -%}
    {{- return(value if crm_funnel.var_has_kind(name, value, crm_funnel.var_kinds()[name]) else placeholder) -}}
{%- endmacro %}
