{#- The engagement summary: per contact and event type, how many events, how
    many in each recent window before as_of, and the intent points they earn
    (lifetime, and decayed by the optional half-life). -#}

{%- set half_life_days = var('intent_half_life_days') -%}
{%- set age_seconds = dbt.datediff('event_at', as_of_timestamp(), 'second') -%}

with

activities as (

    select * from {{ ref('int_activities_enriched') }}

),

aged as (

    select
        contact_id,
        event_type,
        event_at,
        intent_weight,
        cast({{ age_seconds }} as {{ type_double() }}) / 86400 as age_days
    from activities

),

final as (

    select
        -- ids
        contact_id,
        event_type,

        -- numerics
        count(*) as events_total,
        {%- for days in checked_var('engagement_window_days', []) %}
            sum(case when age_days >= 0 and age_days < {{ days }} then 1 else 0 end) as events_last_{{ days }}d,
        {%- endfor %}
        sum(intent_weight) as lifetime_intent_points,
        {%- if half_life_days is none %}
            sum(intent_weight) as intent_points,
        {%- else %}
            sum(intent_weight * power(0.5, greatest(age_days, 0) / {{ half_life_days }})) as intent_points,
        {%- endif %}

        -- timestamps
        min(event_at) as first_event_at,
        max(event_at) as last_event_at

    from aged
    group by contact_id, event_type

)

select * from final
