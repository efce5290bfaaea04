{#- Stage velocity: per first-touch channel (and all channels together) and per
    step between consecutive funnel stages (plus first to last stage, Lead ->
    Customer), how many contacts made the step by as_of and the median and 75th
    percentile of the days it took (continuous percentiles, in fractional days).
    Only contacts who entered the two stages at distinct instants count: a
    skipped stage has the time of the stage that implied it (dim_contacts), so a
    contact who reached both at the same instant skipped (or was back-filled
    into) one of them and is counted in `skipped_contacts`, never as 0 days. -#}

with

entries as (

    select * from {{ ref('int_stage_entries_unpivoted') }}

),

funnel_stages as (

    select * from {{ ref('funnel_stages') }}

),

next_stages as (

    select
        funnel_stage as from_stage,
        stage_order as from_stage_order,
        lead(funnel_stage) over (
            order by stage_order
        ) as to_stage,
        lead(stage_order) over (
            order by stage_order
        ) as to_stage_order
    from funnel_stages

),

stage_range as (

    select
        min(stage_order) as first_stage_order,
        max(stage_order) as last_stage_order
    from funnel_stages

),

first_and_last_stages as (

    select
        first_stages.funnel_stage as from_stage,
        first_stages.stage_order as from_stage_order,
        last_stages.funnel_stage as to_stage,
        last_stages.stage_order as to_stage_order
    from stage_range
    inner join funnel_stages as first_stages
        on stage_range.first_stage_order = first_stages.stage_order
    inner join funnel_stages as last_stages
        on stage_range.last_stage_order = last_stages.stage_order
    where first_stages.stage_order < last_stages.stage_order

),

steps as (

    select
        from_stage,
        to_stage,
        from_stage_order,
        to_stage_order
    from next_stages
    where to_stage is not null

    union

    select
        from_stage,
        to_stage,
        from_stage_order,
        to_stage_order
    from first_and_last_stages

),

entries_until_as_of as (

    select *
    from entries
    where entered_at <= {{ as_of_timestamp() }}

),

contact_steps as (

    select
        from_entries.first_touch_channel,
        steps.from_stage,
        steps.to_stage,
        steps.from_stage_order,
        steps.to_stage_order,
        to_entries.entered_at = from_entries.entered_at as is_skipped,
        cast(
            {{ dbt.datediff('from_entries.entered_at', 'to_entries.entered_at', 'second') }}
            as {{ dbt.type_bigint() }}
        ) as step_seconds
    from steps
    inner join entries_until_as_of as from_entries
        on steps.from_stage = from_entries.funnel_stage
    inner join entries_until_as_of as to_entries
        on
            from_entries.contact_id = to_entries.contact_id
            and steps.to_stage = to_entries.funnel_stage

),

channel_scopes as (

    select
        first_touch_channel,
        from_stage,
        to_stage,
        from_stage_order,
        to_stage_order,
        is_skipped,
        step_seconds,
        false as is_all_channels
    from contact_steps

    union all

    select
        '(all channels)' as first_touch_channel,
        from_stage,
        to_stage,
        from_stage_order,
        to_stage_order,
        is_skipped,
        step_seconds,
        true as is_all_channels
    from contact_steps

),

passed_steps as (

    select
        *,
        case when not is_skipped then step_seconds end as passed_seconds,
        case when not is_skipped then cast(step_seconds as {{ type_double() }}) / 86400 end as passed_days
    from channel_scopes

),

final as (

    select
        -- strings
        first_touch_channel,
        from_stage,
        to_stage,

        -- numerics
        from_stage_order,
        to_stage_order,
        cast(count(passed_days) as {{ dbt.type_bigint() }}) as contacts,
        cast(sum(case when is_skipped then 1 else 0 end) as {{ dbt.type_bigint() }}) as skipped_contacts,
        {#- the mean of whole seconds: a sum of integers is exact, so two builds of the
            same data agree to the last digit (a sum of doubles depends on row order) -#}
        cast(avg(passed_seconds) as {{ type_double() }}) / 86400 as avg_days,
        cast({{ percentile('passed_days', 0.5) }} as {{ type_double() }}) as median_days,
        cast({{ percentile('passed_days', 0.75) }} as {{ type_double() }}) as p75_days,

        -- booleans
        is_all_channels

    from passed_steps
    group by
        first_touch_channel,
        is_all_channels,
        from_stage,
        to_stage,
        from_stage_order,
        to_stage_order

)

select * from final
