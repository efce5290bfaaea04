{#- One row per campaign id of the campaigns file: the valid row of the latest
    load that has it (latest loaded_at, then load id). The id is kept as given
    (stripped), as events carry it in `properties.campaign_id`. -#}

with

campaigns as (

    select * from {{ ref('int_campaigns_validated') }}
    where is_valid

),

ranked as (

    select
        *,
        row_number() over (
            partition by campaign_id
            order by loaded_at desc, load_id desc, row_number desc
        ) as recency
    from campaigns

),

final as (

    select
        -- ids
        campaign_id,
        load_id,

        -- strings
        campaign_name,
        goal,
        channel,
        status,
        target_segment,
        owner,
        source_file,

        -- numerics
        row_number,

        -- dates
        starts_on,
        ends_on

    from ranked
    where recency = 1

)

select * from final
