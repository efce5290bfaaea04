{#- A select of one column `n` with the whole numbers 0 .. count - 1, from
    cross-joined digits (plain SQL on every engine; Spark has no
    generate_series). -#}
{% macro numbers(count) -%}
    {%- set levels = (count - 1) | string | length -%}
select n
from (
    select
        {% for level in range(levels) -%}
            digits_{{ level }}.digit * {{ 10 ** level }}{{ ' +' if not loop.last }}
        {% endfor -%}
        as n
    {% for level in range(levels) -%}
        {{ 'from' if loop.first else 'cross join' }} (
            {% for digit in range(10) -%}
                select {{ digit }} as digit{{ ' union all' if not loop.last }}
            {% endfor -%}
        ) as digits_{{ level }}
    {% endfor -%}
) as numbers
where n < {{ count }}
{%- endmacro %}
