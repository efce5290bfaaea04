{#- The value of a Resend tag by name, from the columns resend_tag_fields reads.
    Resend sends `data.tags` as an object ({"campaign_id": "c1"}) or as an array
    of {"name", "value"} pairs; both are read (the first 10 pairs of an array).
    Null when the tag is absent. -#}
{% macro resend_tag(name) -%}
    coalesce(
        resend_tag_{{ name }}
        {%- for slot in range(resend_tag_slots()) %},
        case
            when resend_tag_{{ slot }}_name = '{{ name }}'
                then resend_tag_{{ slot }}_value
        end
        {%- endfor %}
    )
{%- endmacro %}
