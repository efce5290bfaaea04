"""The CSV sink: classifies each record and writes the events / errors CSV files."""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crm_funnel.ingest import svix
from crm_funnel.ingest.formats import (
    DECODER,
    ENVELOPE,
    EVENT_KEYS,
    JSON_WS,
    LONE_SURROGATE_ESCAPE,
    NATIVE,
    DuplicateKeyError,
    detect_format,
    epoch,
    fast_decode,
    has_lone_surrogate,
    id_key,
    json_error_reason,
    json_type,
    usable_id,
)
from crm_funnel.ingest.progress import Progress
from crm_funnel.warehouse.backend import EVENTS_CSV_NAME, EVENTS_DELIM, EVENTS_QUOTE
from crm_funnel.warehouse.tombstones import Tombstones

_Q, _D = EVENTS_QUOTE, EVENTS_DELIM


class CsvSink:
    """Classifies records and writes them to the events / errors CSV files."""

    def __init__(
        self,
        tmpdir: Path,
        fmt: str,
        progress: Progress,
        tombstones: Tombstones,
        *,
        secrets: Sequence[bytes] = (),
    ) -> None:
        self.forced = None if fmt == "auto" else fmt
        self.tombstones = tombstones
        self.secrets = secrets
        self.formats_seen: set[str] = set()
        self.progress = progress
        self.events_csv = tmpdir / EVENTS_CSV_NAME
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
        decode = DECODER.decode
        scan_once = DECODER.scan_once  # type: ignore[attr-defined]  # C scanner, undocumented
        rows: list[str] = []
        append = rows.append
        for line in lines:
            lineno += 1
            if line[-1:] == b"\r":
                line = line[:-1]
            obj = fast_decode(line)
            if obj is not None:  # the hot path: valid UTF-8, a plain object
                text = line.decode("utf-8")
            else:
                if not line.strip(JSON_WS):
                    continue  # blank lines are not records (other control bytes are errors)
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
                        self.error(lineno, text, json_error_reason(exc))
                        continue
                except (ValueError, RecursionError) as exc:
                    self.error(lineno, text, json_error_reason(exc))
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
            self.error(position, text, f"not a JSON object (got {json_type(obj)})")
            return None
        try:
            if "\\u" in text and LONE_SURROGATE_ESCAPE.search(text) and has_lone_surrogate(obj):
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
            self.error(position, text, json_error_reason(RecursionError()))
            return None
        self.formats_seen.add(fmt)
        self.event_rows += 1
        self.max_field = max(self.max_field, len(text))
        return f"{_Q}{key}{_Q}{_D}{position}{_D}{fmt}{_D}{_Q}{text}{_Q}\n"

    def _envelope_row(self, position: int, envelope: dict[str, Any], text: str) -> str | None:
        """The body of a Svix envelope as an event keyed by its message id, or an error.

        With signing secrets configured the signature and the timestamp (against the
        envelope's ``received_at``, else now) are verified first. The body text is landed
        verbatim: it is exactly what was signed.
        """
        body = envelope["body"]
        if type(body) is not str:
            return self._envelope_error(
                position, text, f"body is a JSON {json_type(body)}, not the raw body text"
            )
        message_id = svix.signature_headers(envelope["headers"])["id"]
        if type(message_id) is not str or not message_id or not usable_id(message_id):
            return self._envelope_error(position, text, "missing or unusable svix-id header")
        if self.secrets:
            now = time.time()
            if "received_at" in envelope:
                received = epoch(envelope["received_at"])
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
            obj = DECODER.decode(body)
        except (ValueError, RecursionError) as exc:
            reason = json_error_reason(exc, with_column=False)
            verb = "has a" if isinstance(exc, DuplicateKeyError) else "is"
            return self._envelope_error(position, text, f"body {verb} {reason}")
        if type(obj) is not dict:
            return self._envelope_error(
                position, text, f"body is not a JSON object (got {json_type(obj)})"
            )
        if "\\u" in body and LONE_SURROGATE_ESCAPE.search(body) and has_lone_surrogate(obj):
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
        key = id_key("svix", "id", message_id)
        return f"{_Q}{key}{_Q}{_D}{position}{_D}{fmt}{_D}{_Q}{body}{_Q}\n"

    def _envelope_error(self, position: int, text: str, reason: str) -> str | None:
        """Record the envelope as a load error; None: no event row."""
        self.error(position, text, f"webhook envelope: {reason}")
        return None

    @property
    def records(self) -> int:
        return self.event_rows + self.error_rows + self.erased_rows

    def source_format(self) -> str:
        if self.forced:
            return self.forced
        if len(self.formats_seen) == 1:
            return next(iter(self.formats_seen))
        return "mixed" if self.formats_seen else NATIVE
