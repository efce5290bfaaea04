{#- Every rule-driven lifecycle move must be in the lifecycle_transitions seed
    (a first state matches a row with an empty from_state). Moves a person set,
    and moves out of a state a person set, are exempt. Returns the moves that
    are not allowed, with how often each happened. -#}

with

transitions as (

    select * from {{ ref('fct_lifecycle_transitions') }}

),

allowed as (

    select * from {{ ref('lifecycle_transitions') }}

),

rule_driven as (

    select *
    from transitions
    where not is_manual_override and not is_from_manual_override

)

select
    rule_driven.from_state,
    rule_driven.to_state,
    rule_driven.trigger,
    count(*) as transitions
from rule_driven
left join allowed
    on
        coalesce(rule_driven.from_state, '') = coalesce(allowed.from_state, '')
        and rule_driven.to_state = allowed.to_state
where allowed.to_state is null
group by rule_driven.from_state, rule_driven.to_state, rule_driven.trigger
