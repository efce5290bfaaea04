{#- Guards the scoring and stage vars: every event type they name must exist
    in the `event_types` seed, so a typo cannot silently score 0 or disable a
    trigger. Returns one row per unknown name and the var it appears in. -#}

{%- set named = [] -%}
{%- for event_type in var('intent_weights').keys() -%}
    {%- do named.append(('intent_weights', event_type)) -%}
{%- endfor -%}
{%- set event_list_vars = [
    'mql_trigger_events', 'sql_trigger_events', 'opportunity_trigger_events',
    'customer_trigger_events', 'opt_out_events', 'resubscribe_events',
] -%}
{%- for var_name in event_list_vars -%}
    {%- for event_type in var(var_name) -%}
        {%- do named.append((var_name, event_type)) -%}
    {%- endfor -%}
{%- endfor -%}

with

named_event_types as (

    {% for var_name, event_type in named -%}
        select
            '{{ var_name }}' as var_name,
            '{{ event_type }}' as event_type
        {% if not loop.last %}union all
        {% endif -%}
    {%- endfor %}

),

event_types as (

    select * from {{ ref('event_types') }}

)

select named_event_types.*
from named_event_types
left join event_types
    on named_event_types.event_type = event_types.event_type
where event_types.event_type is null
