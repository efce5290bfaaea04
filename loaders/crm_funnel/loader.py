"""The load engine behind ``funnel-load``.

A *load* is one file (or stdin). It is read as a stream, every record is classified and
written to a temporary CSV file (one for events, one for errors), and the CSV files are
bulk-loaded into the raw tables in ONE transaction that also writes the ``raw.loads`` row:

* ``raw.events``: one row per distinct event key, with the record's original JSON text
  (never re-serialised) and where it came from (load id, file, line / element position).
  Each record's format ('native', 'resend' webhook, 'segment' track/identify) is detected
  (or forced with ``--format``) and decides its event key. A Svix webhook envelope (the
  NDJSON line ``funnel-webhook`` spools: headers + raw body) lands its body, keyed by the
  Svix message id, after its signature is verified (see ``svix.py``).
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
disk, and de-duplication happens in the database.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, TypeVar

from crm_funnel import svix
from crm_funnel.connections import connect_duckdb, connect_postgres, one_line
from crm_funnel.erasure import NO_TOMBSTONES, Tombstones, erasure_ddl, read_tombstones
from crm_funnel.errors import TerminalError, TransientError
from crm_funnel.profile import DuckDBTarget, PostgresTarget, Target

NATIVE = "native"
RESEND = "resend"
SEGMENT = "segment"
FORMATS = ("auto", NATIVE, RESEND, SEGMENT)
ENVELOPE = "svix-envelope"  # not a format: the loader unwraps it, the body has a format
STDIN_NAME = "<stdin>"
INPUT_SUFFIXES = (".json", ".ndjson", ".jsonl")

CHUNK_SIZE = 1 << 20  # bytes read from the source per step
# Event keys longer than this (characters) are replaced by a namespaced sha256 of the id:
# PostgreSQL's btree index cannot hold a key of more than about 2,700 bytes.
KEY_LIMIT = 200
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_JSON_WS = b" \t\r\n"
SEPARATORS = (",", ":")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
RAW_TABLES = ("loads", "events", "load_errors", "erasures", "erasure_salt")
# raw.loads.key_version of the loads this version writes: event keys are namespaced
# ('native:id:m-1'); version 1 (null) keys were the bare id or content hash ('m-1').
KEY_VERSION = 2
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TEMP_PREFIX = "funnel-load-"  # + pid + "-": a load's temporary directory (see load_tempdir)
# The version-1 key of a namespaced key b.event_key (the '*-sha256' kinds had none).
LEGACY_KEY_SQL = "regexp_replace(b.event_key, '^[a-z]+:(id|int|sha256):', '')"
T = TypeVar("T")
Execute = Callable[..., list[tuple[Any, ...]]]


# --------------------------------------------------------------------------- classification


_SEGMENT_TYPES = ("track", "identify")


def detect_format(obj: dict[str, Any]) -> str:
    """Return the source format of one JSON object (used with ``--format auto``).

    * 'native': an object with an ``event_type`` key (checked first: the hot path);
    * 'resend': a string ``type`` starting with ``email.`` and an object ``data``;
    * 'segment': ``type`` track or identify (any case) and a ``messageId``, ``userId``
      or ``anonymousId``;
    * ``ENVELOPE``: a webhook envelope (an object ``headers`` and a ``body``);
    * anything else is 'native' too, so dbt quarantines it with a reason.
    """
    if "event_type" in obj:
        return NATIVE
    kind = obj.get("type")
    if type(kind) is str:
        if kind.startswith("email.") and type(obj.get("data")) is dict:
            return RESEND
        if kind.lower() in _SEGMENT_TYPES and (
            _present(obj.get("messageId"))
            or _present(obj.get("userId"))
            or _present(obj.get("anonymousId"))
        ):
            return SEGMENT
    if "body" in obj and type(obj.get("headers")) is dict:
        return ENVELOPE
    return NATIVE


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _canonical_hash(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=SEPARATORS, ensure_ascii=False)
    # 'surrogatepass': a JSON escape like "\ud800" decodes to a lone surrogate.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _usable_id(value: str) -> bool:
    """A string event id is used as the key if PostgreSQL text and our CSV can hold it."""
    if "\x00" in value or EVENTS_QUOTE in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _id_key(fmt: str, kind: str, value: str) -> str:
    """``fmt:kind:value``; a key longer than KEY_LIMIT is ``fmt:kind-sha256:<sha256 of value>``."""
    key = f"{fmt}:{kind}:{value}"
    if len(key) <= KEY_LIMIT:
        return key
    return f"{fmt}:{kind}-sha256:{hashlib.sha256(value.encode('utf-8')).hexdigest()}"


def _content_key(fmt: str, obj: dict[str, Any]) -> str:
    return f"{fmt}:sha256:{_canonical_hash(obj)}"


def native_event_key(obj: dict[str, Any]) -> str:
    """``native:id:<event_id>`` for a non-empty string, ``native:int:<event_id>`` for an
    integer, else ``native:sha256:<sha256 of the canonical JSON>``."""
    event_id = obj.get("event_id")
    kind = type(event_id)
    if kind is int:
        return _id_key(NATIVE, "int", str(event_id))
    if kind is str and event_id and _usable_id(event_id):
        return _id_key(NATIVE, "id", event_id)
    return _content_key(NATIVE, obj)


# "\ud800" alone is valid JSON to Python but not representable in UTF-8, so neither
# DuckDB nor PostgreSQL accepts it: such a record is a load error.
_LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(obj: Any) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def resend_event_key(obj: dict[str, Any]) -> str:
    """``resend:sha256:<sha256 of the canonical JSON>``: a provider's retry of the same
    body is a duplicate. (In a Svix envelope the key is ``svix:id:<Svix message id>``.)
    """
    return _content_key(RESEND, obj)


def segment_event_key(obj: dict[str, Any]) -> str:
    """``segment:id:<messageId>`` (a non-empty string) else the content hash."""
    message_id = obj.get("messageId")
    if type(message_id) is str and message_id and _usable_id(message_id):
        return _id_key(SEGMENT, "id", message_id)
    return _content_key(SEGMENT, obj)


EVENT_KEYS: dict[str, Callable[[dict[str, Any]], str]] = {
    NATIVE: native_event_key,
    RESEND: resend_event_key,
    SEGMENT: segment_event_key,
}


def webhook_secrets() -> list[bytes]:
    """The Svix signing keys from ``CRM_FUNNEL_WEBHOOK_SECRET`` (none: not verified)."""
    try:
        return svix.secrets_from_env()
    except svix.SecretError as exc:
        raise TerminalError(str(exc)) from None


def _epoch(value: Any) -> float | None:
    """Unix time of an ISO-8601 timestamp (naive = UTC); None if it is not one."""
    if type(value) is not str:
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class DuplicateKeyError(ValueError):
    """A JSON object names a key twice (engines disagree on which value counts)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                name = json.dumps(key, ensure_ascii=False)
                raise DuplicateKeyError(f"duplicate JSON key {name}")
            seen.add(key)
    return obj


# NaN / Infinity are accepted by Python's json module but are not JSON. A key given twice
# in one object is rejected: DuckDB would read the first value and PostgreSQL the last.
# (The hook costs about 5% of a load: a C call of dict() per object plus a length check.)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
# Python's defaults: finds where an element ends that _DECODER rejects for its values
_LENIENT_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _json_error_reason(exc: BaseException, with_column: bool = True) -> str:
    if isinstance(exc, DuplicateKeyError):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        if with_column:
            return f"invalid JSON: {exc.msg} at column {exc.colno}"
        return f"invalid JSON: {exc.msg}"
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply"
    return f"invalid JSON: {exc}"


# --------------------------------------------------------------------------- reading


class _HashingReader:
    """Reads the raw bytes of a file or stdin, hashing and counting what it reads."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self._sha = hashlib.sha256()
        self.bytes_read = 0
        head = b""
        while len(head) < 2:  # enough to recognise the gzip magic
            more = fh.read(2 - len(head))
            if not more:
                break
            head += more
        self._sha.update(head)
        self.bytes_read = len(head)
        self.head = head
        self._pending = head

    def read(self, size: int = -1) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            if size is None or size < 0:
                return data + self.read(-1)
            return data + self.read(size - len(data)) if size > len(data) else data
        data = self._fh.read(size)
        if data:
            self._sha.update(data)
            self.bytes_read += len(data)
        return data

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        """Read (and hash) the rest, so the checksum always covers the whole input."""
        while self.read(CHUNK_SIZE):
            pass

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def file_sha256(path: Path, progress: Progress | None = None) -> str:
    """sha256 of a file's bytes as stored on disk."""
    sha = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK_SIZE):
                sha.update(chunk)
                if progress is not None:
                    progress.bytes_read += len(chunk)
    except OSError as exc:
        raise TerminalError(f"cannot read {path}: {exc.strerror or exc}") from None
    return sha.hexdigest()


@dataclass
class LoadInput:
    """One load: a file or stdin."""

    display: str  # as shown to the user
    path: Path | None  # None for stdin

    @property
    def source_file(self) -> str:
        if self.path is None:
            return STDIN_NAME
        # a file name that is not valid UTF-8 is shown with backslash escapes
        return os.fsencode(self.path.resolve()).decode("utf-8", "backslashreplace")

    @property
    def size(self) -> int | None:
        if self.path is None:
            return None
        try:
            return self.path.stat().st_size
        except OSError:
            return None


@dataclass
class Batch:
    """The classified content of one load, as CSV files ready for the database."""

    load_id: str
    source_file: str
    source_format: str
    checksum: str
    events_csv: Path
    errors_csv: Path
    event_rows: int
    error_rows: int
    erased_rows: int
    max_field: int
    started_at: datetime

    @property
    def records_read(self) -> int:
        return self.event_rows + self.error_rows + self.erased_rows


# Events CSV columns (the order of EVENT_CSV_COLUMNS): the four that vary per record, then
# the three that are the same for the whole load, so PostgreSQL can COPY it straight into
# raw.events. It uses control characters as quote and delimiter. Valid JSON text never
# contains a raw control character (strings must escape them; between tokens only space,
# tab, CR and LF are allowed), so a payload never needs escaping: it is written as is,
# which is both byte-exact and fast. Event keys containing U+0000/U+0001 are not used
# (the content hash is used instead). The errors CSV (any text) uses the csv module.
EVENTS_QUOTE = "\x01"
EVENTS_DELIM = "\x1f"
_Q, _D = EVENTS_QUOTE, EVENTS_DELIM
EVENT_CSV_COLUMNS = (
    "event_key",
    "source_position",
    "source_format",
    "payload",
    "load_id",
    "source_file",
    "loaded_at",
)
ERROR_CSV_COLUMNS = ("source_position", "raw_text", "reason")


class _CsvSink:
    """Classifies records and writes them to the events / errors CSV files."""

    def __init__(
        self,
        tmpdir: Path,
        fmt: str,
        progress: Progress,
        tombstones: Tombstones,
        *,
        load_id: str,
        source_file: str,
        loaded_at: datetime,
        secrets: Sequence[bytes] = (),
    ) -> None:
        self.forced = None if fmt == "auto" else fmt
        self.tombstones = tombstones
        self.secrets = secrets
        # the columns that are the same on every row of the load, pre-formatted
        quoted_file = source_file.replace(_Q, _Q + _Q)
        self.suffix = (
            f"{_D}{_Q}{load_id}{_Q}{_D}{_Q}{quoted_file}{_Q}{_D}{loaded_at.isoformat(' ')}\n"
        )
        self.formats_seen: set[str] = set()
        self.progress = progress
        self.events_csv = tmpdir / "events.csv"
        self.errors_csv = tmpdir / "errors.csv"
        # closed by close(); the sink lives across many calls
        self._events_fh = open(  # noqa: SIM115
            self.events_csv, "w", encoding="utf-8", newline="", buffering=1 << 20
        )
        self._errors_fh = open(self.errors_csv, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._errors = csv.writer(self._errors_fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        self.event_rows = 0
        self.error_rows = 0
        self.erased_rows = 0
        self.max_field = 0

    def close(self) -> None:
        self._events_fh.close()
        self._errors_fh.close()

    # -- errors
    def _erased(self, text: str) -> bool:
        """A record that mentions a forgotten person is never landed again."""
        if self.tombstones and self.tombstones.mentioned_in(text):
            self.erased_rows += 1
            return True
        return False

    def error(self, position: int, raw_text: str, reason: str) -> None:
        if self._erased(raw_text):
            return
        raw_text = raw_text.replace("\x00", "\\x00")  # PostgreSQL text cannot hold NUL
        self.max_field = max(self.max_field, len(raw_text))
        self._errors.writerow((position, raw_text, reason))
        self.error_rows += 1

    # -- NDJSON: a whole chunk of lines at a time (the hot path)
    def add_lines(self, lines: list[bytes], lineno: int) -> int:
        """Classify ``lines`` (without ``\\n``); ``lineno`` is the number of the line before."""
        decode = _DECODER.decode
        scan_once = _DECODER.scan_once
        rows: list[str] = []
        append = rows.append
        for line in lines:
            lineno += 1
            if not line.strip(_JSON_WS):
                continue  # blank lines are not records (other control bytes are errors)
            if line[-1:] == b"\r":
                line = line[:-1]
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                self.error(lineno, line.decode("utf-8", "backslashreplace"), "invalid UTF-8")
                continue
            try:
                # the C scanner directly (what json.loads runs after two regex calls);
                # anything unusual (surrounding whitespace, errors) goes the long way
                obj, end = scan_once(text, 0)
                if end != len(text):
                    obj = decode(text)
            except StopIteration:
                try:
                    if text[:1] == "\ufeff":  # a BOM mid-file (files joined with cat)
                        text = text[1:]
                    obj = decode(text)
                except (ValueError, RecursionError) as exc:
                    self.error(lineno, text, _json_error_reason(exc))
                    continue
            except (ValueError, RecursionError) as exc:
                self.error(lineno, text, _json_error_reason(exc))
                continue
            row = self._event_row(lineno, obj, text)
            if row is not None:
                append(row)
        self._events_fh.write("".join(rows))
        self.progress.records = self.records
        return lineno

    # -- JSON array elements (text is the element's original text)
    def add_element(self, position: int, obj: Any, text: str) -> None:
        row = self._event_row(position, obj, text)
        if row is not None:
            self._events_fh.write(row)
        if not position & 0x3FF:
            self.progress.records = self.records

    def _event_row(self, position: int, obj: Any, text: str) -> str | None:
        """The CSV row of one decoded record, or None after recording why it is an error."""
        if type(obj) is not dict:
            self.error(position, text, f"not a JSON object (got {_json_type(obj)})")
            return None
        try:
            if "\\u" in text and _LONE_SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(obj):
                self.error(position, text, "invalid JSON: lone UTF-16 surrogate escape")
                return None
            if self._erased(text):
                return None
            fmt = self.forced
            if fmt is None:
                fmt = detect_format(obj)
                if fmt == ENVELOPE:
                    return self._envelope_row(position, obj, text)
            elif "body" in obj and type(obj.get("headers")) is dict:  # forced: still unwrap
                return self._envelope_row(position, obj, text)
            key = EVENT_KEYS[fmt](obj)
        except RecursionError:  # decoded, but too deep to re-encode (content-hash key)
            self.error(position, text, _json_error_reason(RecursionError()))
            return None
        self.formats_seen.add(fmt)
        self.event_rows += 1
        self.max_field = max(self.max_field, len(text))
        return f"{_Q}{key}{_Q}{_D}{position}{_D}{fmt}{_D}{_Q}{text}{_Q}{self.suffix}"

    def _envelope_row(self, position: int, envelope: dict[str, Any], text: str) -> str | None:
        """The body of a Svix envelope as an event keyed by its message id, or an error.

        With signing secrets configured the signature and the timestamp (against the
        envelope's ``received_at``, else now) are verified first. The body text is landed
        verbatim: it is exactly what was signed.
        """
        body = envelope["body"]
        if type(body) is not str:
            return self._envelope_error(
                position, text, f"body is a JSON {_json_type(body)}, not the raw body text"
            )
        message_id = svix.signature_headers(envelope["headers"])["id"]
        if type(message_id) is not str or not message_id or not _usable_id(message_id):
            return self._envelope_error(position, text, "missing or unusable svix-id header")
        if self.secrets:
            now = time.time()
            if "received_at" in envelope:
                received = _epoch(envelope["received_at"])
                if received is None:
                    return self._envelope_error(
                        position, text, "received_at is not an ISO-8601 timestamp"
                    )
                now = received
            try:
                svix.verify(envelope["headers"], body, self.secrets, now)
            except svix.VerificationError as exc:
                self.error(position, text, str(exc))
                return None
        try:
            obj = _DECODER.decode(body)
        except (ValueError, RecursionError) as exc:
            reason = _json_error_reason(exc, with_column=False)
            verb = "has a" if isinstance(exc, DuplicateKeyError) else "is"
            return self._envelope_error(position, text, f"body {verb} {reason}")
        if type(obj) is not dict:
            return self._envelope_error(
                position, text, f"body is not a JSON object (got {_json_type(obj)})"
            )
        if "\\u" in body and _LONE_SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(obj):
            return self._envelope_error(
                position, text, "body is invalid JSON: lone UTF-16 surrogate escape"
            )
        if self._erased(body):
            return None
        fmt = self.forced or detect_format(obj)
        if fmt == ENVELOPE:
            return self._envelope_error(position, text, "body is itself a webhook envelope")
        self.formats_seen.add(fmt)
        self.event_rows += 1
        self.max_field = max(self.max_field, len(body))
        key = _id_key("svix", "id", message_id)
        return f"{_Q}{key}{_Q}{_D}{position}{_D}{fmt}{_D}{_Q}{body}{_Q}{self.suffix}"

    def _envelope_error(self, position: int, text: str, reason: str) -> None:
        self.error(position, text, f"webhook envelope: {reason}")

    @property
    def records(self) -> int:
        return self.event_rows + self.error_rows + self.erased_rows

    def source_format(self) -> str:
        if self.forced:
            return self.forced
        if len(self.formats_seen) == 1:
            return next(iter(self.formats_seen))
        return "mixed" if self.formats_seen else NATIVE


def _chunks(stream: Any, display: str) -> Iterator[bytes]:
    """Read decompressed chunks, turning gzip failures into a TerminalError."""
    while True:
        try:
            chunk = stream.read(CHUNK_SIZE)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            what = "truncated" if isinstance(exc, EOFError) else "corrupt"
            raise TerminalError(
                f"cannot read {display}: {what} gzip data ({exc}); nothing was loaded from it, "
                "re-create or re-download the file"
            ) from None
        except OSError as exc:
            raise TerminalError(f"cannot read {display}: {exc.strerror or exc}") from None
        if not chunk:
            return
        yield chunk


def _ndjson(sink: _CsvSink, first: bytes, chunks: Iterator[bytes]) -> None:
    lineno = 0
    parts: list[bytes] = []
    for chunk in _prepend(first, chunks):
        lines = chunk.split(b"\n")
        if len(lines) == 1:
            parts.append(chunk)
            continue
        if parts:
            parts.append(lines[0])
            lines[0] = b"".join(parts)
            parts = []
        tail = lines.pop()
        if tail:
            parts.append(tail)
        lineno = sink.add_lines(lines, lineno)
    if parts:
        sink.add_lines([b"".join(parts)], lineno)


def _prepend(first: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from chunks


class _ArrayReader:
    """Cuts the elements out of a JSON array without loading the whole file.

    ``json.JSONDecoder.raw_decode`` decodes one element from a text buffer and tells where
    it ends, so the element's original text is ``buf[start:end]``. When an element may
    continue beyond the buffer, more is read and the element decoded again.

    Bytes that are not UTF-8 are decoded as lone surrogates ('surrogateescape'), so a bad
    byte inside a string, NaN/Infinity or a duplicate key spoil only their element (one
    load error, the reader goes on). A syntax break (where the next element starts cannot
    be known) rejects the whole file: ``TerminalError`` naming the byte offset.
    """

    def __init__(
        self, sink: _CsvSink, first: bytes, chunks: Iterator[bytes], where: str, offset: int
    ) -> None:
        self.sink = sink
        self.where = where  # "name" or "the decompressed data of name"
        self.chunks = _prepend(first, chunks)
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.offset = offset  # bytes of the (decompressed) input before buf[0]

    def _fill(self, want: int = 1) -> bool:
        """Read at least one more chunk (and ``want`` bytes) into the buffer.

        Drops the consumed part of the buffer; returns False if nothing could be added.
        """
        if self.eof:
            return False
        self.offset += _utf8_size(self.buf[: self.pos])
        pieces = [self.buf[self.pos :]]
        got = added = 0
        while not self.eof and (got < want or not added):
            chunk = next(self.chunks, None)
            final = chunk is None
            if final:
                self.eof = True
                chunk = b""
            got += len(chunk)
            piece = self.decoder.decode(chunk, final)
            pieces.append(piece)
            added += len(piece)
        self.buf = "".join(pieces)
        self.pos = 0
        return added > 0

    def _skip_ws(self) -> bool:
        """Move past whitespace; False when the input ends."""
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return True
            if not self._fill():
                return False

    def _reject(self, reason: str, at: int | None = None) -> TerminalError:
        """The error that rejects the file; ``at`` is an index into ``buf`` (default pos)."""
        at = self.pos if at is None else at
        if at < len(self.buf) and "\udc80" <= self.buf[at] <= "\udcff":
            reason = "invalid UTF-8"
        byte = self.offset + _utf8_size(self.buf[:at])
        return TerminalError(
            f"cannot read {self.where}: {reason} at byte {byte:,}; nothing was loaded "
            "from it, fix the JSON array and load the file again"
        )

    def _maybe_incomplete(self, exc: BaseException) -> bool:
        if not isinstance(exc, json.JSONDecodeError):
            return False
        return exc.pos >= len(self.buf) - 16 or exc.msg.startswith("Unterminated string")

    def _decode(self, decoder: json.JSONDecoder) -> tuple[Any, int]:
        """``decoder.raw_decode`` at ``pos``, reading more while the element may continue."""
        while True:
            try:
                obj, end = decoder.raw_decode(self.buf, self.pos)
            except (ValueError, RecursionError) as exc:
                if self._maybe_incomplete(exc) and not self.eof:
                    self._fill(len(self.buf) - self.pos)
                    continue  # (decoded again even at the end: _fill moves the buffer)
                raise
            if end == len(self.buf) and not self.eof:
                self._fill(len(self.buf) - self.pos)
                continue  # a number or literal may continue in the next chunk
            return obj, end

    def _element(self, position: int) -> None:
        """Decode the element at ``pos`` and hand it (or its load error) to the sink."""
        try:
            obj, end = self._decode(_DECODER)
        except (ValueError, RecursionError) as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise self._reject(_json_error_reason(exc, with_column=False), exc.pos) from None
            # well-formed but not acceptable (NaN, a duplicate key, too deep): find its end
            end = self._end_of(exc)
            self.sink.error(position, self._text(end), _json_error_reason(exc))
            self.pos = end
            return
        text = self.buf[self.pos : end]
        self.pos = end
        if not text.isascii() and _has_undecodable(text):
            self.sink.error(position, _undecoded(text), "invalid UTF-8")
        else:
            self.sink.add_element(position, obj, text)

    def _end_of(self, exc: BaseException) -> int:
        """Where the element at ``pos`` ends, by the lenient decoder or by its brackets."""
        try:
            return self._decode(_LENIENT_DECODER)[1]
        except json.JSONDecodeError as again:
            raise self._reject(_json_error_reason(again, with_column=False), again.pos) from None
        except RecursionError:
            pass
        depth = 0
        while True:
            for match in _BRACKETS.finditer(self.buf, self.pos):
                token = match.group()
                depth += 1 if token in "[{" else -1 if token in "]}" else 0
                if depth == 0:
                    return match.end()
            depth = 0
            if not self._fill(len(self.buf) - self.pos):
                raise self._reject(_json_error_reason(exc)) from None

    def _text(self, end: int) -> str:
        text = self.buf[self.pos : end]
        return _undecoded(text) if _has_undecodable(text) else text

    def run(self) -> None:
        self._fill()
        self.pos = _WHITESPACE.match(self.buf).end() + 1  # type: ignore[union-attr]  # '['
        index = 0
        if not self._skip_ws():
            raise self._reject(_UNCLOSED)
        if self.buf[self.pos] == "]":
            self.pos += 1
        else:
            while True:
                index += 1
                self._element(index)
                if not self._skip_ws():
                    raise self._reject(_UNCLOSED)
                ch = self.buf[self.pos]
                if ch == "]":
                    self.pos += 1
                    break
                if ch != ",":
                    raise self._reject("invalid JSON: Expecting ',' delimiter")
                self.pos += 1
                if not self._skip_ws():
                    raise self._reject(_UNCLOSED)
        if self._skip_ws():
            raise self._reject("extra data after the JSON array")


_UNCLOSED = "unexpected end of file: the JSON array is not closed"
# the tokens that open and close a value (strings skipped whole): finds a deep value's end
_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


def _has_undecodable(text: str) -> bool:
    """Whether ``text`` holds bytes that were not UTF-8 (see _ArrayReader)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _undecoded(text: str) -> str:
    """The text with its non-UTF-8 bytes as backslash escapes (as NDJSON lines show them)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def read_to_csv(
    load_input: LoadInput,
    stream: IO[bytes],
    tmpdir: Path,
    fmt: str,
    progress: Progress,
    tombstones: Tombstones = NO_TOMBSTONES,
    secrets: Sequence[bytes] | None = None,
) -> Batch:
    """Stream one input into CSV files in ``tmpdir``; return the batch description.

    ``secrets``: the keys that verify webhook envelopes (None: from the environment).
    """
    if secrets is None:
        secrets = webhook_secrets()
    started_at = utcnow()
    load_id = uuid.uuid4().hex
    source = _HashingReader(stream)
    progress.source = source
    display = load_input.display
    if source.head == _GZIP_MAGIC:
        decompressed: Any = gzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[arg-type]
    elif (
        source.head and load_input.path is not None and load_input.path.name.lower().endswith(".gz")
    ):
        raise TerminalError(f"cannot read {display}: not gzip data although the name ends in .gz")
    else:
        decompressed = source
    chunks = _chunks(decompressed, display)

    # Find the layout: skip a BOM and leading whitespace, look at the first byte.
    first = b""
    bom_checked = False
    skipped = 0  # bytes of a BOM
    for chunk in chunks:
        first += chunk
        if not bom_checked:
            if len(first) < len(_BOM):
                continue
            bom_checked = True
            if first.startswith(_BOM):
                first, skipped = first[len(_BOM) :], len(_BOM)
        if first.lstrip(_JSON_WS) or len(first) > CHUNK_SIZE:
            break
    if not bom_checked and first.startswith(_BOM):
        first, skipped = first[len(_BOM) :], len(_BOM)
    is_array = first.lstrip(_JSON_WS)[:1] == b"["
    source_file = tombstones.redact(load_input.source_file)  # a forgotten person's name

    sink = _CsvSink(
        tmpdir,
        fmt,
        progress,
        tombstones,
        load_id=load_id,
        source_file=source_file,
        loaded_at=started_at,
        secrets=secrets,
    )
    # The hot loop creates and frees millions of small dicts that never form cycles; the
    # cyclic GC would only slow it down (by ~30%). Reference counting still frees them.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if is_array:
            where = f"the decompressed data of {display}" if decompressed is not source else display
            _ArrayReader(sink, first, chunks, where, skipped).run()
        else:
            _ndjson(sink, first, chunks)
        source.drain()
    finally:
        if gc_was_enabled:
            gc.enable()
        sink.close()
    progress.records = sink.records
    return Batch(
        load_id=load_id,
        source_file=source_file,
        source_format=sink.source_format(),
        checksum=source.hexdigest(),
        events_csv=sink.events_csv,
        errors_csv=sink.errors_csv,
        event_rows=sink.event_rows,
        error_rows=sink.error_rows,
        erased_rows=sink.erased_rows,
        max_field=sink.max_field,
        started_at=started_at,
    )


def utcnow() -> datetime:
    """Naive UTC timestamp (what the raw tables store)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --------------------------------------------------------------------------- progress


class Progress:
    """Prints a progress line to stderr every ``interval`` s once a load runs > ``interval`` s.

    The hot loop only assigns ``records`` (and the reader counts bytes); a daemon thread
    does the printing, so a long database phase is reported too.
    """

    def __init__(
        self,
        label: str,
        *,
        stream: IO[str] | None = None,
        enabled: bool = True,
        total_bytes: int | None = None,
        interval: float = 2.0,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.total_bytes = total_bytes
        self.interval = interval
        self.records = 0
        self.bytes_read = 0
        self.source: _HashingReader | None = None
        self.phase = "reading"
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._width = 0
        self._start = time.monotonic()

    def set_phase(self, phase: str) -> None:
        self.phase = phase

    def __enter__(self) -> Progress:
        self._start = time.monotonic()
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="funnel-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._print(self.line())

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        done = self.source.bytes_read if self.source is not None else self.bytes_read
        pct = ""
        if self.total_bytes:
            pct = f", {min(100.0, 100.0 * done / self.total_bytes):.0f}% of the file"
        if self.phase == "reading":
            rate = self.records / elapsed
            return f"{self.label}: {self.records:,} records read ({rate:,.0f}/s{pct})"
        if self.phase == "hashing":
            return f"{self.label}: computing checksum{pct}"
        return f"{self.label}: {self.records:,} records read, {self.phase} ({elapsed:.0f} s)"

    def _print(self, line: str) -> None:
        line = f"funnel-load: {line}"
        try:
            if self._tty:
                pad = max(0, self._width - len(line))
                self.stream.write("\r" + line + " " * pad)
                self._width = len(line)
            else:
                self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass


# --------------------------------------------------------------------------- results


def plural(n: int, word: str, plural_word: str | None = None) -> str:
    """'1 row', '2 rows' (or the given plural), with thousands separators."""
    return f"{n:,} {word if n == 1 else (plural_word or word + 's')}"


@dataclass
class LoadResult:
    display: str
    load_id: str
    records_read: int = 0
    events_loaded: int = 0
    duplicates_skipped: int = 0
    errors: int = 0
    erased: int = 0
    skipped: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        if self.skipped:
            return f"skipped {self.display}: already loaded (load {self.load_id})"
        return (
            f"loaded {self.display}: {plural(self.records_read, 'record')} -> "
            f"{plural(self.events_loaded, 'new event')}, "
            f"{plural(self.duplicates_skipped, 'duplicate')}, "
            f"{plural(self.errors, 'error')}"
            + (f", {plural(self.erased, 'erased record')}" if self.erased else "")
            + f" (load {self.load_id})"
        )


# --------------------------------------------------------------------------- databases


class Backend:
    """A raw-schema writer. Subclasses implement the SQL for one database."""

    kind = "database"
    text_type = "varchar"

    def __init__(self, raw_schema: str) -> None:
        #: called with a short description when the database work changes phase
        self.phase_hook: Callable[[str], None] = lambda phase: None
        if not _IDENTIFIER.match(raw_schema):
            raise TerminalError(
                f"--raw-schema {raw_schema!r} is not a plain SQL identifier "
                "(letters, digits, underscores)"
            )
        self.schema = raw_schema

    def ddl(self) -> list[str]:
        s, t = self.schema, self.text_type
        return [
            f"""create table if not exists {s}.loads (
                load_id {t} primary key, source_file {t} not null, checksum {t} not null,
                source_format {t} not null, records_read bigint not null,
                events_loaded bigint not null, duplicates_skipped bigint not null,
                errors bigint not null, erased_skipped bigint not null, status {t} not null,
                started_at timestamp not null, finished_at timestamp not null,
                key_version bigint default {KEY_VERSION})""",
            f"""create table if not exists {s}.events (
                event_key {t} not null primary key, load_id {t} not null,
                source_file {t} not null, source_position bigint not null,
                source_format {t} not null, payload {t} not null,
                loaded_at timestamp not null)""",
            f"""create table if not exists {s}.load_errors (
                load_id {t} not null, source_file {t} not null,
                source_position bigint not null, raw_text {t} not null,
                reason {t} not null, loaded_at timestamp not null)""",
            *erasure_ddl(s, t),
        ]

    def migrations(self) -> list[tuple[str, str, str]]:
        """(table, column, statement adding it) for raw tables made by older versions."""
        s = self.schema
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

    def write(self, batch: Batch) -> tuple[str | None, int]:
        """Commit the batch; return (existing load id, 0) if skipped else (None, inserted)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DuckDBBackend(Backend):
    kind = "DuckDB"
    text_type = "varchar"

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
            return self.con.execute(sql, list(params)).fetchall()

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
    def _read_csv(columns: dict[str, str], max_field: int, *, events: bool) -> str:
        """A read_csv(?) call with explicit columns (the path is the parameter)."""
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
        if not repeats:  # the usual case: a plain anti-join (a window costs 2x)
            return con.execute(
                f"""insert into {s}.events ({columns})
                select {columns} from {events} as b
                where not exists (select 1 from {s}.events as e where e.event_key = b.event_key)
                {legacy}""",
                [path],
            ).fetchone()[0]
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
                events = self._read_csv(
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
                errors = self._read_csv(
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


_PG_EVENTS_CSV = (
    f"format csv, delimiter E'\\x{ord(EVENTS_DELIM):02x}', quote E'\\x{ord(EVENTS_QUOTE):02x}'"
)


class PostgresBackend(Backend):
    kind = "PostgreSQL"
    text_type = "text"

    def __init__(self, target: PostgresTarget, raw_schema: str = "raw") -> None:
        super().__init__(raw_schema)
        import psycopg2
        import psycopg2.errors

        self._pg = psycopg2
        self.target = target
        self.con = connect_postgres(target, application_name="funnel-load")
        try:
            self.con.set_client_encoding("UTF8")
            with self.con.cursor() as cur:
                # the careful path stages a batch in a temp table: keep it in memory;
                # JIT only adds compile time to these simple bulk statements
                cur.execute("set temp_buffers = '256MB'")
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
        self, cur: Any, table: str, columns: tuple[str, ...], path: Path, events: bool
    ) -> None:
        options = _PG_EVENTS_CSV if events else "format csv"
        # When the connection is lost mid-COPY, psycopg2 prints the server's error through
        # sys.excepthook and then raises "invalid socket": keep the reason, print nothing.
        printed: list[BaseException] = []
        previous_hook = sys.excepthook
        sys.excepthook = lambda kind, exc, tb: printed.append(exc)
        try:
            with open(path, "rb") as fh:
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

    def write(self, batch: Batch) -> tuple[str | None, int]:
        s = self.schema
        try:
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
        s = self.schema

        def execute(sql: str) -> list[tuple[Any, ...]]:
            cur.execute(sql)
            return cur.fetchall()

        legacy = self._legacy_keys_sql(execute)
        # Fast path: no key of the batch exists yet and none repeats (the usual case for
        # new data): COPY straight into raw.events. A unique violation undoes just this
        # step and the batch goes the careful way below.
        if not legacy:
            cur.execute("savepoint funnel_direct_copy")
            try:
                self._copy(cur, f"{s}.events", EVENT_CSV_COLUMNS, batch.events_csv, True)
            except self._pg.errors.UniqueViolation:
                cur.execute("rollback to savepoint funnel_direct_copy")
            else:
                cur.execute("release savepoint funnel_direct_copy")
                return batch.event_rows
        cur.execute(
            "create temp table _funnel_events (event_key text, source_position bigint, "
            "source_format text, payload text, load_id text, source_file text, "
            "loaded_at timestamp) on commit drop"
        )
        self._copy(cur, "_funnel_events", EVENT_CSV_COLUMNS, batch.events_csv, True)
        cur.execute("analyze _funnel_events")
        # Keys not landed yet, first occurrence within the batch. A plain INSERT is safe
        # (and faster than ON CONFLICT) because the advisory lock serialises the loaders.
        # DISTINCT ON, not a self anti-join: when raw.events was never analyzed (e.g. full
        # of a killed load's dead rows) the planner ran that self-join as a nested loop.
        cur.execute(
            f"""insert into {s}.events
                (event_key, load_id, source_file, source_position, source_format, payload,
                 loaded_at)
            select b.event_key, b.load_id, b.source_file, b.source_position, b.source_format,
                   b.payload, b.loaded_at
            from (select distinct on (event_key) * from _funnel_events
                  order by event_key, source_position) as b
            where not exists (select 1 from {s}.events as e where e.event_key = b.event_key)
            {legacy}"""
        )
        return int(cur.rowcount)

    def close(self) -> None:
        with contextlib.suppress(self._pg.Error):
            self.con.close()


def open_backend(target: Target, raw_schema: str = "raw") -> Backend:
    """Connect to the target and make sure the raw tables exist."""
    backend: Backend
    if isinstance(target, DuckDBTarget):
        backend = DuckDBBackend(target, raw_schema)
    elif isinstance(target, PostgresTarget):
        backend = PostgresBackend(target, raw_schema)
    else:  # pragma: no cover - profile.py only returns the two
        raise TerminalError(f"unsupported target type {type(target).__name__}")
    try:
        backend.ensure_tables()
    except BaseException:
        backend.close()
        raise
    return backend


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
            if load_input.path is None:
                stream = stdin or sys.stdin.buffer
                batch = read_to_csv(load_input, stream, tmp, fmt, prog, tombstones, secrets)
            else:
                with _open_input(load_input.path, display) as fh:
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
        events_loaded=inserted,
        duplicates_skipped=batch.event_rows - inserted,
        errors=batch.error_rows,
        erased=batch.erased_rows,
        seconds=time.monotonic() - t0,
    )


def _temp_root() -> Path:
    """``$TMPDIR/crm-funnel-<uid>`` (mode 0700), without the directories of dead loads."""
    root = Path(tempfile.gettempdir()) / f"crm-funnel-{os.getuid()}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        info = root.lstat()
    except OSError as exc:
        raise TerminalError(f"cannot create {root}: {exc.strerror or exc}; set TMPDIR") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise TerminalError(f"{root} is not a directory of this user; remove it or set TMPDIR")
    for stale in root.glob(f"{TEMP_PREFIX}*"):
        pid = stale.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    return root


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process (a pid reused)
        return True
    return True


@contextlib.contextmanager
def load_tempdir() -> Iterator[Path]:
    """A load's temporary directory, removed on the way out.

    A killed load cannot remove its own, so the next load removes every directory whose
    process is gone (they are named by process id).
    """
    prefix = f"{TEMP_PREFIX}{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix=prefix, dir=_temp_root()) as tmp:
        yield Path(tmp)


def _open_input(path: Path, display: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise TerminalError(f"cannot read {display}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- paths


def has_input_suffix(name: str, suffixes: tuple[str, ...] = INPUT_SUFFIXES) -> bool:
    name = name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return name.endswith(suffixes)


def _dir_files(directory: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and has_input_suffix(p.name, suffixes)
    )


def expand_paths(paths: list[str], suffixes: tuple[str, ...] = INPUT_SUFFIXES) -> list[LoadInput]:
    """Turn the PATH arguments into loads (files, globs, directories, '-'); directories
    are searched for files ending in one of ``suffixes`` (or that plus .gz)."""
    import glob

    inputs: list[LoadInput] = []
    for arg in paths:
        if arg == "-":
            inputs.append(LoadInput(STDIN_NAME, None))
            continue
        path = Path(arg).expanduser()
        if path.is_dir():
            found = _dir_files(path, suffixes)
            if not found:
                raise TerminalError(
                    f"directory {arg} has no {'/'.join(suffixes)}(.gz) files; "
                    "pass the files or another directory"
                )
            inputs.extend(LoadInput(str(p), p) for p in found)
        elif path.is_file():
            inputs.append(LoadInput(arg, path))
        elif path.exists():
            raise TerminalError(f"{arg} is not a regular file; pass files or directories")
        elif glob.has_magic(arg):
            matches = sorted(glob.glob(os.path.expanduser(arg), recursive=True))
            files: list[Path] = []
            for match in matches:
                m = Path(match)
                if m.is_dir():
                    files.extend(_dir_files(m, suffixes))
                elif m.is_file():
                    files.append(m)
            if not files:
                raise TerminalError(f"no files match {arg}; check the pattern and directory")
            inputs.extend(LoadInput(str(p), p) for p in files)
        else:
            raise TerminalError(f"no such file or directory: {arg}; check the path")
    return inputs
