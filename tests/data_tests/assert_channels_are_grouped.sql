{{ config(severity='warn') }}

{#- Lists the channels and lead sources the channel_groups seed does not map:
    values of fct_activities.channel and .lead_source and of the spend sheet's
    channel that are not a channel group of the seed (nor the var
    unknown_channel). They keep their lower-cased name; add a row to the seed
    to group them. Returns each value, where it was seen and how many rows. -#}

with

channel_groups as (

    select * from {{ ref('channel_groups') }}

),

activities as (

    select * from {{ ref('fct_activities') }}

),

spend as (

    select * from {{ ref('int_channel_spend_converted') }}

),

seen as (

    select
        'activity channel' as seen_in,
        channel as raw_value
    from activities

    union all

    select
        'activity lead_source' as seen_in,
        lead_source as raw_value
    from activities
    where lead_source is not null

    union all

    select
        'spend channel' as seen_in,
        channel as raw_value
    from spend

),

known_groups as (

    select distinct channel_group
    from channel_groups

)

select
    seen.seen_in,
    seen.raw_value,
    count(*) as rows_seen
from seen
left join known_groups
    on seen.raw_value = known_groups.channel_group
where
    known_groups.channel_group is null
    and seen.raw_value != '{{ var("unknown_channel") }}'
group by seen.seen_in, seen.raw_value
