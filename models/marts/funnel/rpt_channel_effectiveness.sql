{#- The funnel per first-touch channel: which channels bring contacts that
    convert. One row per channel and stage. -#}

with

contacts as (

    select * from {{ ref('dim_contacts') }}

),

funnel_stages as (

    select * from {{ ref('funnel_stages') }}

),

contacts_per_channel_stage as (

    select
        first_touch_channel,
        stage_order,
        count(*) as contacts_current
    from contacts
    group by first_touch_channel, stage_order

),

channels as (

    select distinct first_touch_channel
    from contacts_per_channel_stage

),

channel_stages as (

    select
        channels.first_touch_channel,
        funnel_stages.funnel_stage,
        funnel_stages.stage_order
    from channels
    cross join funnel_stages

),

stage_counts as (

    select
        channel_stages.*,
        coalesce(contacts_per_channel_stage.contacts_current, 0) as contacts_current
    from channel_stages
    left join contacts_per_channel_stage
        on
            channel_stages.first_touch_channel = contacts_per_channel_stage.first_touch_channel
            and channel_stages.stage_order = contacts_per_channel_stage.stage_order

),

reached as (

    select
        *,
        sum(contacts_current) over (
            partition by first_touch_channel
            order by stage_order desc
            rows between unbounded preceding and current row
        ) as contacts_reached
    from stage_counts

),

converted as (

    select
        *,
        {{ safe_divide(
            'lead(contacts_reached) over (partition by first_touch_channel order by stage_order)',
            'contacts_reached'
        ) }} as conversion_to_next,
        {{ safe_divide(
            'contacts_reached',
            'max(contacts_reached) over (partition by first_touch_channel)'
        ) }} as conversion_from_lead
    from reached

),

final as (

    select
        -- strings
        first_touch_channel,
        funnel_stage,

        -- numerics
        stage_order,
        cast(contacts_current as {{ dbt.type_bigint() }}) as contacts_current,
        cast(contacts_reached as {{ dbt.type_bigint() }}) as contacts_reached,
        conversion_to_next,
        conversion_from_lead

    from converted

)

select * from final
