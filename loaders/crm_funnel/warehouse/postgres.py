"""The PostgreSQL raw-schema writer (COPY into the raw tables)."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from crm_funnel.errors import TerminalError, TransientError
from crm_funnel.warehouse.backend import (
    ERROR_CSV_COLUMNS,
    EVENT_CSV_COLUMNS,
    EVENTS_DELIM,
    EVENTS_QUOTE,
    Backend,
    Batch,
    Execute,
    T,
)
from crm_funnel.warehouse.connections import connect_postgres, one_line
from crm_funnel.warehouse.ddl import RAW_TABLES
from crm_funnel.warehouse.profile import PostgresTarget

_PG_EVENTS_CSV = (
    f"format csv, delimiter E'\\x{ord(EVENTS_DELIM):02x}', quote E'\\x{ord(EVENTS_QUOTE):02x}'"
)


class _GrowingFile:
    """A file another thread is writing: ``read`` waits for more until the writer is done,
    and fails once the load is abandoned (so COPY stops)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = threading.Event()
        self.abandoned = False
        self._fh: IO[bytes] | None = None

    def read(self, size: int = -1) -> bytes:
        while True:
            finished = self.done.is_set()  # before reading: then this read gets the rest
            if self.abandoned:
                raise OSError("the load was abandoned")
            if self._fh is None and self.path.exists():
                self._fh = open(self.path, "rb")  # noqa: SIM115  # closed by close()
            data = self._fh.read(size) if self._fh is not None else b""
            if data or finished:
                return data
            self.done.wait(0.01)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


class PostgresBackend(Backend):
    kind = "PostgreSQL"
    text_type = "text"
    catalog_sql = (
        "select n.nspname, c.relname, a.attname,"
        " a.atttypid in ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype),"
        " has_table_privilege(c.oid, 'select') and has_table_privilege(c.oid, 'update')"
        " and has_table_privilege(c.oid, 'delete')"
        " from pg_catalog.pg_attribute as a"
        " inner join pg_catalog.pg_class as c on a.attrelid = c.oid"
        " inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid"
        " where c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped"
        " and n.nspname not in ('pg_catalog', 'information_schema')"
        " and left(n.nspname, 3) <> 'pg_' order by a.attnum"
    )
    non_ascii_sql = "{} ~ '[^\\x01-\\x7f]'"

    def __init__(self, target: PostgresTarget, raw_schema: str = "raw") -> None:
        super().__init__(raw_schema)
        import psycopg2
        import psycopg2.errors

        self._pg = psycopg2
        self.target = target
        self._staged: list[BaseException] | None = None  # the staging COPY's failure, if any
        self.con = connect_postgres(target, application_name="funnel-load")
        try:
            self.con.set_client_encoding("UTF8")
            with self.con.cursor() as cur:
                # a batch is staged in a temp table: keep it in memory, and the hash
                # tables of its de-duplication too; JIT only adds compile time to these
                # simple bulk statements
                cur.execute("set temp_buffers = '256MB'")
                cur.execute("set work_mem = '128MB'")
                cur.execute("set jit = off")
            self.con.commit()
        except psycopg2.Error as exc:
            self.close()
            raise self._error(exc, "connection setup") from None

    def _error(self, exc: BaseException, doing: str) -> Exception:
        # Only a lost connection, a cancelled statement, a lack of resources or a lock
        # conflict may pass on a retry; psycopg2 also calls e.g. "index row size exceeds
        # maximum" an OperationalError, but retrying cannot help with that data.
        code = getattr(exc, "pgcode", None)
        if isinstance(exc, self._pg.InterfaceError) or (
            isinstance(exc, self._pg.OperationalError)
            and (code is None or code[:2] in ("08", "40", "53", "57"))
        ):
            what = "connection failed" if code is None or code[:2] == "08" else "was busy"
            return TransientError(
                f"PostgreSQL {what} during {doing} ({one_line(exc)}); nothing was committed, retry"
            )
        return TerminalError(
            f"PostgreSQL error during {doing} ({one_line(exc)}); nothing was committed"
        )

    def _rollback(self) -> None:
        with contextlib.suppress(self._pg.Error):
            self.con.rollback()

    def transaction(self, doing: str, work: Callable[[Execute], T]) -> T:
        try:
            with self.con.cursor() as cur:

                def execute(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
                    cur.execute(sql.replace("?", "%s"), list(params))
                    return cur.fetchall() if cur.description else []

                result = work(execute)
            self.con.commit()
            return result
        except self._pg.Error as exc:
            self._rollback()
            raise self._error(exc, doing) from None
        except BaseException:
            self._rollback()
            raise

    def ensure_tables(self) -> None:
        s = self.schema
        try:
            with self.con.cursor() as cur:
                tables = [f"{s}.{name}" for name in RAW_TABLES]
                cur.execute("select " + ", ".join(["to_regclass(%s)"] * len(tables)), tables)
                missing_tables = not all(cur.fetchone())
                cur.execute(
                    "select table_name, column_name from information_schema.columns"
                    " where table_schema = %s",
                    [s],
                )
                columns = set(cur.fetchall())
                migrations = [
                    sql
                    for table, column, sql in self.migrations()
                    if (table, column) not in columns
                ]
                if not missing_tables and not migrations:
                    self.con.rollback()
                    return
                # serialise concurrent first runs (CREATE ... IF NOT EXISTS can race)
                cur.execute("select pg_advisory_xact_lock(hashtext('crm_funnel.raw_ddl'))")
                # CREATE SCHEMA IF NOT EXISTS needs the right to create schemas even when
                # the schema exists, which the loader role does not have
                cur.execute("select to_regnamespace(%s)", [s])
                if cur.fetchone()[0] is None:
                    cur.execute(f"create schema {s}")
                for stmt in [*self.ddl(), *migrations]:
                    cur.execute(stmt)
            self.con.commit()
        except self._pg.errors.InsufficientPrivilege:
            # least privilege: the raw tables belong to raw_owner_role (create_roles)
            self._rollback()
            raise TerminalError(
                f"the tables of schema {s} are missing or out of date and this role may not "
                "change them: run one funnel-load as a superuser, then "
                "`dbt run-operation create_roles` (README: Least privilege)"
            ) from None
        except self._pg.Error as exc:
            self._rollback()
            raise self._error(exc, "creating the raw tables") from None

    def find_load(self, checksum: str) -> str | None:
        try:
            with self.con.cursor() as cur:
                cur.execute(self._find_sql("%s"), [checksum])
                row = cur.fetchone()
            self.con.rollback()
        except self._pg.Error as exc:
            self._rollback()
            raise self._error(exc, "reading raw.loads") from None
        return None if row is None else str(row[0])

    def _copy(
        self,
        cur: Any,
        table: str,
        columns: tuple[str, ...],
        source: Path | _GrowingFile,
        events: bool,
    ) -> None:
        options = _PG_EVENTS_CSV if events else "format csv"
        # When the connection is lost mid-COPY, psycopg2 prints the server's error through
        # sys.excepthook and then raises "invalid socket": keep the reason, print nothing.
        printed: list[BaseException] = []
        previous_hook = sys.excepthook
        sys.excepthook = lambda kind, exc, tb: printed.append(exc)
        try:
            with contextlib.ExitStack() as stack:
                fh = stack.enter_context(open(source, "rb")) if isinstance(source, Path) else source
                cur.copy_expert(
                    f"copy {table} ({', '.join(columns)}) from stdin with ({options})",
                    fh,
                    size=1 << 20,
                )
        except self._pg.OperationalError:
            if printed and printed[0].__cause__ is not None:
                raise self._pg.OperationalError(one_line(printed[0].__cause__)) from None
            raise
        finally:
            sys.excepthook = previous_hook

    @contextlib.contextmanager
    def staging(self, events_csv: Path) -> Iterator[None]:
        """COPY the events CSV into the load's temp table while it is written."""
        source = _GrowingFile(events_csv)
        failure: list[BaseException] = []

        def copy() -> None:
            try:
                with self.con.cursor() as cur:
                    self._copy(cur, "_funnel_events", EVENT_CSV_COLUMNS, source, True)
            except BaseException as exc:  # raised by write(), in the main thread
                failure.append(exc)

        try:
            with self.con.cursor() as cur:
                cur.execute(
                    "create temp table _funnel_events (event_key text, source_position bigint, "
                    "source_format text, payload text) on commit drop"
                )
        except self._pg.Error as exc:
            self._rollback()
            raise self._error(exc, "staging the load") from None
        thread = threading.Thread(target=copy, name="funnel-copy", daemon=True)
        thread.start()
        try:
            yield
        except BaseException:
            source.abandoned = True
            raise
        finally:
            source.done.set()
            thread.join()
            source.close()
            if source.abandoned:
                self._rollback()
        self._staged = failure

    def write(self, batch: Batch) -> tuple[str | None, int]:
        s = self.schema
        staged, self._staged = self._staged, None
        assert staged is not None, "write() lands what staging() copied"
        try:
            if staged:  # the COPY failed (its error is raised here, in the main thread)
                raise staged[0]
            with self.con.cursor() as cur:
                # One funnel-load at a time writes to this raw schema (held until commit), so
                # the checksum check below stays true and the inserts below cannot race.
                self.phase_hook("waiting for other loads to commit")
                cur.execute(
                    "select pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    [f"crm_funnel.raw:{s}"],
                )
                self.phase_hook(f"writing to {self.kind}")
                cur.execute(self._find_sql("%s"), [batch.checksum])
                row = cur.fetchone()
                if row is not None:
                    self.con.rollback()
                    return str(row[0]), 0
                inserted = self._write_events(cur, batch) if batch.event_rows else 0
                if batch.error_rows:
                    cur.execute(
                        "create temp table _funnel_errors (source_position bigint, "
                        "raw_text text, reason text) on commit drop"
                    )
                    self._copy(cur, "_funnel_errors", ERROR_CSV_COLUMNS, batch.errors_csv, False)
                    cur.execute(
                        self._errors_insert_sql("_funnel_errors", "%s"),
                        [batch.load_id, batch.source_file, batch.started_at],
                    )
                cur.execute(self._loads_insert_sql("%s"), self._loads_row(batch, inserted))
            self.con.commit()
            return None, int(inserted)
        except self._pg.Error as exc:
            self._rollback()
            raise self._error(exc, f"load of {batch.source_file}") from None
        except BaseException:
            self._rollback()
            raise

    def _write_events(self, cur: Any, batch: Batch) -> int:
        """Land the batch's events; return how many were new."""

        def execute(sql: str) -> list[tuple[Any, ...]]:
            cur.execute(sql)
            rows: list[tuple[Any, ...]] = cur.fetchall()
            return rows

        legacy = self._legacy_keys_sql(execute)
        # Staged in a temp table (no WAL, no index) while it was read (``staging``), then
        # one insert of the new keys. A plain INSERT is safe (and faster than ON CONFLICT)
        # because the advisory lock serialises the loaders.
        cur.execute("analyze _funnel_events")
        for sql in self._skips_sql("_funnel_events"):
            cur.execute(sql)
        cur.execute(
            self._events_insert_sql("_funnel_events", "%s", legacy),
            [batch.load_id, batch.source_file, batch.started_at],
        )
        inserted = int(cur.rowcount)
        for table in self.SKIP_TABLES:
            cur.execute(f"drop table {table}")
        return inserted

    def close(self) -> None:
        with contextlib.suppress(self._pg.Error):
            self.con.close()
