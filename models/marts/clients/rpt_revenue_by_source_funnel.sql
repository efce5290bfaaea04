{#- Active clients and their lifetime revenue (reporting currency) per source
    funnel: which lifecycle funnel the paying clients came from. -#}

with

clients as (

    select * from {{ ref('rpt_active_clients') }}

),

per_funnel as (

    select
        source_funnel,
        count(*) as active_clients,
        sum(lifetime_revenue) as lifetime_revenue
    from clients
    group by source_funnel

),

final as (

    select
        -- strings
        source_funnel,
        '{{ var("reporting_currency") }}' as currency,

        -- numerics
        cast(active_clients as {{ dbt.type_bigint() }}) as active_clients,
        cast(lifetime_revenue as {{ dbt.type_numeric() }}) as lifetime_revenue,
        cast(lifetime_revenue / active_clients as {{ dbt.type_numeric() }}) as revenue_per_client,
        {{ safe_divide('lifetime_revenue', 'sum(lifetime_revenue) over ()') }} as share_of_revenue

    from per_funnel

)

select * from final
