{#- One row per active client (a lifecycle state with is_client in the
    lifecycle_states seed: Customer, VIP, Alumni) with the funnel they came from:
    the `lifecycle_states` funnel of the state they left on their first move into
    a client state ('Direct' when they entered as a client; 'None' when that
    state is in no funnel). -#}

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

client_states as (

    select lifecycle_state
    from lifecycle_states
    where is_client

),

client_transitions as (

    select
        transitions.contact_id,
        transitions.from_state,
        transitions.transitioned_at,
        row_number() over (
            partition by transitions.contact_id
            order by transitions.transition_number
        ) as client_transition_number
    from transitions
    inner join client_states
        on transitions.to_state = client_states.lifecycle_state

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
    inner join client_states
        on contacts.lifecycle_state = client_states.lifecycle_state
    inner join first_client_transitions
        on contacts.contact_id = first_client_transitions.contact_id

)

select * from final
