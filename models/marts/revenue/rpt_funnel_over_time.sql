{#- New contacts per funnel stage per week and per month (UTC, weeks start on
    Monday), from the first period with a stage entry or a target up to the
    period of as_of, beside the monthly plan of the `funnel_targets` seed. -#}

{#- The spine needs an upper bound at compile time: the weeks from the earliest
    valid event (var min_event_date) to as_of. -#}
{%- set since = parse_var_timestamp('min_event_date', var('min_event_date')) -%}
{%- if var('as_of') is none or var('as_of') == '' -%}
    {%- set until = run_started_at.replace(tzinfo=none) -%}
{%- else -%}
    {%- set until = parse_var_timestamp('as_of', var('as_of')) -%}
{%- endif -%}
{%- set max_periods = [(until - since).days // 7 + 2, 2] | max -%}

with

entries as (

    select * from {{ ref('int_stage_entries_unpivoted') }}

),

funnel_stages as (

    select * from {{ ref('funnel_stages') }}

),

funnel_targets as (

    select * from {{ ref('funnel_targets') }}

),

numbers as (

    {{ dbt.generate_series(max_periods) }}  -- noqa: LT15

),

period_numbers as (

    select cast(generated_number as {{ dbt.type_int() }}) - 1 as period_number
    from numbers

),

as_of_periods as (

    select
        cast({{ dbt.date_trunc('week', as_of_timestamp()) }} as date) as as_of_week,
        cast({{ dbt.date_trunc('month', as_of_timestamp()) }} as date) as as_of_month

),

entries_until_as_of as (

    select
        funnel_stage,
        cast({{ dbt.date_trunc('week', 'entered_at') }} as date) as entered_week,
        cast({{ dbt.date_trunc('month', 'entered_at') }} as date) as entered_month
    from entries
    where entered_at <= {{ as_of_timestamp() }}

),

entries_per_period as (

    select
        'week' as grain,
        entered_week as period_start,
        funnel_stage,
        count(*) as new_contacts
    from entries_until_as_of
    group by entered_week, funnel_stage

    union all

    select
        'month' as grain,
        entered_month as period_start,
        funnel_stage,
        count(*) as new_contacts
    from entries_until_as_of
    group by entered_month, funnel_stage

),

targets as (

    select
        'month' as grain,
        cast({{ dbt.date_trunc('month', 'funnel_targets.target_month') }} as date) as period_start,
        funnel_targets.funnel_stage,
        funnel_targets.target_contacts
    from funnel_targets
    cross join as_of_periods
    where funnel_targets.target_month <= as_of_periods.as_of_month

),

first_periods as (

    select
        grain,
        min(period_start) as first_start
    from (
        select
            grain,
            period_start
        from entries_per_period
        union all
        select
            grain,
            period_start
        from targets
    ) as periods_with_data
    group by grain

),

spine as (

    select
        first_periods.grain,
        cast(
            case
                when first_periods.grain = 'week'
                    then {{ dbt.dateadd('day', 'period_numbers.period_number * 7', 'first_periods.first_start') }}
                else {{ dbt.dateadd('month', 'period_numbers.period_number', 'first_periods.first_start') }}
            end
            as date
        ) as period_start
    from first_periods
    cross join period_numbers

),

periods as (

    select
        spine.grain,
        spine.period_start,
        cast(
            case
                when spine.grain = 'week' then {{ dbt.dateadd('day', 7, 'spine.period_start') }}
                else {{ dbt.dateadd('month', 1, 'spine.period_start') }}
            end
            as date
        ) as next_period_start
    from spine
    cross join as_of_periods
    where
        spine.period_start <= case
            when spine.grain = 'week' then as_of_periods.as_of_week
            else as_of_periods.as_of_month
        end

),

final as (

    select
        -- strings
        periods.grain,
        funnel_stages.funnel_stage,

        -- numerics
        funnel_stages.stage_order,
        cast(coalesce(entries_per_period.new_contacts, 0) as {{ dbt.type_bigint() }}) as new_contacts,
        cast(targets.target_contacts as {{ dbt.type_bigint() }}) as target_contacts,
        cast(
            coalesce(entries_per_period.new_contacts, 0) - targets.target_contacts
            as {{ dbt.type_bigint() }}
        ) as target_variance,
        {{ safe_divide('coalesce(entries_per_period.new_contacts, 0)', 'targets.target_contacts') }}
            as target_attainment,

        -- booleans
        coalesce(
            cast(periods.next_period_start as {{ dbt.type_timestamp() }}) <= {{ as_of_timestamp() }}, false
        ) as is_complete_period,

        -- dates
        periods.period_start

    from periods
    cross join funnel_stages
    left join entries_per_period
        on
            periods.grain = entries_per_period.grain
            and periods.period_start = entries_per_period.period_start
            and funnel_stages.funnel_stage = entries_per_period.funnel_stage
    left join targets
        on
            periods.grain = targets.grain
            and periods.period_start = targets.period_start
            and funnel_stages.funnel_stage = targets.funnel_stage

)

select * from final
