"""Tabular inputs: ``funnel-load --kind contacts|spend|campaigns FILE.csv``.

A CSV file (UTF-8, a BOM is fine, optionally ``.csv.gz``) is one load, like an event file:
every data row is landed in ``raw.sheet_rows`` as a JSON object of the file's columns
(``{"email": " Ann@Acme.io ", ...}``: the canonical column name and the cell text exactly
as written) in ONE transaction that also writes its ``raw.loads`` row
(``source_format`` ``sheet:<kind>``). Loading the same bytes again is skipped (checksum).

* Headers are normalised (stripped, lower-cased, runs of spaces, dashes and other
  punctuation become ``_``) and common synonyms mapped (``Full Name`` -> ``full_name``,
  ``E-mail`` -> ``email``, ``Channel of origin`` -> ``channel_of_origin``, ``Owner`` ->
  ``assigned_orchestrator`` in a contacts sheet, ...). Other columns are kept too.
* A missing required column, or two columns meaning the same thing, stops the command
  with one line before anything of any file is loaded.
* The spreadsheet row number is kept (the header is row 1); a cell with line breaks does
  not shift it. Rows whose number of fields differs from the header's, rows that are not
  valid UTF-8 and rows the csv module cannot read go to ``raw.load_errors`` (row number,
  original text, reason); blank rows are skipped.
* Rows mentioning a person erased with ``funnel-forget`` are not landed (counted as
  ``erased_skipped``), as for events.
* Values are not judged here: bad dates, numbers, emails, currencies and missing keys are
  quarantined by dbt (``fct_quarantined_sheet_rows``).

PostgreSQL loads use COPY; DuckDB reads the same temporary CSV with ``read_csv``.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from crm_funnel.errors import TerminalError
from crm_funnel.ingest.inputs import (
    LoadInput,
    load_tempdir,
)
from crm_funnel.ingest.load import LoadResult
from crm_funnel.ingest.progress import Progress, plural
from crm_funnel.ingest.readers import BOM, GZIP_MAGIC, file_sha256
from crm_funnel.warehouse.backend import Backend, utcnow
from crm_funnel.warehouse.sheet_rows import SheetBatch, write_sheet
from crm_funnel.warehouse.tombstones import NO_TOMBSTONES, Tombstones, read_tombstones

KINDS = ("contacts", "spend", "campaigns")
ERROR_TEXT_LIMIT = 64 * 1024  # characters kept of a row that cannot be read
FIELD_LIMIT = 16 * 1024 * 1024  # the csv module's per-field limit (default 128 KiB)

# The canonical columns of each kind (README, "Spreadsheet inputs"), in file order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "contacts": (
        "full_name",
        "email",
        "phone",
        "company",
        "role",
        "industry",
        "country",
        "timezone",
        "channel_of_origin",
        "lead_status",
        "tags",
        "notes",
        "date_added",
        "assigned_orchestrator",
    ),
    "spend": ("date", "channel", "spend", "currency"),
    "campaigns": (
        "campaign_id",
        "name",
        "goal",
        "channel",
        "status",
        "start_date",
        "end_date",
        "target_segment",
        "owner",
    ),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "contacts": ("email",),
    "spend": ("date", "channel", "spend", "currency"),
    "campaigns": ("campaign_id", "name"),
}
# Other names people give these columns (after normalisation) -> the canonical name.
SYNONYMS: dict[str, dict[str, str]] = {
    "contacts": {
        "e_mail": "email",
        "email_address": "email",
        "e_mail_address": "email",
        "mail": "email",
        "work_email": "email",
        "name": "full_name",
        "fullname": "full_name",
        "contact_name": "full_name",
        "phone_number": "phone",
        "mobile": "phone",
        "telephone": "phone",
        "company_name": "company",
        "organisation": "company",
        "organization": "company",
        "title": "role",
        "job_title": "role",
        "position": "role",
        "time_zone": "timezone",
        "tz": "timezone",
        "origin": "channel_of_origin",
        "channel": "channel_of_origin",
        "source": "channel_of_origin",
        "lead_source": "channel_of_origin",
        "acquisition_channel": "channel_of_origin",
        "origin_channel": "channel_of_origin",
        "status": "lead_status",
        "tag": "tags",
        "labels": "tags",
        "note": "notes",
        "comments": "notes",
        "comment": "notes",
        "added": "date_added",
        "added_on": "date_added",
        "added_at": "date_added",
        "date_created": "date_added",
        "created": "date_added",
        "created_at": "date_added",
        "created_on": "date_added",
        "orchestrator": "assigned_orchestrator",
        "owner": "assigned_orchestrator",
        "assigned_to": "assigned_orchestrator",
        "assignee": "assigned_orchestrator",
        "contact_owner": "assigned_orchestrator",
    },
    "spend": {
        "day": "date",
        "spend_date": "date",
        "date_day": "date",
        "source": "channel",
        "channel_name": "channel",
        "amount": "spend",
        "cost": "spend",
        "spent": "spend",
        "spend_amount": "spend",
        "currency_code": "currency",
        "ccy": "currency",
    },
    "campaigns": {
        "id": "campaign_id",
        "campaign": "campaign_id",
        "campaign_name": "name",
        "title": "name",
        "objective": "goal",
        "campaign_status": "status",
        "state": "status",
        "start": "start_date",
        "starts_on": "start_date",
        "start_on": "start_date",
        "launch_date": "start_date",
        "end": "end_date",
        "ends_on": "end_date",
        "end_on": "end_date",
        "segment": "target_segment",
        "audience": "target_segment",
        "campaign_owner": "owner",
        "owned_by": "owner",
    },
}
_NOT_WORD = re.compile(r"[^0-9a-z]+")


# --------------------------------------------------------------------------- headers


def normalise_header(text: str) -> str:
    """``" Date-Added "`` -> ``date_added``: lower-case, other characters as ``_``."""
    return _NOT_WORD.sub("_", text.strip().lower()).strip("_")


@dataclass(frozen=True)
class Header:
    """The columns of a file: the payload key of each field (None: an unnamed column)."""

    names: tuple[str | None, ...]
    row_number: int
    delimiter: str

    def __len__(self) -> int:
        return len(self.names)


def map_header(cells: list[str], kind: str, display: str) -> tuple[str | None, ...]:
    """The payload key of each header cell; one-line errors for unusable headers."""
    synonyms = SYNONYMS[kind]
    names: list[str | None] = []
    seen: dict[str, str] = {}
    for index, cell in enumerate(cells, start=1):
        normal = normalise_header(cell)
        if not normal:
            names.append(None)
            continue
        name = synonyms.get(normal, normal) if normal not in COLUMNS[kind] else normal
        if name in seen:
            raise TerminalError(
                f"{display}: columns {seen[name]!r} and {cell.strip()!r} (column {index}) both "
                f"mean {name}; keep one of them"
            )
        seen[name] = cell.strip()
        names.append(name)
    missing = [column for column in REQUIRED[kind] if column not in seen]
    if missing:
        found = ", ".join(repr(cell.strip()) for cell in cells if cell.strip()) or "none"
        raise TerminalError(
            f"{display}: no {', '.join(missing)} column for --kind {kind} (the header row "
            f"has: {found}); name the columns as in the README; nothing was loaded"
        )
    return tuple(names)


def _delimiter(line: str) -> str:
    """The field separator of the header line: ',' unless ';' or a tab is more frequent."""
    counts = {sep: line.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > counts[","] else ","


# --------------------------------------------------------------------------- reading


class _HashingFile(io.RawIOBase):
    """A binary stream that hashes and counts the (compressed) bytes read through it."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.sha = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._fh.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha.update(data)
        self.bytes_read += n
        return n


class _Lines:
    """Decoded physical lines, remembering the text of the record being read."""

    def __init__(self, stream: IO[bytes], display: str) -> None:
        self.stream = stream
        self.display = display
        self.record: list[str] = []
        self.bad_utf8 = False
        self.first = True

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        try:
            line = self.stream.readline()
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            what = "truncated" if isinstance(exc, EOFError) else "corrupt"
            raise TerminalError(
                f"cannot read {self.display}: {what} gzip data ({exc}); nothing was loaded "
                "from it, re-create or re-download the file"
            ) from None
        except OSError as exc:
            raise TerminalError(f"cannot read {self.display}: {exc.strerror or exc}") from None
        if not line:
            raise StopIteration
        if self.first:
            self.first = False
            if line.startswith(BOM):
                line = line[len(BOM) :]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = line.decode("utf-8", "backslashreplace")
            self.bad_utf8 = True
        self.record.append(text)
        return text

    def take(self) -> tuple[str, bool]:
        """The original text of the record just read (without its line break), bad UTF-8."""
        text = "".join(self.record)
        if text.endswith("\n"):
            text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
        bad = self.bad_utf8
        self.record = []
        self.bad_utf8 = False
        return text, bad


@dataclass
class Row:
    """One record of the file: its spreadsheet row number, fields, text, problem."""

    number: int
    fields: list[str] | None
    text: str
    error: str | None


def _records(lines: _Lines, delimiter: str) -> Iterator[Row]:
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    number = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number += 1
            text, _ = lines.take()
            yield Row(number, None, text, f"invalid CSV: {exc}")
            continue
        number += 1
        text, bad = lines.take()
        yield Row(number, fields, text, "invalid UTF-8" if bad else None)


def _decompressed(raw: Any, display: str, path: Path | None) -> Any:
    """The file's content (a binary stream of ``raw``, a binary file or ``_HashingFile``):
    gunzipped when it starts with the gzip magic."""
    buffered = io.BufferedReader(raw, buffer_size=1 << 20)
    head = buffered.peek(2)[:2]
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered, mode="rb")
    if path is not None and path.name.lower().endswith(".gz"):
        raise TerminalError(f"cannot read {display}: not gzip data although the name ends in .gz")
    return buffered


def _header(rows: Iterator[Row], kind: str, display: str) -> Header:
    for row in rows:
        if row.fields is None or not any(cell.strip() for cell in row.fields):
            if row.error is not None:
                raise TerminalError(f"{display}: cannot read the header row ({row.error})")
            continue
        if row.error is not None:
            raise TerminalError(f"{display}: the header row is not valid UTF-8; save it as UTF-8")
        return Header(map_header(row.fields, kind, display), row.number, "")
    raise TerminalError(
        f"{display}: no header row (the file is empty); the first row must name the columns "
        f"(required for --kind {kind}: {', '.join(REQUIRED[kind])})"
    )


def _sniff(stream: IO[bytes]) -> str:
    """The delimiter, from the first non-blank line (the stream is rewound after)."""
    peeked = stream.peek(1 << 16)  # type: ignore[attr-defined]
    text = peeked.removeprefix(BOM).decode("utf-8", "replace")
    for line in text.splitlines():
        if line.strip():
            return _delimiter(line)
    return ","


def read_header(path: Path, kind: str, display: str) -> Header:
    """Check the header of a file (required columns) without loading anything."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise TerminalError(f"cannot read {display}: {exc.strerror or exc}") from None
    with fh:
        stream = io.BufferedReader(_decompressed(fh, display, path), buffer_size=1 << 16)
        delimiter = _sniff(stream)
        lines = _Lines(stream, display)
        header = _header(_records(lines, delimiter), kind, display)
    return Header(header.names, header.row_number, delimiter)


def read_sheet(
    load_input: LoadInput,
    kind: str,
    tmpdir: Path,
    progress: Progress,
    tombstones: Tombstones = NO_TOMBSTONES,
) -> SheetBatch:
    """Read one CSV file into the temporary CSV files of a batch."""
    assert load_input.path is not None
    display = load_input.display
    started_at = utcnow()
    load_id = uuid.uuid4().hex
    source_file = tombstones.redact(load_input.source_file)  # a forgotten person's name
    rows_csv, errors_csv = tmpdir / "rows.csv", tmpdir / "errors.csv"
    rows = errors = erased = max_field = 0
    previous_limit = csv.field_size_limit(FIELD_LIMIT)
    try:
        with open(load_input.path, "rb") as fh:
            hashing = _HashingFile(fh)
            progress.bytes_read = 0
            stream = io.BufferedReader(
                _decompressed(hashing, display, load_input.path), buffer_size=1 << 16
            )
            delimiter = _sniff(stream)
            lines = _Lines(stream, display)
            records = _records(lines, delimiter)
            header = _header(records, kind, display)
            width = len(header.names)
            with (
                open(rows_csv, "w", encoding="utf-8", newline="") as rows_fh,
                open(errors_csv, "w", encoding="utf-8", newline="") as errors_fh,
            ):
                row_writer = csv.writer(rows_fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
                error_writer = csv.writer(errors_fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
                loaded_at = started_at.isoformat(" ")
                for row in records:
                    progress.bytes_read = hashing.bytes_read
                    if row.fields is not None and not any(cell.strip() for cell in row.fields):
                        continue  # a blank row
                    if tombstones and tombstones.mentioned_in(row.text):
                        erased += 1
                        continue
                    reason = row.error
                    if reason is None and row.fields is not None and len(row.fields) != width:
                        reason = (
                            f"wrong number of fields: {len(row.fields)} where the header has "
                            f"{width}"
                        )
                    if reason is not None:
                        text = row.text[:ERROR_TEXT_LIMIT].replace("\x00", "\\x00")
                        max_field = max(max_field, len(text))
                        error_writer.writerow((row.number, text, reason))
                        errors += 1
                        continue
                    assert row.fields is not None
                    payload = json.dumps(
                        {
                            name if name is not None else f"column_{index}": cell
                            for index, (name, cell) in enumerate(
                                zip(header.names, row.fields, strict=True), start=1
                            )
                            if name is not None or cell.strip()
                        },
                        ensure_ascii=False,
                        separators=(", ", ": "),
                    )
                    max_field = max(max_field, len(payload))
                    row_writer.writerow(
                        (load_id, kind, source_file, row.number, payload, loaded_at)
                    )
                    rows += 1
                    progress.records = rows + errors + erased
            # read (and hash) whatever the csv reader left, e.g. after a last blank line
            while stream.read(1 << 20):
                pass
            while hashing.read(1 << 20):
                pass
    except OSError as exc:
        raise TerminalError(f"cannot read {display}: {exc.strerror or exc}") from None
    finally:
        csv.field_size_limit(previous_limit)
    return SheetBatch(
        load_id=load_id,
        kind=kind,
        source_file=source_file,
        checksum=hashing.sha.hexdigest(),
        rows_csv=rows_csv,
        errors_csv=errors_csv,
        rows=rows,
        error_rows=errors,
        erased_rows=erased,
        max_field=max_field,
        started_at=started_at,
    )


# --------------------------------------------------------------------------- one load


@dataclass
class SheetLoadResult(LoadResult):
    """What one load of a sheet did: its rows are the records."""

    kind: str = ""

    def counts(self) -> list[str]:
        return [
            f"{plural(self.records_read, 'row')} -> {plural(self.loaded, self.kind + ' row')}",
            plural(self.errors, "error"),
            *([plural(self.erased, "erased row")] if self.erased else []),
        ]


def load_sheet(
    backend: Backend,
    load_input: LoadInput,
    kind: str,
    *,
    progress: bool = True,
    stderr: IO[str] | None = None,
) -> SheetLoadResult:
    """Load one CSV file of ``kind`` in one transaction and return what happened."""
    if kind not in KINDS:
        raise TerminalError(f"unknown --kind {kind!r} (use one of: events, {', '.join(KINDS)})")
    assert load_input.path is not None
    t0 = time.monotonic()
    display = load_input.display
    with Progress(display, stream=stderr, enabled=progress, total_bytes=load_input.size) as prog:
        prog.phase = "hashing"
        existing = backend.find_load(file_sha256(load_input.path, prog))
        if existing is not None:
            return SheetLoadResult(display, existing, skipped=True, kind=kind)
        prog.phase = "reading"
        tombstones = read_tombstones(backend)
        with load_tempdir() as tmp:
            batch = read_sheet(load_input, kind, tmp, prog, tombstones)
            prog.phase = f"writing to {backend.kind}"
            existing = write_sheet(backend, batch)
    if existing is not None:
        return SheetLoadResult(display, existing, skipped=True, kind=kind)
    return SheetLoadResult(
        display,
        batch.load_id,
        kind=kind,
        records_read=batch.records_read,
        loaded=batch.rows,
        errors=batch.error_rows,
        erased=batch.erased_rows,
        seconds=time.monotonic() - t0,
    )
