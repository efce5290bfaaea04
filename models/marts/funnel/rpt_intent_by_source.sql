{#- Average and median intent score of the contacts each lead source brought. -#}

with

contacts as (

    select * from {{ ref('dim_contacts') }}

),

final as (

    select
        -- strings
        lead_source,

        -- numerics
        cast(count(*) as {{ dbt.type_bigint() }}) as contacts,
        cast(avg(intent_score) as {{ type_double() }}) as avg_intent_score,
        cast({{ percentile('intent_score', 0.5) }} as {{ type_double() }}) as median_intent_score

    from contacts
    group by lead_source

)

select * from final
