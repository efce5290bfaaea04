{#- One row per active client (lifecycle state Customer, VIP or Alumni) with
    the funnel they came from: the `lifecycle_states` funnel of the state they
    left on their first move into a client state ('Direct' when they entered as
    a client; 'None' when that state is in no funnel). -#}

{%- set client_states = ['Customer', 'VIP', 'Alumni'] %}

with

contacts as (

    select * from {{ ref('dim_contacts') }}

),

transitions as (

    select * from {{ ref('fct_lifecycle_transitions') }}

),

lifecycle_states as (

    select * from {{ ref('lifecycle_states') }}

),

client_transitions as (

    select
        contact_id,
        from_state,
        transitioned_at,
        row_number() over (
            partition by contact_id
            order by transition_number
        ) as client_transition_number
    from transitions
    where {{ in_list('to_state', client_states) }}

),

first_client_transitions as (

    select
        client_transitions.contact_id,
        client_transitions.transitioned_at as became_client_at,
        case
            when client_transitions.from_state is null then 'Direct'
            else coalesce(lifecycle_states.lifecycle_funnel, 'None')
        end as source_funnel
    from client_transitions
    left join lifecycle_states
        on client_transitions.from_state = lifecycle_states.lifecycle_state
    where client_transitions.client_transition_number = 1

),

final as (

    select
        -- ids
        contacts.contact_id,

        -- strings
        contacts.email,
        contacts.company,
        contacts.lifecycle_state,
        first_client_transitions.source_funnel,
        contacts.first_touch_channel,

        -- numerics
        contacts.lifetime_revenue,
        contacts.referrals_given,

        -- timestamps
        first_client_transitions.became_client_at,
        contacts.became_customer_at,
        contacts.lifecycle_state_since

    from contacts
    inner join first_client_transitions
        on contacts.contact_id = first_client_transitions.contact_id
    where {{ in_list('contacts.lifecycle_state', client_states) }}

)

select * from final
