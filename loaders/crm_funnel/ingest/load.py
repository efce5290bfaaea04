"""The load engine behind ``funnel-load``.

A *load* is one file (or stdin). It is read as a stream, every record is classified and
written to a temporary CSV file (one for events, one for errors), and the CSV files are
bulk-loaded into the raw tables in ONE transaction that also writes the ``raw.loads`` row:

* ``raw.events``: one row per distinct event key, with the record's original JSON text
  (never re-serialised) and where it came from (load id, file, line / element position).
  Each record's format ('native', 'resend' webhook, 'segment' track/identify) is detected
  (or forced with ``--format``) and decides its event key. A Svix webhook envelope (the
  NDJSON line ``funnel-webhook`` spools: headers + raw body) lands its body, keyed by the
  Svix message id, after its signature is verified (see ``ingest/svix.py``).
* ``raw.load_errors``: records that are not valid UTF-8, not valid JSON, not a JSON
  object or that name a key twice, and webhook envelopes that fail verification, with
  the complete original text and the reason (an identical text and reason is stored
  once). Nothing is ever dropped silently: a JSON array with a syntax break is
  rejected whole (``TerminalError`` naming the byte offset).
* ``raw.loads``: one row per committed load (file, checksum, counts, status 'complete').

Re-loading the same bytes is skipped (same checksum); re-loading the same events adds
nothing (deterministic event keys). ``records_read = events_loaded + duplicates_skipped +
errors`` always holds.

Memory does not grow with the file size: files are read in chunks, the CSV files are on
disk, and de-duplication happens in the database (two anti-joins: against ``raw.events``
and against the first occurrence of a key the load repeats; DuckDB works under a memory
limit and spills beyond it). Each NDJSON line is parsed once, by orjson where a cheap
guard proves the result is the strict decoder's (``formats.fast_decode``), else strictly.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import IO

from crm_funnel.errors import TerminalError
from crm_funnel.ingest.formats import FORMATS, webhook_secrets
from crm_funnel.ingest.inputs import LoadInput, load_tempdir, open_input
from crm_funnel.ingest.progress import Progress, plural
from crm_funnel.ingest.readers import file_sha256, read_to_csv
from crm_funnel.warehouse.backend import EVENTS_CSV_NAME, Backend
from crm_funnel.warehouse.tombstones import read_tombstones


@dataclass
class LoadResult:
    """What one load of events did; ``summary()`` is the line ``funnel-load`` prints."""

    display: str
    load_id: str
    records_read: int = 0
    loaded: int = 0
    duplicates_skipped: int = 0
    errors: int = 0
    erased: int = 0
    skipped: bool = False
    seconds: float = 0.0

    def counts(self) -> list[str]:
        return [
            f"{plural(self.records_read, 'record')} -> {plural(self.loaded, 'new event')}",
            plural(self.duplicates_skipped, "duplicate"),
            plural(self.errors, "error"),
            *([plural(self.erased, "erased record")] if self.erased else []),
        ]

    def summary(self) -> str:
        if self.skipped:
            return f"skipped {self.display}: already loaded (load {self.load_id})"
        return f"loaded {self.display}: {', '.join(self.counts())} (load {self.load_id})"


# --------------------------------------------------------------------------- one load


def load_one(
    backend: Backend,
    load_input: LoadInput,
    *,
    fmt: str = "auto",
    progress: bool = True,
    stderr: IO[str] | None = None,
    stdin: IO[bytes] | None = None,
) -> LoadResult:
    """Load one file (or stdin) in one transaction and return what happened."""
    if fmt not in FORMATS:
        raise TerminalError(f"unknown --format {fmt!r} (use one of: {', '.join(FORMATS)})")
    secrets = webhook_secrets()  # a malformed secret stops here, before anything is read
    t0 = time.monotonic()
    display = load_input.display
    with Progress(display, stream=stderr, enabled=progress, total_bytes=load_input.size) as prog:
        if load_input.path is not None:
            # cheap pre-check: the same bytes were loaded before -> skip without parsing
            prog.phase = "hashing"
            existing = backend.find_load(file_sha256(load_input.path, prog))
            if existing is not None:
                return LoadResult(display, existing, skipped=True)
            prog.phase = "reading"
            prog.bytes_read = 0
        tombstones = read_tombstones(backend)
        with load_tempdir() as tmp:
            with backend.staging(tmp / EVENTS_CSV_NAME):
                if load_input.path is None:
                    stream = stdin or sys.stdin.buffer
                    batch = read_to_csv(load_input, stream, tmp, fmt, prog, tombstones, secrets)
                else:
                    with open_input(load_input.path, display) as fh:
                        batch = read_to_csv(load_input, fh, tmp, fmt, prog, tombstones, secrets)
            prog.phase = f"writing to {backend.kind}"
            backend.phase_hook = prog.set_phase
            try:
                existing, inserted = backend.write(batch)
            finally:
                backend.phase_hook = lambda phase: None
    if existing is not None:
        return LoadResult(display, existing, skipped=True)
    return LoadResult(
        display,
        batch.load_id,
        records_read=batch.records_read,
        loaded=inserted,
        duplicates_skipped=batch.event_rows - inserted,
        errors=batch.error_rows,
        erased=batch.erased_rows,
        seconds=time.monotonic() - t0,
    )
