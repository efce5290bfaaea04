"""The DuckDB raw-schema writer (bulk insert with read_csv)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from crm_funnel.errors import TerminalError, TransientError
from crm_funnel.warehouse.backend import EVENTS_DELIM, EVENTS_QUOTE, Backend, Batch, Execute, T
from crm_funnel.warehouse.connections import connect_duckdb, one_line
from crm_funnel.warehouse.profile import DuckDBTarget


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

    def _error(self, exc: BaseException, doing: str) -> Exception:
        msg = one_line(exc)
        if "lock" in msg.lower() or isinstance(exc, self._duckdb.TransactionException):
            return TransientError(f"DuckDB {doing} failed ({msg}); retry")
        return TerminalError(
            f"DuckDB {doing} failed in {self.target.path} ({msg}); nothing was committed"
        )

    def ensure_tables(self) -> None:
        try:
            self.con.begin()
            self.con.execute(f"create schema if not exists {self.schema}")
            for stmt in [*self.ddl(), *(sql for _, _, sql in self.migrations())]:
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
            f"new_line='\\n', max_line_size={line}, buffer_size={max(line * 2, 32 << 20)})"
        )

    def _insert_events(self, events: str, path: str) -> int:
        """Insert the keys not landed yet (first occurrence within the batch)."""
        s = self.schema
        con = self.con
        columns = (
            "event_key, load_id, source_file, source_position, source_format, payload, loaded_at"
        )
        legacy = self._legacy_keys_sql(lambda sql: con.execute(sql).fetchall())
        repeats = con.execute(
            f"select count(*) - count(distinct event_key) from {events}", [path]
        ).fetchone()[0]
        inserted: int
        if not repeats:  # the usual case: a plain anti-join (a window costs 2x)
            inserted = con.execute(
                f"""insert into {s}.events ({columns})
                select {columns} from {events} as b
                where not exists (select 1 from {s}.events as e where e.event_key = b.event_key)
                {legacy}""",
                [path],
            ).fetchone()[0]
            return inserted
        con.execute(
            f"create or replace temp table _funnel_events as select * from {events}", [path]
        )
        # (created inside the load's transaction: a rollback removes it too)
        inserted = con.execute(
            f"""insert into {s}.events ({columns})
            select {columns} from (
                select *, row_number() over (
                    partition by event_key order by source_position) as rn
                from _funnel_events
            ) as b
            where b.rn = 1
              and not exists (select 1 from {s}.events as e where e.event_key = b.event_key)
              {legacy}"""
        ).fetchone()[0]
        con.execute("drop table _funnel_events")
        return inserted

    def write(self, batch: Batch) -> tuple[str | None, int]:
        con = self.con
        try:
            con.begin()
            row = con.execute(self._find_sql("?"), [batch.checksum]).fetchone()
            if row is not None:
                con.rollback()
                return str(row[0]), 0
            inserted = 0
            if batch.event_rows:
                events = self.read_csv_sql(
                    {
                        "event_key": "VARCHAR",
                        "source_position": "BIGINT",
                        "source_format": "VARCHAR",
                        "payload": "VARCHAR",
                        "load_id": "VARCHAR",
                        "source_file": "VARCHAR",
                        "loaded_at": "TIMESTAMP",
                    },
                    batch.max_field,
                    events=True,
                )
                inserted = self._insert_events(events, str(batch.events_csv))
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
