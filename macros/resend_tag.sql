{#- The value of a Resend tag by name. Resend sends `data.tags` as an object
    ({"campaign_id": "c1"}) or as an array of {"name", "value"} pairs; both are
    read (the first 10 pairs of an array). Null when the tag is absent. -#}
{% macro resend_tag(document, name) -%}
    coalesce(
        {{ json_extract_text(document, ['data', 'tags', name]) }}
        {%- for slot in range(10) %},
        case
            when {{ json_extract_string(document, ['data', 'tags', slot, 'name']) }} = '{{ name }}'
                then {{ json_extract_text(document, ['data', 'tags', slot, 'value']) }}
        end
        {%- endfor %}
    )
{%- endmacro %}
