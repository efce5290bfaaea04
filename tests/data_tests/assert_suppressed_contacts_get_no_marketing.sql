{#- Suppression never leaks: no contact of rpt_suppression_list is on a
    nurture list or has an orchestrator-queue item whose playbook action sends
    marketing (queue_playbook.sends_marketing). Returns each leak: the contact,
    its suppression reason and where it leaked. -#}

with

suppressions as (

    select * from {{ ref('rpt_suppression_list') }}

),

nurture_lists as (

    select * from {{ ref('rpt_nurture_lists') }}

),

queue_items as (

    select * from {{ ref('rpt_orchestrator_queue') }}

),

queue_playbook as (

    select * from {{ ref('queue_playbook') }}

),

leaks as (

    select
        suppressions.contact_id,
        suppressions.reason,
        'rpt_nurture_lists' as leaked_into,
        nurture_lists.nurture_track as detail
    from suppressions
    inner join nurture_lists
        on suppressions.contact_id = nurture_lists.contact_id

    union all

    select
        suppressions.contact_id,
        suppressions.reason,
        'rpt_orchestrator_queue' as leaked_into,
        queue_items.queue_type as detail
    from suppressions
    inner join queue_items
        on suppressions.contact_id = queue_items.contact_id
    inner join queue_playbook
        on queue_items.queue_type = queue_playbook.queue_type
    where queue_playbook.sends_marketing

)

select * from leaks
