{#- dbt.listagg on Spark, honouring order_by_clause (dbt-spark ignores it):
    the measure is collected with its sort keys in a struct, the array sorted
    (sort_array on a struct compares the keys in order), then joined. The keys are
    columns or expressions of the grouped rows; they must all sort the same way
    (all asc or all desc). Nulls sort first ascending and last descending. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- set fields = [] -%}
    {%- set directions = [] -%}
    {%- if order_by_clause -%}
        {%- set keys = modules.re.sub('(?i)^\\s*order\\s+by\\s+', '', order_by_clause) -%}
        {%- for key in keys.split(',') -%}
            {%- set match = modules.re.match('(?is)^\\s*(.+?)(?:\\s+(asc|desc))?\\s*$', key) -%}
            {%- do fields.append(match.group(1) ~ ' as k' ~ loop.index) -%}
            {%- do directions.append((match.group(2) or 'asc') | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if directions | unique | list | length > 1 -%}
        {{ exceptions.raise_compiler_error(
            "listagg on Spark: every key of '" ~ order_by_clause ~ "' must sort the same way"
        ) }}
    {%- endif -%}
    {%- do fields.append(measure ~ ' as v') -%}
    {%- set collected -%}
        sort_array(collect_list(struct({{ fields | join(', ') }})), {{ 'false' if 'desc' in directions else 'true' }})
    {%- endset -%}
    {%- if limit_num -%}
        {%- set collected = 'slice(' ~ collected ~ ', 1, ' ~ limit_num ~ ')' -%}
    {%- endif -%}
    array_join(transform({{ collected }}, item -> item.v), {{ delimiter_text }})
{%- endmacro %}
