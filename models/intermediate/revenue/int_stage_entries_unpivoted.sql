{#- One row per contact and funnel stage it reached, with the time it entered the
    stage (dim_contacts.became_<stage>_at): what the revenue marts count per
    period, cohort and channel. A stage the contact skipped carries the time of
    the higher stage that implied it (stages are monotone), so a contact that
    reached a stage has an entry for every stage below it too. -#}

with

contacts as (

    select * from {{ ref('int_contacts_joined') }}

),

funnel_stages as (

    select * from {{ ref('funnel_stages') }}

),

unpivoted as (

    {%- for stage in ['Lead', 'MQL', 'SQL', 'Opportunity', 'Customer'] %}
        select
            contact_id,
            first_touch_channel,
            '{{ stage }}' as funnel_stage,
            lifetime_revenue,
            became_{{ stage | lower }}_at as entered_at,
            became_lead_at,
            became_customer_at
        from contacts
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

final as (

    select
        -- ids
        unpivoted.contact_id,

        -- strings
        unpivoted.first_touch_channel,
        unpivoted.funnel_stage,

        -- numerics
        funnel_stages.stage_order,
        unpivoted.lifetime_revenue,

        -- timestamps
        unpivoted.entered_at,
        unpivoted.became_lead_at,
        unpivoted.became_customer_at

    from unpivoted
    inner join funnel_stages
        on unpivoted.funnel_stage = funnel_stages.funnel_stage
    where unpivoted.entered_at is not null

)

select * from final
