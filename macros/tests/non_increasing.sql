{#- Fails where the column grows from one row to the next in `order_by` order
    (within each `partition_by` group when given). -#}
{% test non_increasing(model, column_name, order_by, partition_by=none) %}

with

ordered as (

    select
        {{ column_name }} as current_value,
        lag({{ column_name }}) over (
            {% if partition_by %}partition by {{ partition_by }} {% endif -%}
            order by {{ order_by }}
        ) as previous_value
    from {{ model }}

)

select *
from ordered
where current_value > previous_value

{% endtest %}
