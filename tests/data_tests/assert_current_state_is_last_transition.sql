{#- A contact's lifecycle_state and lifecycle_state_since in dim_contacts are
    the to_state and time of its last transition. Returns the contacts where
    they differ (or that have no transition). -#}

with

contacts as (

    select * from {{ ref('dim_contacts') }}

),

transitions as (

    select * from {{ ref('fct_lifecycle_transitions') }}

),

last_transitions as (

    select
        contact_id,
        to_state,
        transitioned_at,
        row_number() over (
            partition by contact_id
            order by transition_number desc
        ) as recency_rank
    from transitions

)

select
    contacts.contact_id,
    contacts.lifecycle_state,
    last_transitions.to_state
from contacts
left join last_transitions
    on
        contacts.contact_id = last_transitions.contact_id
        and last_transitions.recency_rank = 1
where
    last_transitions.to_state is null
    or contacts.lifecycle_state != last_transitions.to_state
    or contacts.lifecycle_state_since != last_transitions.transitioned_at
