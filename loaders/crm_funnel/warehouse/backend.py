"""The raw-schema writer's base: a batch of CSV files, one transaction per load, the SQL
every engine shares.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from crm_funnel.errors import TerminalError
from crm_funnel.warehouse.ddl import raw_ddl, raw_migrations

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


# The version-1 key of a namespaced key b.event_key (the '*-sha256' kinds had none).
LEGACY_KEY_SQL = "regexp_replace(b.event_key, '^[a-z]+:(id|int|sha256):', '')"
T = TypeVar("T")
Execute = Callable[..., list[tuple[Any, ...]]]


@dataclass
class CsvBatch:
    """What every load's CSV files carry: its id, file, checksum and bad records."""

    load_id: str
    source_file: str
    checksum: str
    errors_csv: Path
    error_rows: int
    erased_rows: int
    max_field: int
    started_at: datetime


@dataclass
class Batch(CsvBatch):
    """The classified content of one load of events, as CSV files ready for the database."""

    source_format: str
    events_csv: Path
    event_rows: int

    @property
    def records_read(self) -> int:
        return self.event_rows + self.error_rows + self.erased_rows


# Events CSV columns (the order of EVENT_CSV_COLUMNS): the four that vary per record; the
# three that are the same for the whole load (load_id, source_file, loaded_at) are added
# by the insert. It uses control characters as quote and delimiter. Valid JSON text never
# contains a raw control character (strings must escape them; between tokens only space,
# tab, CR and LF are allowed), so a payload never needs escaping: it is written as is,
# which is both byte-exact and fast. Event keys containing U+0000/U+0001 are not used
# (the content hash is used instead). The errors CSV (any text) uses the csv module.
EVENTS_QUOTE = "\x01"
EVENTS_DELIM = "\x1f"
EVENT_CSV_COLUMNS = ("event_key", "source_position", "source_format", "payload")
EVENTS_CSV_NAME = "events.csv"  # in the load's temporary directory
ERROR_CSV_COLUMNS = ("source_position", "raw_text", "reason")


def utcnow() -> datetime:
    """Naive UTC timestamp (what the raw tables store)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --------------------------------------------------------------------------- databases


class Backend:
    """A raw-schema writer. Subclasses implement the SQL for one database."""

    kind = "database"
    text_type = "varchar"
    # Erasure: every column of every table, also those the user may not touch (a missing
    # privilege must stop the erasure, not hide a table: information_schema lists only the
    # tables one may use): (schema, table, column, is text, may select, update and delete)
    catalog_sql = ""
    # a condition true for a text ({} is the column) with a character outside ASCII
    non_ascii_sql = ""

    def __init__(self, raw_schema: str) -> None:
        #: called with a short description when the database work changes phase
        self.phase_hook: Callable[[str], None] = lambda phase: None
        if not IDENTIFIER.match(raw_schema):
            raise TerminalError(
                f"--raw-schema {raw_schema!r} is not a plain SQL identifier "
                "(letters, digits, underscores)"
            )
        self.schema = raw_schema

    def ddl(self) -> list[str]:
        return raw_ddl(self.schema, self.text_type)

    def migrations(self) -> list[tuple[str, str, str]]:
        return raw_migrations(self.schema)

    def _legacy_keys_sql(self, execute: Execute) -> str:
        """The extra anti-join condition while raw.events holds keys from before namespacing.

        A load of key_version null wrote ``m-1`` where this version writes ``native:id:m-1``:
        an event re-delivered now is a duplicate of such a row of the same source format.
        """
        s = self.schema
        if not execute(f"select 1 from {s}.loads where key_version is null limit 1"):
            return ""
        return f"""
              and not exists (select 1 from {s}.events as legacy
                              where legacy.event_key = {LEGACY_KEY_SQL}
                                and legacy.source_format = b.source_format)"""

    def _find_sql(self, placeholder: str) -> str:
        # an empty input is never "already loaded": it is not the same file as every other
        # empty file; each load of one is recorded as a load of 0 records
        return (
            f"select load_id from {self.schema}.loads where checksum = {placeholder} "
            f"and checksum <> '{EMPTY_SHA256}' and status = 'complete' "
            "order by finished_at limit 1"
        )

    SKIP_TABLES = ("_funnel_repeats", "_funnel_landed")

    def _skips_sql(self, keys: str) -> list[str]:
        """Two temp tables, both small, of the keys a load must not insert (``keys``: a
        relation of the load's ``event_key`` and ``source_position``):
        ``_funnel_repeats``, the keys the load holds more than once with the first
        position of each (usually empty), and ``_funnel_landed``, the load's keys that
        raw.events already holds. The join is driven by the load's keys, so its memory
        follows the load, not the warehouse (an anti-join against raw.events would hash
        every landed key)."""
        return [
            f"""create temp table _funnel_repeats as
            select event_key, min(source_position) as first_position from {keys}
            group by event_key having count(*) > 1""",
            f"""create temp table _funnel_landed as
            select event_key from {self.schema}.events
            where event_key in (select event_key from {keys})""",
        ]

    def _events_insert_sql(self, source: str, placeholder: str, legacy: str) -> str:
        """Insert the events of ``source`` whose key is not landed yet, the first occurrence
        of a key the load repeats (after ``_skips_sql``); the load's id, file and time
        are the three parameters. No index is needed within the load: two anti-joins
        against small tables."""
        s, p = self.schema, placeholder
        return f"""insert into {s}.events
                (event_key, load_id, source_file, source_position, source_format, payload,
                 loaded_at)
            select b.event_key, {p}, {p}, b.source_position, b.source_format, b.payload, {p}
            from {source} as b
            where not exists (select 1 from _funnel_landed as l where l.event_key = b.event_key)
              and not exists (select 1 from _funnel_repeats as r
                              where r.event_key = b.event_key
                                and r.first_position < b.source_position)
              {legacy}"""

    def _errors_insert_sql(self, source: str, placeholder: str) -> str:
        """Insert a batch's load errors (from ``source``) that are not stored yet.

        Identical bad records (same raw text and reason) are stored once, where they were
        first seen; every load still counts its own in ``raw.loads.errors``.
        """
        s, p = self.schema, placeholder
        return f"""insert into {s}.load_errors
                (load_id, source_file, source_position, raw_text, reason, loaded_at)
            select {p}, {p}, source_position, raw_text, reason, {p}
            from (select *, row_number() over (
                      partition by raw_text, reason order by source_position) as occurrence
                  from {source}) as b
            where occurrence = 1
              and not exists (select 1 from {s}.load_errors as e
                              where e.raw_text = b.raw_text and e.reason = b.reason)
            order by source_position"""

    def _loads_insert_sql(self, placeholder: str) -> str:
        values = ", ".join([placeholder] * 12)
        return (
            f"insert into {self.schema}.loads (load_id, source_file, checksum, source_format, "
            "records_read, events_loaded, duplicates_skipped, errors, erased_skipped, status, "
            f"started_at, finished_at) values ({values})"
        )

    @staticmethod
    def _loads_row(batch: Batch, inserted: int) -> tuple[Any, ...]:
        duplicates = batch.event_rows - inserted
        assert batch.records_read == inserted + duplicates + batch.error_rows + batch.erased_rows
        return (
            batch.load_id,
            batch.source_file,
            batch.checksum,
            batch.source_format,
            batch.records_read,
            inserted,
            duplicates,
            batch.error_rows,
            batch.erased_rows,
            "complete",
            batch.started_at,
            utcnow(),
        )

    # interface
    def ensure_tables(self) -> None:
        raise NotImplementedError

    def find_load(self, checksum: str) -> str | None:
        raise NotImplementedError

    def transaction(self, doing: str, work: Callable[[Execute], T]) -> T:
        """Run ``work(execute)`` in one transaction; ``execute(sql, params)`` returns rows.

        SQL uses ``?`` placeholders on every backend.
        """
        raise NotImplementedError

    def staging(self, events_csv: Path) -> contextlib.AbstractContextManager[None]:
        """Around the reading of a load: the engine may read ``events_csv`` while it is
        written (PostgreSQL copies it into the load's temp table meanwhile, so parsing and
        writing overlap on two cores). By default ``write`` reads the finished file."""
        return contextlib.nullcontext()

    def write(self, batch: Batch) -> tuple[str | None, int]:
        """Commit the batch (read inside ``staging``); return (existing load id, 0) if
        skipped else (None, inserted)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
