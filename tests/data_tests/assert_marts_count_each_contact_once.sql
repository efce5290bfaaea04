{#- Every contact is counted once in each funnel and lifecycle mart: the contacts
    of dim_contacts = the contacts with an activity = the contacts of rpt_funnel,
    rpt_channel_effectiveness, rpt_intent_by_source and rpt_funnel_membership (sums
    of their current counts) = the rows of rpt_contact_360 = the contacts with a
    lifecycle history. Returns each mart whose count differs, with both counts. -#}

with

counts as (

    select
        'fct_activities' as mart,
        count(distinct contact_id) as contacts
    from {{ ref('fct_activities') }}

    union all

    select
        'rpt_funnel' as mart,
        coalesce(sum(contacts_current), 0) as contacts
    from {{ ref('rpt_funnel') }}

    union all

    select
        'rpt_channel_effectiveness' as mart,
        coalesce(sum(contacts_current), 0) as contacts
    from {{ ref('rpt_channel_effectiveness') }}

    union all

    select
        'rpt_intent_by_source' as mart,
        coalesce(sum(contacts), 0) as contacts
    from {{ ref('rpt_intent_by_source') }}

    union all

    select
        'rpt_funnel_membership' as mart,
        coalesce(sum(contacts), 0) as contacts
    from {{ ref('rpt_funnel_membership') }}

    union all

    select
        'rpt_contact_360' as mart,
        count(*) as contacts
    from {{ ref('rpt_contact_360') }}

    union all

    select
        'fct_lifecycle_transitions' as mart,
        count(distinct contact_id) as contacts
    from {{ ref('fct_lifecycle_transitions') }}

),

dim as (

    select count(*) as contacts from {{ ref('dim_contacts') }}

)

select
    counts.mart,
    counts.contacts,
    dim.contacts as dim_contacts
from counts
cross join dim
where counts.contacts != dim.contacts
