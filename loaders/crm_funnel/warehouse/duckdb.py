"""The DuckDB raw-schema writer (bulk insert with read_csv)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from crm_funnel.errors import TerminalError, TransientError
from crm_funnel.warehouse.backend import EVENTS_DELIM, EVENTS_QUOTE, Backend, Batch, Execute, T
from crm_funnel.warehouse.connections import connect_duckdb, one_line
from crm_funnel.warehouse.ddl import raw_ddl, unkeyed_events_migration
from crm_funnel.warehouse.profile import DuckDBTarget

# What DuckDB may hold in memory for a load before it spills to ``<database>.tmp``: the
# loader's peak RSS stays under 300 MB for any input size.
LOADER_MEMORY_LIMIT = "128MB"


class DuckDBBackend(Backend):
    kind = "DuckDB"
    text_type = "varchar"
    catalog_sql = """
        select c.table_schema, c.table_name, c.column_name, c.data_type = 'VARCHAR', true
        from information_schema.columns as c
        inner join information_schema.tables as t
            on c.table_schema = t.table_schema and c.table_name = t.table_name
            and c.table_catalog = t.table_catalog
        where t.table_type = 'BASE TABLE' and c.table_catalog = current_database()
            and c.table_schema not in ('information_schema', 'pg_catalog')
        order by c.ordinal_position"""
    non_ascii_sql = "regexp_matches({}, '[^\\x01-\\x7f]')"

    def __init__(self, target: DuckDBTarget, raw_schema: str = "raw") -> None:
        super().__init__(raw_schema)
        import duckdb

        self._duckdb = duckdb
        self.target = target
        self.con = connect_duckdb(target)
        try:
            self.con.execute(f"set memory_limit = '{LOADER_MEMORY_LIMIT}'")
            self.con.execute("set preserve_insertion_order = false")
        except duckdb.Error as exc:
            self.close()
            raise self._error(exc, "connection setup") from None

    def _error(self, exc: BaseException, doing: str) -> Exception:
        msg = one_line(exc)
        if "lock" in msg.lower() or isinstance(exc, self._duckdb.TransactionException):
            return TransientError(f"DuckDB {doing} failed ({msg}); retry")
        return TerminalError(
            f"DuckDB {doing} failed in {self.target.path} ({msg}); nothing was committed"
        )

    def ddl(self) -> list[str]:
        return raw_ddl(self.schema, self.text_type, events_key="")

    def ensure_tables(self) -> None:
        try:
            self.con.begin()
            self.con.execute(f"create schema if not exists {self.schema}")
            for stmt in [*self.ddl(), *(sql for _, _, sql in self.migrations())]:
                self.con.execute(stmt)
            keyed = self.con.execute(
                "select count(*) from duckdb_constraints() where schema_name = ? "
                "and table_name = 'events' and constraint_type = 'PRIMARY KEY'",
                [self.schema],
            ).fetchone()[0]
            for stmt in unkeyed_events_migration(self.schema, self.text_type) if keyed else ():
                self.con.execute(stmt)
            self.con.commit()
        except self._duckdb.Error as exc:
            self._rollback()
            raise self._error(exc, "creating the raw tables") from None

    def find_load(self, checksum: str) -> str | None:
        try:
            row = self.con.execute(self._find_sql("?"), [checksum]).fetchone()
        except self._duckdb.Error as exc:
            raise self._error(exc, "reading raw.loads") from None
        return None if row is None else str(row[0])

    def _rollback(self) -> None:
        with contextlib.suppress(self._duckdb.Error):
            self.con.rollback()

    def transaction(self, doing: str, work: Callable[[Execute], T]) -> T:
        def execute(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
            rows: list[tuple[Any, ...]] = self.con.execute(sql, list(params)).fetchall()
            return rows

        try:
            self.con.begin()
            result = work(execute)
            self.con.commit()
            return result
        except self._duckdb.Error as exc:
            self._rollback()
            raise self._error(exc, doing) from None
        except BaseException:
            self._rollback()
            raise

    @staticmethod
    def read_csv_sql(columns: dict[str, str], max_field: int, *, events: bool = False) -> str:
        """A read_csv(?) call with explicit columns (the path is the parameter); ``events``:
        the events CSV (control-character quote and delimiter), else a plain CSV file."""
        cols = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
        # max_field counts characters; a UTF-8 character takes up to 4 bytes
        line = max(4 * max_field + 65_536, 2_097_152)
        quote, delim = (EVENTS_QUOTE, EVENTS_DELIM) if events else ('"', ",")
        return (
            f"read_csv(?, columns={{{cols}}}, header=false, delim='{delim}', "
            f"quote='{quote}', escape='{quote}', auto_detect=false, allow_quoted_nulls=false, "
            f"new_line='\\n', max_line_size={line}, buffer_size={max(line * 2, 8 << 20)})"
        )

    def _insert_events(self, batch: Batch) -> int:
        """Insert the keys not landed yet (first occurrence within the batch)."""
        con = self.con
        events = self.read_csv_sql(
            {
                "event_key": "VARCHAR",
                "source_position": "BIGINT",
                "source_format": "VARCHAR",
                "payload": "VARCHAR",
            },
            batch.max_field,
            events=True,
        )
        path = str(batch.events_csv)
        legacy = self._legacy_keys_sql(lambda sql: con.execute(sql).fetchall())
        # (created inside the load's transaction: a rollback removes them too)
        con.execute(
            f"create temp table _funnel_keys as select event_key, source_position from {events}",
            [path],
        )
        for sql in self._skips_sql("_funnel_keys"):
            con.execute(sql)
        inserted: int = con.execute(
            self._events_insert_sql(events, "?", legacy),
            [batch.load_id, batch.source_file, batch.started_at, path],
        ).fetchone()[0]
        for table in ("_funnel_keys", *self.SKIP_TABLES):
            con.execute(f"drop table {table}")
        return inserted

    def write(self, batch: Batch) -> tuple[str | None, int]:
        con = self.con
        try:
            con.begin()
            row = con.execute(self._find_sql("?"), [batch.checksum]).fetchone()
            if row is not None:
                con.rollback()
                return str(row[0]), 0
            inserted = self._insert_events(batch) if batch.event_rows else 0
            if batch.error_rows:
                errors = self.read_csv_sql(
                    {"source_position": "BIGINT", "raw_text": "VARCHAR", "reason": "VARCHAR"},
                    batch.max_field,
                    events=False,
                )
                con.execute(
                    self._errors_insert_sql(errors, "?"),
                    [batch.load_id, batch.source_file, batch.started_at, str(batch.errors_csv)],
                )
            con.execute(self._loads_insert_sql("?"), list(self._loads_row(batch, inserted)))
            con.commit()
            return None, int(inserted)
        except self._duckdb.Error as exc:
            self._rollback()
            raise self._error(exc, f"load of {batch.source_file}") from None
        except BaseException:
            self._rollback()
            raise

    def close(self) -> None:
        with contextlib.suppress(self._duckdb.Error):
            self.con.close()
