{#- The lifecycle audit log: one row per change of a contact's lifecycle state;
    the public face of int_lifecycle_transitions_detected, which does the work.
    Incremental like it: a run rewrites the history of the contacts replayed by
    this run. -#}

{#- The contract guards the columns; on PostgreSQL a contract's varchar and the
    new rows' text would otherwise count as a schema change. -#}
{{ config(
    materialized=incremental_materialization(),
    unique_key='contact_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}

{{ incremental_copy('int_lifecycle_transitions_detected', 'refreshed_at') }}
