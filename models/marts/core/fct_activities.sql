{#- One row per valid, deduplicated event: the public face of
    int_activities_enriched, which does the work. Incremental like it: a run adds
    the activities validated since the newest it holds. -#}

{#- The contract guards the columns; on PostgreSQL a contract's varchar and the
    new rows' text would otherwise count as a schema change. -#}
{{ config(
    materialized=incremental_materialization(),
    unique_key='activity_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}

{{ incremental_copy('int_activities_enriched', 'validated_at') }}
