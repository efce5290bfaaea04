{#- Slowly changing history (SCD2) of each contact's funnel stage, lifecycle
    state, score and nurture track, dated by the build's as_of: the state of any
    past date is the row whose [dbt_valid_from, dbt_valid_to) covers it. -#}
{% snapshot snap_contact_states %}

    select
        contact_id,
        funnel_stage,
        lifecycle_state,
        lifecycle_funnel,
        nurture_track,
        intent_score,
        state_as_of
    from {{ ref('dim_contacts') }}

{% endsnapshot %}
