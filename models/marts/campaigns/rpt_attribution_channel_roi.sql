{#- Attributed ROAS and CPA: one row per attribution model, channel and
    calendar month (UTC) with the SQL and customer conversions and the revenue
    the model credits to the channel's touches (rpt_attribution, by the month
    of the conversion) beside the channel's spend (int_channel_spend_monthly,
    grouped channels, reporting currency). A month appears under every model
    when the channel has spend or attributed conversions in it; everything is
    counted up to as_of. -#}

{%- set attribution_models = ['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based'] -%}

with

attribution as (

    select * from {{ ref('rpt_attribution') }}

),

spend_per_month as (

    select * from {{ ref('int_channel_spend_monthly') }}

),

attributed_per_month as (

    select
        attribution_model,
        touch_channel as channel,
        cast({{ dbt.date_trunc('month', 'converted_at') }} as date) as calendar_month,
        {#- exact decimal sums: a sum of doubles depends on the order the rows
            arrive in, and two builds of the same data must agree -#}
        sum(
            cast(case when conversion_type = 'sql' then credit else 0 end as decimal(38, 18))
        ) as attributed_sqls,
        sum(
            cast(case when conversion_type = 'customer' then credit else 0 end as decimal(38, 18))
        ) as attributed_customers,
        sum(
            cast(case when conversion_type = 'customer' then revenue_credit else 0 end as decimal(38, 18))
        ) as attributed_revenue
    from attribution
    where converted_at <= {{ as_of_timestamp() }}
    group by
        attribution_model,
        touch_channel,
        cast({{ dbt.date_trunc('month', 'converted_at') }} as date)

),

attribution_models as (

    {% for attribution_model in attribution_models %}
        select '{{ attribution_model }}' as attribution_model
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

model_channel_months as (

    select
        attribution_models.attribution_model,
        spend_per_month.channel,
        spend_per_month.calendar_month
    from attribution_models
    cross join spend_per_month

    union

    select
        attribution_model,
        channel,
        calendar_month
    from attributed_per_month

),

joined as (

    select
        model_channel_months.attribution_model,
        model_channel_months.channel,
        model_channel_months.calendar_month,
        spend_per_month.spend,
        coalesce(attributed_per_month.attributed_sqls, 0) as attributed_sqls,
        coalesce(attributed_per_month.attributed_customers, 0) as attributed_customers,
        coalesce(attributed_per_month.attributed_revenue, 0) as attributed_revenue
    from model_channel_months
    left join spend_per_month
        on
            model_channel_months.channel = spend_per_month.channel
            and model_channel_months.calendar_month = spend_per_month.calendar_month
    left join attributed_per_month
        on
            model_channel_months.attribution_model = attributed_per_month.attribution_model
            and model_channel_months.channel = attributed_per_month.channel
            and model_channel_months.calendar_month = attributed_per_month.calendar_month

),

final as (

    select
        -- ids
        {{ surrogate_key(['attribution_model', 'channel', 'calendar_month']) }} as attribution_roi_id,

        -- strings
        attribution_model,
        channel,
        '{{ var("reporting_currency") }}' as currency,

        -- numerics
        cast(spend as {{ dbt.type_numeric() }}) as spend,
        cast(attributed_sqls as {{ type_double() }}) as attributed_sqls,
        cast(attributed_customers as {{ type_double() }}) as attributed_customers,
        cast(attributed_revenue as {{ dbt.type_numeric() }}) as attributed_revenue,
        {{ safe_divide('attributed_revenue', 'spend') }} as roas,
        cast({{ safe_divide('spend', 'attributed_sqls') }} as {{ dbt.type_numeric() }}) as cost_per_sql,
        cast({{ safe_divide('spend', 'attributed_customers') }} as {{ dbt.type_numeric() }}) as cpa,

        -- dates
        calendar_month

    from joined

)

select * from final
