"""Every raw table's DDL: what the loaders create (``raw.loads``, ``raw.events``,
``raw.load_errors``, ``raw.sheet_rows``, the erasure tables) and the migrations of raw
tables made by older versions. ``text_type`` is the engine's text type."""

from __future__ import annotations

RAW_TABLES = ("loads", "events", "load_errors", "erasures", "erasure_salt")
SHEET_ROWS = "sheet_rows"
# raw.loads.key_version of the loads this version writes: event keys are namespaced
# ('native:id:m-1'); version 1 (null) keys were the bare id or content hash ('m-1').
KEY_VERSION = 2


def raw_ddl(schema: str, text_type: str, *, events_key: str = "primary key") -> list[str]:
    """The tables every load writes, with the erasure tables and ``sheet_rows``.

    ``events_key``: the constraint on ``raw.events.event_key`` ('' on DuckDB, whose index
    would hold every key in memory; the loader's anti-join keeps the keys unique).
    """
    s, t = schema, text_type
    return [
        f"""create table if not exists {s}.loads (
            load_id {t} primary key, source_file {t} not null, checksum {t} not null,
            source_format {t} not null, records_read bigint not null,
            events_loaded bigint not null, duplicates_skipped bigint not null,
            errors bigint not null, erased_skipped bigint not null, status {t} not null,
            started_at timestamp not null, finished_at timestamp not null,
            key_version bigint default {KEY_VERSION})""",
        f"""create table if not exists {s}.events (
            event_key {t} not null {events_key}, load_id {t} not null,
            source_file {t} not null, source_position bigint not null,
            source_format {t} not null, payload {t} not null,
            loaded_at timestamp not null)""",
        f"""create table if not exists {s}.load_errors (
            load_id {t} not null, source_file {t} not null,
            source_position bigint not null, raw_text {t} not null,
            reason {t} not null, loaded_at timestamp not null)""",
        *erasure_ddl(s, t),
    ]


def erasure_ddl(schema: str, text_type: str) -> list[str]:
    """The erasure tables, and ``sheet_rows`` (the other raw table erasure deletes from).

    The loader creates these with its own tables, so that every raw table the dbt
    sources name exists after the first load of any kind.
    """
    return [
        f"""create table if not exists {schema}.erasures (
            email_hash {text_type} primary key, erased_at timestamp not null)""",
        f"create table if not exists {schema}.erasure_salt (salt {text_type} not null)",
        *sheet_rows_ddl(schema, text_type),
    ]


def sheet_rows_ddl(schema: str, text_type: str) -> list[str]:
    """``raw.sheet_rows``: one row per landed data row of a CSV file."""
    return [
        f"""create table if not exists {schema}.{SHEET_ROWS} (
            load_id {text_type} not null, kind {text_type} not null,
            source_file {text_type} not null, row_number bigint not null,
            payload {text_type} not null, loaded_at timestamp not null,
            primary key (load_id, row_number))"""
    ]


def unkeyed_events_migration(schema: str, text_type: str) -> list[str]:
    """Rebuild ``raw.events`` without its primary key (DuckDB warehouses of older versions:
    DuckDB cannot drop a primary key in place)."""
    s = schema
    ddl = raw_ddl(s, text_type, events_key="")[1]
    return [
        ddl.replace(f"{s}.events (", f"{s}._events_unkeyed (", 1),
        f"insert into {s}._events_unkeyed by name select * from {s}.events",
        f"drop table {s}.events",
        f"alter table {s}._events_unkeyed rename to events",
    ]


def raw_migrations(schema: str) -> list[tuple[str, str, str]]:
    """(table, column, statement adding it) for raw tables made by older versions."""
    s = schema
    return [
        (
            "loads",
            "erased_skipped",
            f"alter table {s}.loads add column if not exists erased_skipped bigint default 0",
        ),
        (
            # loads from before namespaced event keys keep a null key_version
            "loads",
            "key_version",
            f"alter table {s}.loads add column if not exists key_version bigint; "
            f"alter table {s}.loads alter column key_version set default {KEY_VERSION}",
        ),
    ]
