{#- The json_fields a Resend webhook's tags are read from (macro resend_tag): each
    named tag of `data.tags` as an object, and the name and value of the first
    pairs of `data.tags` as an array. -#}
{% macro resend_tag_fields(names) -%}
    {%- set fields = {} -%}
    {%- for name in names -%}
        {%- do fields.update({'resend_tag_' ~ name: ['text', ['data', 'tags', name]]}) -%}
    {%- endfor -%}
    {%- for slot in range(resend_tag_slots()) -%}
        {%- do fields.update({
            'resend_tag_' ~ slot ~ '_name': ['string', ['data', 'tags', slot, 'name']],
            'resend_tag_' ~ slot ~ '_value': ['text', ['data', 'tags', slot, 'value']],
        }) -%}
    {%- endfor -%}
    {{ return(fields) }}
{%- endmacro %}
