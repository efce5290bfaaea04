{#- Points for an event type from the var `intent_weights`; 0 for a type not in the map. -#}
{% macro intent_weight(event_type) -%}
    {%- set weights = crm_funnel.checked_var('intent_weights', {}) -%}
    cast(case {{ event_type }}
        {%- for name, points in weights.items() %}
        when '{{ name }}' then {{ points }}
        {%- endfor %}
        else 0
    end as {{ type_double() }})
{%- endmacro %}
