{#- Every conversion in dim_contacts (reached SQL, became a customer) has, under
    each of the five attribution models, credits in rpt_attribution that sum to
    1 (within 1e-9) and revenue credits that sum to its revenue (within one
    unit of the sixth decimal per touch: each is rounded to numeric(28,6)); and
    rpt_attribution holds no other conversion. Returns each conversion and
    model that breaks it, with the sums. -#}

with

contacts as (

    select * from {{ ref('dim_contacts') }}

),

attribution as (

    select * from {{ ref('rpt_attribution') }}

),

conversions as (

    select
        contact_id,
        'sql' as conversion_type,
        cast(0 as {{ dbt.type_numeric() }}) as conversion_revenue
    from contacts
    where became_sql_at is not null

    union all

    select
        contact_id,
        'customer' as conversion_type,
        lifetime_revenue as conversion_revenue
    from contacts
    where became_customer_at is not null

),

attribution_models as (

    select 'first_touch' as attribution_model
    union all
    select 'last_touch' as attribution_model
    union all
    select 'linear' as attribution_model
    union all
    select 'time_decay' as attribution_model
    union all
    select 'position_based' as attribution_model

),

expected as (

    select
        conversions.contact_id,
        conversions.conversion_type,
        conversions.conversion_revenue,
        attribution_models.attribution_model
    from conversions
    cross join attribution_models

),

credited as (

    select
        contact_id,
        conversion_type,
        attribution_model,
        count(*) as touches,
        sum(credit) as credit_total,
        sum(revenue_credit) as revenue_credit_total
    from attribution
    group by contact_id, conversion_type, attribution_model

)

select
    expected.conversion_revenue,
    credited.touches,
    credited.credit_total,
    credited.revenue_credit_total,
    coalesce(expected.contact_id, credited.contact_id) as contact_id,
    coalesce(expected.conversion_type, credited.conversion_type) as conversion_type,
    coalesce(expected.attribution_model, credited.attribution_model) as attribution_model
from expected
full outer join credited
    on
        expected.contact_id = credited.contact_id
        and expected.conversion_type = credited.conversion_type
        and expected.attribution_model = credited.attribution_model
where
    expected.contact_id is null
    or credited.contact_id is null
    or abs(credited.credit_total - 1) > 1e-9
    or abs(credited.revenue_credit_total - expected.conversion_revenue) > 0.000001 * credited.touches
