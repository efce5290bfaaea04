{#- One row per contact: lifetime intent score (sum of weights), current intent
    score (decayed when a half-life is set) and recent activity counts. -#}

with

engagement as (

    select * from {{ ref('int_contacts_engagement_summarized') }}

),

final as (

    select
        -- ids
        contact_id,

        -- numerics
        {%- for days in checked_var('engagement_window_days', []) %}
            sum(events_last_{{ days }}d) as events_last_{{ days }}d,
        {%- endfor %}
        sum(lifetime_intent_points) as lifetime_intent_score,
        sum(intent_points) as intent_score

    from engagement
    group by contact_id

)

select * from final
