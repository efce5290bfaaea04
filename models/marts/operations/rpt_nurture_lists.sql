{#- Who gets which nurture sequence now: contacts on a track with a cadence,
    in a contactable state, whose next touch is due (last outbound touch plus
    the track's cadence; never touched: when they became a lead). -#}

{%- set as_of = as_of_timestamp() -%}
{%- set overdue_microseconds = dbt.datediff('due_at', as_of, 'microsecond') -%}

with

contacts as (

    select * from {{ ref('dim_contacts') }}

),

nurture_tracks as (

    select * from {{ ref('nurture_tracks') }}

),

contactable_states as (

    select lifecycle_state
    from {{ ref('lifecycle_states') }}
    where is_contactable

),

scheduled as (

    select
        contacts.contact_id,
        contacts.email,
        contacts.nurture_track,
        nurture_tracks.channels,
        nurture_tracks.cadence_days,
        contacts.lifecycle_state,
        contacts.funnel_stage,
        contacts.last_outbound_touch_at,
        coalesce(
            {{ dbt.dateadd('day', 'nurture_tracks.cadence_days', 'contacts.last_outbound_touch_at') }},
            contacts.became_lead_at
        ) as due_at
    from contacts
    inner join nurture_tracks
        on contacts.nurture_track = nurture_tracks.nurture_track
    inner join contactable_states
        on contacts.lifecycle_state = contactable_states.lifecycle_state
    where
        contacts.nurture_track != '{{ var("opted_out_nurture_track") }}'
        and nurture_tracks.cadence_days is not null

),

final as (

    select
        -- ids
        contact_id,

        -- strings
        email,
        nurture_track,
        channels,
        lifecycle_state,
        funnel_stage,

        -- numerics
        cadence_days,
        cast(
            floor(
                cast({{ overdue_microseconds }} as {{ type_double() }})
                / 86400000000
            ) as {{ dbt.type_bigint() }}
        ) as days_overdue,

        -- timestamps
        last_outbound_touch_at,
        due_at

    from scheduled
    where due_at <= {{ as_of }}

)

select * from final
