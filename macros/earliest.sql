{#- The earlier of two timestamps, ignoring a null one (null only when both are). -#}
{% macro earliest(first, second) -%}
    case
        when {{ first }} is null then {{ second }}
        when {{ second }} is null or {{ first }} <= {{ second }} then {{ first }}
        else {{ second }}
    end
{%- endmacro %}
