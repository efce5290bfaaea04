{#- Who is in which lifecycle funnel now: one row per lifecycle funnel and
    state with its contacts and their share of all contacts. Contacts in no
    funnel (clients and excluded contacts) are shown under the funnel 'None'. -#}

with

contacts as (

    select * from {{ ref('dim_contacts') }}

),

lifecycle_states as (

    select * from {{ ref('lifecycle_states') }}

),

memberships as (

    select
        lifecycle_state,
        coalesce(lifecycle_funnel, 'None') as lifecycle_funnel,
        count(*) as contacts
    from contacts
    group by lifecycle_state, coalesce(lifecycle_funnel, 'None')

),

shares as (

    select
        memberships.*,
        lifecycle_states.precedence,
        sum(memberships.contacts) over (partition by memberships.lifecycle_funnel) as funnel_contacts,
        {{ safe_divide('memberships.contacts', 'sum(memberships.contacts) over ()') }} as share_of_contacts
    from memberships
    inner join lifecycle_states
        on memberships.lifecycle_state = lifecycle_states.lifecycle_state

),

final as (

    select
        -- strings
        lifecycle_funnel,
        lifecycle_state,

        -- numerics
        precedence,
        cast(contacts as {{ dbt.type_bigint() }}) as contacts,
        cast(funnel_contacts as {{ dbt.type_bigint() }}) as funnel_contacts,
        share_of_contacts

    from shares

)

select * from final
