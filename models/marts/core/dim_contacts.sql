{#- One row per contact: the public face of int_contacts_joined, which does the
    work (identity, first touch, intent score, funnel stage, lifecycle state and
    funnel, nurture track, deliverability and the contacts sheet's columns). -#}

with

contacts as (

    select * from {{ ref('int_contacts_joined') }}

)

select * from contacts
