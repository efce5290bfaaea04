{#- Signup-month cohorts: contacts grouped by the calendar month (UTC) in which
    they became a lead, followed month by month up to the month of as_of: how
    many of each cohort had reached each later funnel stage by the end of each
    month since signup (cumulative; month 0 is the signup month itself). -#}

{#- The spine needs an upper bound at compile time: the months from the earliest
    valid event (var min_event_date) to as_of. -#}
{%- set since = parse_var_timestamp('min_event_date', var('min_event_date')) -%}
{%- if var('as_of') is none or var('as_of') == '' -%}
    {%- set until = run_started_at.replace(tzinfo=none) -%}
{%- else -%}
    {%- set until = parse_var_timestamp('as_of', var('as_of')) -%}
{%- endif -%}
{%- set max_months = [(until.year - since.year) * 12 + until.month - since.month + 1, 2] | max -%}

with

entries as (

    select * from {{ ref('int_stage_entries_unpivoted') }}

),

funnel_stages as (

    select * from {{ ref('funnel_stages') }}

),

numbers as (

    {{ dbt.generate_series(max_months) }}  -- noqa: LT15

),

first_stage as (

    select min(stage_order) as stage_order
    from funnel_stages

),

entries_until_as_of as (

    select
        contact_id,
        funnel_stage,
        stage_order,
        cast({{ dbt.date_trunc('month', 'became_lead_at') }} as date) as cohort_month,
        cast({{ dbt.date_trunc('month', 'entered_at') }} as date) as entered_month
    from entries
    where entered_at <= {{ as_of_timestamp() }}

),

cohort_sizes as (

    select
        entries_until_as_of.cohort_month,
        count(*) as cohort_size
    from entries_until_as_of
    inner join first_stage
        on entries_until_as_of.stage_order = first_stage.stage_order
    group by entries_until_as_of.cohort_month

),

reached_per_month as (

    select
        entries_until_as_of.cohort_month,
        entries_until_as_of.funnel_stage,
        {{ dbt.datediff('entries_until_as_of.cohort_month', 'entries_until_as_of.entered_month', 'month') }}
            as months_since_signup,
        count(*) as contacts
    from entries_until_as_of
    inner join first_stage
        on entries_until_as_of.stage_order > first_stage.stage_order
    group by
        entries_until_as_of.cohort_month,
        entries_until_as_of.funnel_stage,
        {{ dbt.datediff('entries_until_as_of.cohort_month', 'entries_until_as_of.entered_month', 'month') }}

),

cohort_months as (

    select
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_size,
        cast(numbers.generated_number - 1 as {{ dbt.type_int() }}) as months_since_signup
    from cohort_sizes
    cross join numbers
    where
        numbers.generated_number - 1
        <= {{ dbt.datediff('cohort_sizes.cohort_month', dbt.date_trunc('month', as_of_timestamp()), 'month') }}

),

cohort_stage_months as (

    select
        cohort_months.cohort_month,
        cohort_months.cohort_size,
        cohort_months.months_since_signup,
        funnel_stages.funnel_stage,
        funnel_stages.stage_order,
        coalesce(reached_per_month.contacts, 0) as contacts
    from cohort_months
    cross join funnel_stages
    cross join first_stage
    left join reached_per_month
        on
            cohort_months.cohort_month = reached_per_month.cohort_month
            and cohort_months.months_since_signup = reached_per_month.months_since_signup
            and funnel_stages.funnel_stage = reached_per_month.funnel_stage
    where funnel_stages.stage_order > first_stage.stage_order

),

cumulated as (

    select
        *,
        sum(contacts) over (
            partition by cohort_month, funnel_stage
            order by months_since_signup
            rows between unbounded preceding and current row
        ) as contacts_reached
    from cohort_stage_months

),

final as (

    select
        -- strings
        funnel_stage,

        -- numerics
        months_since_signup,
        stage_order,
        cast(cohort_size as {{ dbt.type_bigint() }}) as cohort_size,
        cast(contacts_reached as {{ dbt.type_bigint() }}) as contacts_reached,
        {{ safe_divide('contacts_reached', 'cohort_size') }} as share_reached,

        -- booleans
        coalesce(
            cast({{ dbt.dateadd('month', 'months_since_signup + 1', 'cohort_month') }} as {{ dbt.type_timestamp() }})
            <= {{ as_of_timestamp() }},
            false
        ) as is_complete_period,

        -- dates
        cohort_month

    from cumulated

)

select * from final
