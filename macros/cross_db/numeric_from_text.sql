{#- The number a text spells, as dbt.type_numeric(): a plain decimal ('-12.5')
    or a number in exponent form ('1.5e3', as JSON may write it), of at most 40
    digits before the point, 255 after it and a 3-digit exponent. Null when the text
    is no such number or its magnitude, rounded to 6 decimals, is not below
    1e15 (1e200000, -1e400, a 30-digit integer); a magnitude too small for the
    type (1e-400) rounds to 0. Never a cast error: the pattern bounds the text
    before any cast. -#}
{% macro numeric_from_text(text) -%}
    {{ return(adapter.dispatch('numeric_from_text', 'crm_funnel')(text)) }}
{%- endmacro %}

{% macro numeric_pattern() -%}
    ^[+-]?[0-9]{1,40}([.][0-9]{1,255})?([eE][+-]?[0-9]{1,3})?$
{%- endmacro %}

{#- DuckDB and Spark: try_cast gives null for a value decimal(38,6) cannot hold. -#}
{% macro default__numeric_from_text(text) -%}
    {%- set wide = 'try_cast(' ~ text ~ ' as decimal(38, 6))' -%}
    case
        when {{ regex_matches(text, numeric_pattern()) }} and abs({{ wide }}) < 1000000000000000
            then cast({{ wide }} as {{ dbt.type_numeric() }})
    end
{%- endmacro %}

{#- PostgreSQL: unconstrained numeric holds any value the pattern allows. -#}
{% macro postgres__numeric_from_text(text) -%}
    case
        when {{ regex_matches(text, numeric_pattern()) }} then case
            when abs(round(cast({{ text }} as numeric), 6)) < 1000000000000000
                then cast(cast({{ text }} as numeric) as {{ dbt.type_numeric() }})
        end
    end
{%- endmacro %}
