{#- A deterministic string key: the md5 of the fields joined with '|' (null as '_null_'). -#}
{% macro surrogate_key(fields) -%}
    {%- set parts = [] -%}
    {%- for field in fields -%}
        {%- do parts.append("coalesce(cast(" ~ field ~ " as " ~ dbt.type_string() ~ "), '_null_')") -%}
        {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts) if parts | length > 1 else parts[0]) }}
{%- endmacro %}
