"""Writing a sheet batch (``raw.sheet_rows``, its load errors and ``raw.loads`` row) in one
transaction: COPY on PostgreSQL, ``read_csv`` on DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_funnel.warehouse.backend import ERROR_CSV_COLUMNS, Backend, CsvBatch, Execute, utcnow
from crm_funnel.warehouse.ddl import SHEET_ROWS, sheet_rows_ddl
from crm_funnel.warehouse.duckdb import DuckDBBackend
from crm_funnel.warehouse.postgres import PostgresBackend


def ensure_sheet_rows(backend: Backend) -> None:
    """Create ``raw.sheet_rows`` if it is missing (older warehouses)."""
    s = backend.schema

    def work(execute: Execute) -> None:
        if isinstance(backend, PostgresBackend):
            if execute("select to_regclass(?)", [f"{s}.{SHEET_ROWS}"])[0][0] is not None:
                return
            execute("select pg_advisory_xact_lock(hashtext('crm_funnel.raw_ddl'))")
        for statement in sheet_rows_ddl(s, backend.text_type):
            execute(statement)

    backend.transaction(f"creating {s}.{SHEET_ROWS}", work)


# --------------------------------------------------------------------------- batch


SHEET_CSV_COLUMNS = ("load_id", "kind", "source_file", "row_number", "payload", "loaded_at")


@dataclass
class SheetBatch(CsvBatch):
    """The valid rows of one sheet file as a CSV file, beside its bad rows."""

    kind: str
    rows_csv: Path
    rows: int

    @property
    def records_read(self) -> int:
        return self.rows + self.error_rows + self.erased_rows


# --------------------------------------------------------------------------- writing


def _find_sql(schema: str) -> str:
    return (
        f"select load_id from {schema}.loads where checksum = ? and status = 'complete' "
        "order by finished_at limit 1"
    )


def write_sheet(backend: Backend, batch: SheetBatch) -> str | None:
    """Commit the batch in one transaction; return the earlier load's id if skipped."""
    s = backend.schema
    postgres = isinstance(backend, PostgresBackend)

    def copy(table: str, columns: tuple[str, ...], path: Path) -> None:
        with backend.con.cursor() as cur, open(path, "rb") as fh:  # type: ignore[attr-defined]
            cur.copy_expert(
                f"copy {table} ({', '.join(columns)}) from stdin with (format csv)",
                fh,
                size=1 << 20,
            )

    def work(execute: Execute) -> str | None:
        if postgres:
            # one funnel-load at a time writes to this raw schema (as the event loader)
            execute("select pg_advisory_xact_lock(hashtextextended(?, 0))", [f"crm_funnel.raw:{s}"])
        found = execute(_find_sql(s), [batch.checksum])
        if found:
            return str(found[0][0])
        if batch.rows:
            if postgres:
                copy(f"{s}.{SHEET_ROWS}", SHEET_CSV_COLUMNS, batch.rows_csv)
            else:
                source = DuckDBBackend.read_csv_sql(
                    {
                        "load_id": "VARCHAR",
                        "kind": "VARCHAR",
                        "source_file": "VARCHAR",
                        "row_number": "BIGINT",
                        "payload": "VARCHAR",
                        "loaded_at": "TIMESTAMP",
                    },
                    batch.max_field,
                )
                columns = ", ".join(SHEET_CSV_COLUMNS)
                execute(
                    f"insert into {s}.{SHEET_ROWS} ({columns}) select {columns} from {source}",
                    [str(batch.rows_csv)],
                )
        if batch.error_rows:
            if postgres:
                execute(
                    "create temp table _funnel_sheet_errors (source_position bigint, "
                    "raw_text text, reason text) on commit drop"
                )
                copy("_funnel_sheet_errors", ERROR_CSV_COLUMNS, batch.errors_csv)
                errors = "_funnel_sheet_errors"
                params: list[Any] = []
            else:
                errors = DuckDBBackend.read_csv_sql(
                    {"source_position": "BIGINT", "raw_text": "VARCHAR", "reason": "VARCHAR"},
                    batch.max_field,
                )
                params = [str(batch.errors_csv)]
            execute(
                f"""insert into {s}.load_errors
                    (load_id, source_file, source_position, raw_text, reason, loaded_at)
                select ?, ?, source_position, raw_text, reason, ?
                from {errors} order by source_position""",
                [batch.load_id, batch.source_file, batch.started_at, *params],
            )
        execute(
            f"insert into {s}.loads (load_id, source_file, checksum, source_format, "
            "records_read, events_loaded, duplicates_skipped, errors, erased_skipped, status, "
            "started_at, finished_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch.load_id,
                batch.source_file,
                batch.checksum,
                f"sheet:{batch.kind}",
                batch.records_read,
                batch.rows,
                0,
                batch.error_rows,
                batch.erased_rows,
                "complete",
                batch.started_at,
                utcnow(),
            ],
        )
        return None

    return backend.transaction(f"load of {batch.source_file}", work)
