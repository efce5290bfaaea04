{#- How many pairs of a Resend `data.tags` array are read (macro resend_tag). -#}
{% macro resend_tag_slots() -%}
    {{ return(10) }}
{%- endmacro %}
