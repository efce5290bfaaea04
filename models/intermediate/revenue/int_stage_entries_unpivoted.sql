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

    select
        contact_id,
        'Lead' as funnel_stage,
        became_lead_at as entered_at
    from contacts

    union all

    select
        contact_id,
        'MQL' as funnel_stage,
        became_mql_at as entered_at
    from contacts

    union all

    select
        contact_id,
        'SQL' as funnel_stage,
        became_sql_at as entered_at
    from contacts

    union all

    select
        contact_id,
        'Opportunity' as funnel_stage,
        became_opportunity_at as entered_at
    from contacts

    union all

    select
        contact_id,
        'Customer' as funnel_stage,
        became_customer_at as entered_at
    from contacts

),

final as (

    select
        -- ids
        unpivoted.contact_id,

        -- strings
        contacts.first_touch_channel,
        unpivoted.funnel_stage,

        -- numerics
        funnel_stages.stage_order,
        contacts.lifetime_revenue,

        -- timestamps
        unpivoted.entered_at,
        contacts.became_lead_at,
        contacts.became_customer_at

    from unpivoted
    inner join contacts
        on unpivoted.contact_id = contacts.contact_id
    inner join funnel_stages
        on unpivoted.funnel_stage = funnel_stages.funnel_stage
    where unpivoted.entered_at is not null

)

select * from final
