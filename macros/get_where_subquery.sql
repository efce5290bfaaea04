{#- The relation a data test reads (dbt's get_where_subquery, extended): a test on
    a model whose meta names a `test_new_rows_by` column (the watermark its
    incremental runs stamp on the rows they write) reads, on a run without
    `--full-refresh`, only the rows of the model's latest run: those with the
    newest watermark. A full refresh, and a model without it, test every row.
    The test's own `where` config applies as well. -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- if config.get('where') %}{% do conditions.append('(' ~ config.get('where') ~ ')') %}{% endif -%}
    {%- set tested = graph.nodes.get(model.attached_node) if model.attached_node else none -%}
    {%- set watermark = tested.config.meta.get('test_new_rows_by') if tested else none -%}
    {%- if watermark and not flags.FULL_REFRESH -%}
        {%- do conditions.append(watermark ~ ' >= (select max(newest.' ~ watermark ~ ') from ' ~ relation ~ ' as newest)') -%}
    {%- endif -%}
    {%- if conditions -%}
    (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}
