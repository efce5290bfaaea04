{#- Multi-touch attribution: one row per conversion, attribution model and
    touch (int_conversion_touches_ranked: touches strictly before the
    conversion; a conversion without one has a single '(no prior touch)' row), with the touch's share of the
    conversion (credit) and of its revenue. For each conversion and model the
    credits sum to 1 (tests/data_tests/assert_attribution_credits_sum_to_one.sql).
    Models: first_touch and last_touch (all to one touch), linear (1 / touches),
    time_decay (weight 2 ^ (-days before the conversion / var
    attribution_half_life_days), normalised) and position_based (var
    attribution_position_weights: first and last share, the middle share split
    evenly; normalised, see the model description). -#}

{%- set weights = checked_var('attribution_position_weights', {'first': 1, 'middle': 0, 'last': 0}) -%}
{%- set half_life = var('attribution_half_life_days') -%}
{%- set all_three = weights.first + weights.middle + weights.last -%}
{%- set ends = weights.first + weights.last -%}
{#- Two touches: the first and last shares renormalised (halves when both are 0). -#}
{%- set first_of_two = (weights.first / ends) if ends > 0 else 0.5 -%}
{%- set last_of_two = (weights.last / ends) if ends > 0 else 0.5 -%}
{%- set attribution_models = ['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based'] -%}

with

touches as (

    select * from {{ ref('int_conversion_touches_ranked') }}

),

decayed as (

    select
        *,
        {#- 2 ^ -1000 is still a positive double: a very old touch never underflows. -#}
        power(
            cast(2 as {{ type_double() }}),
            greatest(-1 * coalesce(days_before_conversion, 0) / {{ half_life }}, -1000)
        ) as decay_weight
    from touches

),

credited as (

    select
        *,
        cast(case when touch_position = 1 then 1 else 0 end as {{ type_double() }}) as first_touch_credit,
        cast(case when touch_position = touch_count then 1 else 0 end as {{ type_double() }}) as last_touch_credit,
        cast(1 as {{ type_double() }}) / touch_count as linear_credit,
        {#- summed in touch order, so every build adds the doubles alike (to the last digit) -#}
        decay_weight / sum(decay_weight) over (
            partition by conversion_id
            order by touch_position
            rows between unbounded preceding and unbounded following
        ) as time_decay_credit,
        cast(
            case
                when touch_count = 1 then 1
                when touch_count = 2 and touch_position = 1 then {{ first_of_two }}
                when touch_count = 2 then {{ last_of_two }}
                when touch_position = 1 then {{ weights.first / all_three }}
                when touch_position = touch_count then {{ weights.last / all_three }}
                else cast({{ weights.middle / all_three }} as {{ type_double() }}) / (touch_count - 2)
            end
            as {{ type_double() }}
        ) as position_based_credit
    from decayed

),

unpivoted as (

    {% for attribution_model in attribution_models %}
        select
            conversion_id,
            contact_id,
            touch_activity_id,
            touch_campaign_id,
            conversion_type,
            '{{ attribution_model }}' as attribution_model,
            touch_event_type,
            touch_channel,
            touch_position,
            touch_count,
            days_before_conversion,
            {{ attribution_model }}_credit as credit,
            conversion_revenue,
            has_prior_touch,
            converted_at,
            touch_at
        from credited
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        -- ids
        {{ surrogate_key(['conversion_id', 'attribution_model', 'touch_activity_id']) }} as attribution_credit_id,
        conversion_id,
        contact_id,
        touch_activity_id,
        touch_campaign_id,

        -- strings
        conversion_type,
        attribution_model,
        touch_event_type,
        touch_channel,
        '{{ var("reporting_currency") }}' as currency,

        -- numerics
        touch_position,
        touch_count,
        days_before_conversion,
        credit,
        conversion_revenue,
        cast(credit * conversion_revenue as {{ dbt.type_numeric() }}) as revenue_credit,

        -- booleans
        has_prior_touch,

        -- timestamps
        converted_at,
        touch_at

    from unpivoted

)

select * from final
