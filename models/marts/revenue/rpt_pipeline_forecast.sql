{#- Pipeline forecast: for the contacts open at as_of (their highest stage
    reached by then is below the last, Customer), per stage, first-touch channel
    and horizon (var forecast_horizons_days), how many are expected to become
    customers within the horizon and the revenue they should bring. Rates are
    learnt from the contacts that entered the same stage in the
    forecast_history_days before as_of (the channel's own, or all channels' when
    the channel has fewer than forecast_min_history_contacts of them): a contact
    open for d days in its stage becomes a customer within h days with the share
    of the history contacts not yet customers d days after entering the stage
    that became customers on day d+1 to d+h. -#}

{%- set min_history = var('forecast_min_history_contacts') -%}

with

entries as (

    select * from {{ ref('int_stage_entries_unpivoted') }}

),

funnel_stages as (

    select * from {{ ref('funnel_stages') }}

),

horizons as (

    {% for horizon_days in checked_var('forecast_horizons_days', []) -%}
        select {{ horizon_days }} as horizon_days
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

last_stage as (

    select max(stage_order) as stage_order
    from funnel_stages

),

entries_until_as_of as (

    select entries.*
    from entries
    where entries.entered_at <= {{ as_of_timestamp() }}

),

current_stages as (

    select
        contact_id,
        max(stage_order) as stage_order
    from entries_until_as_of
    group by contact_id

),

open_contacts as (

    select
        entries_until_as_of.funnel_stage,
        entries_until_as_of.stage_order,
        entries_until_as_of.first_touch_channel,
        {{ dbt.datediff('entries_until_as_of.entered_at', as_of_timestamp(), 'day') }} as days_in_stage  -- noqa: LT05
    from entries_until_as_of
    inner join current_stages
        on
            entries_until_as_of.contact_id = current_stages.contact_id
            and entries_until_as_of.stage_order = current_stages.stage_order
    inner join last_stage
        on entries_until_as_of.stage_order < last_stage.stage_order

),

open_groups as (

    select
        funnel_stage,
        stage_order,
        first_touch_channel,
        days_in_stage,
        count(*) as open_contacts
    from open_contacts
    group by funnel_stage, stage_order, first_touch_channel, days_in_stage

),

history as (

    select
        entries.funnel_stage,
        entries.first_touch_channel,
        case
            when entries.became_customer_at <= {{ as_of_timestamp() }}
                then {{ dbt.datediff('entries.entered_at', 'entries.became_customer_at', 'day') }}
        end as days_to_customer
    from entries
    inner join last_stage
        on entries.stage_order < last_stage.stage_order
    where
        entries.entered_at >= {{ dbt.dateadd('day', -1 * var('forecast_history_days'), as_of_timestamp()) }}
        and entries.entered_at < {{ as_of_timestamp() }}

),

history_scoped as (

    select
        funnel_stage,
        first_touch_channel,
        false as is_pooled_history,
        days_to_customer
    from history

    union all

    select
        funnel_stage,
        '(all channels)' as first_touch_channel,
        true as is_pooled_history,
        days_to_customer
    from history

),

history_stats as (

    select
        funnel_stage,
        first_touch_channel,
        is_pooled_history,
        count(*) as history_contacts,
        count(days_to_customer) as history_customers,
        {{ percentile('days_to_customer', 0.5) }} as median_days_to_customer
    from history_scoped
    group by funnel_stage, first_touch_channel, is_pooled_history

),

history_conversion_days as (

    select
        funnel_stage,
        first_touch_channel,
        is_pooled_history,
        days_to_customer,
        count(*) as customers
    from history_scoped
    where days_to_customer is not null
    group by funnel_stage, first_touch_channel, is_pooled_history, days_to_customer

),

new_customers as (

    select
        entries.first_touch_channel,
        entries.lifetime_revenue
    from entries
    inner join last_stage
        on entries.stage_order = last_stage.stage_order
    where
        entries.entered_at >= {{ dbt.dateadd('day', -1 * var('forecast_history_days'), as_of_timestamp()) }}
        and entries.entered_at < {{ as_of_timestamp() }}

),

customer_revenue as (

    select
        first_touch_channel,
        false as is_pooled_revenue,
        count(*) as customers,
        avg(coalesce(lifetime_revenue, 0)) as avg_customer_revenue
    from new_customers
    group by first_touch_channel

    union all

    select
        '(all channels)' as first_touch_channel,
        true as is_pooled_revenue,
        count(*) as customers,
        avg(coalesce(lifetime_revenue, 0)) as avg_customer_revenue
    from new_customers

),

channel_history_sizes as (

    select
        open_groups.*,
        coalesce(channel_stats.history_contacts >= {{ min_history }}, false) as has_channel_history,
        coalesce(channel_revenue.customers >= {{ min_history }}, false) as has_channel_revenue
    from open_groups
    left join history_stats as channel_stats
        on
            open_groups.funnel_stage = channel_stats.funnel_stage
            and open_groups.first_touch_channel = channel_stats.first_touch_channel
            and not channel_stats.is_pooled_history
    left join customer_revenue as channel_revenue
        on
            open_groups.first_touch_channel = channel_revenue.first_touch_channel
            and not channel_revenue.is_pooled_revenue

),

open_scoped as (

    select
        funnel_stage,
        stage_order,
        first_touch_channel,
        days_in_stage,
        open_contacts,
        case when has_channel_history then first_touch_channel else '(all channels)' end as history_channel,
        case when has_channel_revenue then first_touch_channel else '(all channels)' end as revenue_channel,
        not has_channel_history as is_pooled_history,
        not has_channel_revenue as is_pooled_revenue
    from channel_history_sizes

),

open_probabilities as (

    select
        open_scoped.funnel_stage,
        open_scoped.stage_order,
        open_scoped.first_touch_channel,
        open_scoped.history_channel,
        open_scoped.revenue_channel,
        open_scoped.is_pooled_history,
        open_scoped.is_pooled_revenue,
        open_scoped.days_in_stage,
        open_scoped.open_contacts,
        horizons.horizon_days,
        history_stats.history_contacts,
        coalesce(sum(
            case
                when
                    history_conversion_days.days_to_customer > open_scoped.days_in_stage
                    and history_conversion_days.days_to_customer <= open_scoped.days_in_stage + horizons.horizon_days
                    then history_conversion_days.customers
                else 0
            end
        ), 0) as converting_in_horizon,
        coalesce(sum(
            case
                when history_conversion_days.days_to_customer <= open_scoped.days_in_stage
                    then history_conversion_days.customers
                else 0
            end
        ), 0) as converted_before
    from open_scoped
    cross join horizons
    left join history_stats
        on
            open_scoped.funnel_stage = history_stats.funnel_stage
            and open_scoped.history_channel = history_stats.first_touch_channel
            and open_scoped.is_pooled_history = history_stats.is_pooled_history
    left join history_conversion_days
        on
            history_stats.funnel_stage = history_conversion_days.funnel_stage
            and history_stats.first_touch_channel = history_conversion_days.first_touch_channel
            and history_stats.is_pooled_history = history_conversion_days.is_pooled_history
    group by
        open_scoped.funnel_stage,
        open_scoped.stage_order,
        open_scoped.first_touch_channel,
        open_scoped.history_channel,
        open_scoped.revenue_channel,
        open_scoped.is_pooled_history,
        open_scoped.is_pooled_revenue,
        open_scoped.days_in_stage,
        open_scoped.open_contacts,
        horizons.horizon_days,
        history_stats.history_contacts

),

expected as (

    select
        funnel_stage,
        stage_order,
        first_touch_channel,
        history_channel,
        revenue_channel,
        is_pooled_history,
        is_pooled_revenue,
        horizon_days,
        sum(open_contacts) as open_contacts,
        sum(
            cast(
                open_contacts
                * coalesce({{ safe_divide('converting_in_horizon', 'history_contacts - converted_before') }}, 0)
                as {{ dbt.type_numeric() }}
            )
        ) as expected_customers
    from open_probabilities
    group by
        funnel_stage,
        stage_order,
        first_touch_channel,
        history_channel,
        revenue_channel,
        is_pooled_history,
        is_pooled_revenue,
        horizon_days

),

final as (

    select
        -- strings
        expected.funnel_stage,
        expected.first_touch_channel,
        '{{ var("reporting_currency") }}' as currency,

        -- numerics
        expected.stage_order,
        cast(expected.horizon_days as {{ dbt.type_int() }}) as horizon_days,
        cast(expected.open_contacts as {{ dbt.type_bigint() }}) as open_contacts,
        cast(coalesce(history_stats.history_contacts, 0) as {{ dbt.type_bigint() }}) as history_contacts,
        cast(coalesce(history_stats.history_customers, 0) as {{ dbt.type_bigint() }}) as history_customers,
        {{ safe_divide('history_stats.history_customers', 'history_stats.history_contacts') }} as conversion_rate,
        cast(history_stats.median_days_to_customer as {{ type_double() }}) as median_days_to_customer,
        cast(expected.expected_customers as {{ dbt.type_numeric() }}) as expected_customers,
        cast(customer_revenue.avg_customer_revenue as {{ dbt.type_numeric() }}) as avg_customer_revenue,
        cast(
            expected.expected_customers * customer_revenue.avg_customer_revenue as {{ dbt.type_numeric() }}
        ) as expected_revenue,

        -- booleans
        expected.is_pooled_history,
        expected.is_pooled_revenue,

        -- timestamps
        {{ as_of_timestamp() }} as forecast_as_of,
        {{ dbt.dateadd('day', 'expected.horizon_days', as_of_timestamp()) }} as forecast_until

    from expected
    left join history_stats
        on
            expected.funnel_stage = history_stats.funnel_stage
            and expected.history_channel = history_stats.first_touch_channel
            and expected.is_pooled_history = history_stats.is_pooled_history
    left join customer_revenue
        on
            expected.revenue_channel = customer_revenue.first_touch_channel
            and expected.is_pooled_revenue = customer_revenue.is_pooled_revenue

)

select * from final
