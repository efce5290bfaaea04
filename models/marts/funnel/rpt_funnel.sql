{#- The funnel: per stage, contacts there now, contacts that reached it or
    beyond, conversion to the next stage and drop-off. -#}

with

contacts as (

    select * from {{ ref('dim_contacts') }}

),

funnel_stages as (

    select * from {{ ref('funnel_stages') }}

),

contacts_per_stage as (

    select
        stage_order,
        count(*) as contacts_current
    from contacts
    group by stage_order

),

stage_counts as (

    select
        funnel_stages.funnel_stage,
        funnel_stages.stage_order,
        coalesce(contacts_per_stage.contacts_current, 0) as contacts_current
    from funnel_stages
    left join contacts_per_stage
        on funnel_stages.stage_order = contacts_per_stage.stage_order

),

reached as (

    select
        *,
        sum(contacts_current) over (
            order by stage_order desc
            rows between unbounded preceding and current row
        ) as contacts_reached
    from stage_counts

),

converted as (

    select
        *,
        {{ safe_divide('lead(contacts_reached) over (order by stage_order)', 'contacts_reached') }}
            as conversion_to_next
    from reached

),

final as (

    select
        -- strings
        funnel_stage,

        -- numerics
        stage_order,
        cast(contacts_current as {{ dbt.type_bigint() }}) as contacts_current,
        cast(contacts_reached as {{ dbt.type_bigint() }}) as contacts_reached,
        conversion_to_next,
        1 - conversion_to_next as drop_off_rate

    from converted

)

select * from final
