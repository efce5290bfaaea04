{#- Fails on every row where the boolean SQL expression is not true. -#}
{% test expression_holds(model, expression) %}

select *
from {{ model }}
where not coalesce({{ expression }}, false)

{% endtest %}
