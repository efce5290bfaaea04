"""Bad input, end to end: broken records through the REAL ``funnel-load`` and ``dbt build``.

The matrix (``matrix_cases``) is ONE NDJSON file in which every line is a case with the
outcome it must have, so each target (DuckDB, PostgreSQL) needs one load and one build.
Each record (a non-blank line) ends as exactly one of

* an **activity** (``marts.fct_activities``), with the column values the case expects;
* a **duplicate**: an earlier line has the same event key (the loader lands the first);
* **quarantined** (``marts.fct_quarantined_events``) with the exact reason that
  ``int_events_validated`` gives (the first rule the record breaks);
* a **load error** (``raw.load_errors``) with the original text and a reason;

and the counts reconcile: records = activities + duplicates + quarantined + load errors,
and ``raw.loads.records_read = events_loaded + duplicates_skipped + errors + erased_skipped``.
A landed payload is byte-equal to its input line (less the line's CR, or a BOM before it).

Timestamps: **a timestamp without an offset means UTC** (``2026-03-01T10:00:00`` is
10:00 UTC); one with an offset is converted to UTC (``10:00+05:30`` is 04:30 UTC). "Now" is
the ``as_of`` var (pinned here); events later than ``as_of`` + 24 h are out of range.

Decisions asserted here: a valid line over 1 MB is landed and processed like any other; a
line nested too deeply for the parser is a load error "invalid JSON: nested too deeply"; a
BOM is ignored at the start of the file and at the start of any line (files joined with
``cat``); only space, tab, CR and LF make a line blank (a form feed alone is a load error,
not silently skipped); an empty file is a load with 0 records (loading the same empty bytes
again is skipped like any repeated file); a truncated gzip commits nothing (exit 2).

Property-based fuzzing (hypothesis) then throws random mixes of valid events, mutated
fields, random JSON values and random bytes at the loader (both targets, many examples)
and, as one derandomized batch of native events and Segment calls with extreme numbers and
odd keys and types in every field, through ``dbt build`` on both targets, checking that the
build is green and every raw line is accounted for exactly once; there a native event's
classification is also compared with the independent reference of the rules
(``reference.py``).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import re
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from conftest import (
    REPO_ROOT,
    ProfileRef,
    fetch,
    parse_load_summary,
    run_dbt,
    run_funnel_load,
)
from crm_funnel.ingest.cli import main as funnel_load_main
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference  # noqa: E402

AS_OF = "2026-07-01T00:00:00Z"
DBT_VARS = {"as_of": AS_OF}
BOM = b"\xef\xbb\xbf"
JSON_WS = b" \t\r\n"
T0 = datetime(2026, 3, 1, 10, 0)


ACTIVITY = "activity"
DUPLICATE = "duplicate"
QUARANTINED = "quarantined"
LOAD_ERROR = "load error"
BLANK = "blank"
TOO_DEEP = "invalid JSON: nested too deeply"
OUT_OF_RANGE = "event_time out of range"
UNPARSEABLE = "unparseable event_time"


# --------------------------------------------------------------------------- expectations


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def is_segment_call(obj: dict[str, Any]) -> bool:
    """A Segment track/identify call (README, source formats), not a native event."""
    kind = obj.get("type")
    return (
        "event_type" not in obj
        and type(kind) is str
        and kind.lower() in ("track", "identify")
        and any(obj.get(name) not in (None, "") for name in ("messageId", "userId", "anonymousId"))
    )


def expected_key(obj: dict[str, Any]) -> str:
    """The event key, written here from the documented rule (not imported from the loader).

    A Segment call (``messageId``) is ``segment:...``, any other record ``native:...``:
    ``<fmt>:int:<event_id>`` for an integer (native only), ``<fmt>:id:<id>`` for a non-empty
    string (without U+0000/U+0001, which the raw tables cannot hold as a key), a key over
    200 characters as ``<fmt>:<kind>-sha256:<sha256 of the id>``, else
    ``<fmt>:sha256:<sha256 of the canonical JSON>``.
    """
    segment = is_segment_call(obj)
    fmt = "segment" if segment else "native"
    event_id = obj.get("messageId" if segment else "event_id")
    if type(event_id) is int and not segment:
        kind, value = "int", str(event_id)
    elif type(event_id) is str and event_id and "\x00" not in event_id and "\x01" not in event_id:
        kind, value = "id", event_id
    else:
        canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return f"{fmt}:sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    if len(f"{fmt}:{kind}:{value}") > 200:
        return f"{fmt}:{kind}-sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
    return f"{fmt}:{kind}:{value}"


def landed_text(line: bytes) -> str:
    """What raw.events.payload must hold for a line: the line less its CR and BOM."""
    line = line.removesuffix(b"\r").removeprefix(BOM)
    return line.decode("utf-8")


def error_text(line: bytes) -> str:
    """What raw.load_errors.raw_text must hold for a line."""
    line = line.removesuffix(b"\r")
    try:
        text = line.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        text = line.decode("utf-8", "backslashreplace")
    return text.replace("\x00", "\\x00")


class PerTarget(dict):
    """An expected value that differs by target: ``PerTarget(duckdb=..., postgres=...)``."""


@dataclass(frozen=True)
class Contains:
    """An expected text value that must contain ``part``."""

    part: str


@dataclass
class Case:
    name: str
    line: bytes  # without the "\n"
    outcome: str  # ACTIVITY, DUPLICATE, QUARANTINED, LOAD_ERROR, BLANK
    reason: str = ""  # QUARANTINED: the exact reason; LOAD_ERROR: the reason's beginning
    of: str = ""  # DUPLICATE: the case whose event key it repeats
    columns: dict[str, Any] = field(default_factory=dict)  # ACTIVITY: fct_activities values
    key: str | None = None  # the event key, when the line is a JSON object


_ABSENT = object()


def record(name: str, **fields: Any) -> dict[str, Any]:
    """A valid native event for case ``name``; ``fields`` override (``_ABSENT`` removes)."""
    obj: dict[str, Any] = {
        "event_id": f"bi-{name}",
        "email": f"{name.replace('_', '.')}@example.com",
        "event_type": "view",
        "channel": "web",
        "event_time": "2026-03-01T10:00:00Z",
        "company": "Acme",
    }
    for key, value in fields.items():
        if value is _ABSENT:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def as_line(obj: dict[str, Any] | bytes) -> bytes:
    if isinstance(obj, bytes):
        return obj
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def _key_of(line: bytes) -> str | None:
    """The expected key of a line (with room for the depth sweep's deep records)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 2000)
    try:
        obj = json.loads(landed_text(line), parse_constant=_not_json)
        return expected_key(obj) if isinstance(obj, dict) else None
    except (ValueError, RecursionError):
        return None
    finally:
        sys.setrecursionlimit(limit)


def activity(name: str, obj: dict[str, Any] | bytes, **columns: Any) -> Case:
    """An activity; ``email`` (from the case name) and ``event_at`` (T0) are checked too."""
    line = as_line(obj)
    expect = {"email": f"{name.replace('_', '.')}@example.com", "event_at": T0, **columns}
    return Case(name, line, ACTIVITY, columns=expect, key=_key_of(line))


def quarantined(name: str, obj: dict[str, Any] | bytes, reason: str) -> Case:
    line = as_line(obj)
    return Case(name, line, QUARANTINED, reason=reason, key=_key_of(line))


def load_error(name: str, line: bytes, reason: str) -> Case:
    return Case(name, line, LOAD_ERROR, reason=reason)


def segment_call(name: str, properties: bytes, **columns: Any) -> Case:
    """A Segment track call (a purchase) for case ``name`` with raw ``properties`` JSON text."""
    call = {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"bi-{name}",
        "timestamp": "2026-03-01T10:00:00Z",
        "context": {"traits": {"email": f"{name.replace('_', '.')}@example.com"}},
        "properties": 0,
    }
    line = as_line(call).replace(b'"properties": 0', properties)
    expect = {"email": f"{name.replace('_', '.')}@example.com", "event_at": T0, **columns}
    return Case(
        name, line, ACTIVITY, columns={"event_type": "purchase", **expect}, key=_key_of(line)
    )


def duplicate(name: str, obj: dict[str, Any] | bytes, of: str) -> Case:
    line = as_line(obj)
    return Case(name, line, DUPLICATE, of=of, key=_key_of(line))


def blank(name: str, line: bytes) -> Case:
    return Case(name, line, BLANK)


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def matrix_cases() -> list[Case]:
    """Every case of the matrix, in file order (line n of the file is ``cases[n - 1]``)."""
    big_company = "x" * 1_200_000
    big_int = 123456789012345678901234567890
    digits_limited = hasattr(sys, "get_int_max_str_digits")  # Python >= 3.10.7 / 3.11
    cases = [
        # -- the file starts with a BOM: skipped, the record is fine
        activity("bom_at_file_start", BOM + as_line(record("bom_at_file_start"))),
        activity("plain", record("plain"), event_type="view", channel="web", company="Acme"),
        # -- email
        quarantined("email_missing", record("email_missing", email=_ABSENT), "missing email"),
        quarantined("email_null", record("email_null", email=None), "missing email"),
        quarantined("email_empty", record("email_empty", email=""), "missing email"),
        quarantined("email_blank", record("email_blank", email=" \t\r\n\f "), "missing email"),
        quarantined(
            "email_malformed", record("email_malformed", email="ann.example.com"), "malformed email"
        ),
        quarantined(
            "email_two_ats", record("email_two_ats", email="a@b@example.com"), "malformed email"
        ),
        quarantined("email_number", record("email_number", email=5), "malformed email"),
        quarantined(
            "email_object", record("email_object", email={"a": "b@c.io"}), "malformed email"
        ),
        activity(
            "email_padded",
            record("email_padded", email="\t Email.Padded@Example.COM \r\n\f"),
        ),
        # -- event_type
        quarantined(
            "type_missing", record("type_missing", event_type=_ABSENT), "missing event_type"
        ),
        quarantined("type_null", record("type_null", event_type=None), "missing event_type"),
        quarantined("type_empty", record("type_empty", event_type=""), "missing event_type"),
        quarantined("type_blank", record("type_blank", event_type=" \t "), "missing event_type"),
        quarantined(
            "type_unknown", record("type_unknown", event_type="teleported"), "unknown event_type"
        ),
        quarantined("type_true", record("type_true", event_type=True), "unknown event_type"),
        quarantined("type_number", record("type_number", event_type=5), "unknown event_type"),
        activity("type_alias", record("type_alias", event_type=" Page_View "), event_type="view"),
        # -- event_time
        quarantined(
            "time_missing", record("time_missing", event_time=_ABSENT), "missing event_time"
        ),
        quarantined("time_null", record("time_null", event_time=None), "missing event_time"),
        quarantined("time_empty", record("time_empty", event_time=""), "missing event_time"),
        *(
            quarantined(name, record(name, event_time=value), "unparseable event_time")
            for name, value in [
                ("time_words", "yesterday at noon"),
                ("time_feb_30", "2026-02-30T10:00:00Z"),
                ("time_feb_29_not_leap", "2026-02-29T10:00:00Z"),
                ("time_hour_24", "2026-03-01T24:00:00Z"),
                ("time_minute_60", "2026-03-01T23:60:00Z"),
                ("time_second_60", "2026-03-01T23:59:60Z"),
                ("time_offset_19h", "2026-03-01T10:00:00+19:00"),
                ("time_epoch_number", 1700000000),
                ("time_epoch_string", "1700000000"),
                ("time_us_format", "03/01/2026 10:00"),
            ]
        ),
        activity("time_naive", record("time_naive", event_time="2026-03-01T10:00:00")),
        activity(
            "time_naive_fraction",
            record("time_naive_fraction", event_time="2026-03-01 10:00:00.25"),
            event_at=T0 + timedelta(milliseconds=250),
        ),
        activity(
            "time_offset",
            record("time_offset", event_time="2026-03-01T10:00:00+05:30"),
            event_at=datetime(2026, 3, 1, 4, 30),
        ),
        activity(
            "time_negative_offset",
            record("time_negative_offset", event_time="2026-03-01T22:00:00-03:00"),
            event_at=datetime(2026, 3, 2, 1, 0),
        ),
        activity(
            "time_date_only",
            record("time_date_only", event_time="2026-03-01"),
            event_at=datetime(2026, 3, 1),
        ),
        activity(
            "time_just_inside",
            record("time_just_inside", event_time="2026-07-01T23:59:59Z"),
            event_at=datetime(2026, 7, 1, 23, 59, 59),
        ),
        activity(
            "time_at_the_limit",
            record("time_at_the_limit", event_time="2026-07-02T00:00:00Z"),
            event_at=datetime(2026, 7, 2),
        ),
        *(
            quarantined(name, record(name, event_time=value), "event_time out of range")
            for name, value in [
                ("time_after_limit", "2026-07-02T00:00:01Z"),
                ("time_offset_after_limit", "2026-07-02T01:00:01+01:00"),
                ("time_before_min", "1999-12-31T23:59:59Z"),
            ]
        ),
        # -- the first broken rule wins
        quarantined(
            "all_broken",
            record("all_broken", email="", event_type="teleported", event_time="never"),
            "missing email",
        ),
        # -- non-string fields (the rest of the record is valid)
        activity(
            "properties_string", record("properties_string", properties="str"), properties="str"
        ),
        activity(
            "company_object", record("company_object", company={"name": "Acme"}), company=None
        ),
        activity("company_number", record("company_number", company=42), company=None),
        activity("channel_number", record("channel_number", channel=7), channel="7"),
        activity("channel_missing", record("channel_missing", channel=_ABSENT), channel="unknown"),
        # -- a `state` property on an event that is not a manual_override is no override
        activity(
            "state_on_signup",
            record("state_on_signup", event_type="signup", properties={"state": "CA"}),
            event_type="signup",
            override_state=None,
        ),
        # -- wrong JSON types at the top level
        load_error("top_array", b'[{"event_id": "bi-top_array"}]', "not a JSON object (got array)"),
        load_error("top_string", b'"bi-top_string"', "not a JSON object (got string)"),
        load_error("top_number", b"42", "not a JSON object (got number)"),
        # (the very same bad line again is counted but stored once: see test_loader)
        load_error("top_number_again", b" 42", "not a JSON object (got number)"),
        load_error("top_null", b"null", "not a JSON object (got null)"),
        # -- lines over 1 MB (the read chunk): landed and processed like any other line
        activity("line_1_2_mb", record("line_1_2_mb", company=big_company), company=big_company),
        load_error(
            "line_1_2_mb_unterminated",
            b'{"event_id": "bi-unterminated", "company": "' + b"y" * 1_200_000,
            "invalid JSON: Unterminated string",
        ),
        # -- nesting
        load_error("nested_100k", _nested(100_000), TOO_DEEP),
        load_error(
            "nested_100k_in_properties",
            as_line(record("nested_100k_in_properties", properties=0)).replace(
                b'"properties": 0', b'"properties": ' + _nested(100_000)
            ),
            TOO_DEEP,
        ),
        activity(
            "nested_500_in_properties",
            as_line(record("nested_500_in_properties", properties=0)).replace(
                b'"properties": 0', b'"properties": ' + _nested(500)
            ),
            properties=_nested(500).decode(),
        ),
        # -- encodings
        load_error(
            "invalid_utf8",
            b'{"event_id": "bi-invalid_utf8", "email": "\xff\xfe@example.com"}',
            "invalid UTF-8",
        ),
        load_error("invalid_utf8_cut_char", b'{"company": "caf\xc3"}', "invalid UTF-8"),
        activity("bom_mid_file", BOM + as_line(record("bom_mid_file"))),
        activity("crlf", as_line(record("crlf")) + b"\r"),
        activity(
            "unicode_company",
            record(
                "unicode_company", company="Caf\u00e9 Soci\u00e9t\u00e9 \u65e5\u672c \U0001f389"
            ),
            company="Caf\u00e9 Soci\u00e9t\u00e9 \u65e5\u672c \U0001f389",
        ),
        load_error(
            "nul_byte_raw",
            b'{"event_id": "bi-nul_byte_raw", "email": "a\x00b@example.com"}',
            "invalid JSON: Invalid control character",
        ),
        # "\u0000" (the JSON escape) is valid JSON: landed; PostgreSQL reads it as U+FFFD
        activity(
            "nul_escape_company",
            record("nul_escape_company", company="Ac\u0000me"),
            company=PerTarget(duckdb="Ac\u0000me", postgres="Ac\ufffdme"),
        ),
        quarantined(
            "nul_escape_email",
            record("nul_escape_email", email="nul\u0000@example.com"),
            "malformed email",
        ),
        load_error("form_feed_only", b"\x0c", "invalid JSON: Expecting value"),
        blank("blank", b""),
        blank("whitespace_only", b" \t \r"),
        # -- huge numbers
        activity(
            "number_1e400_property",
            as_line(record("number_1e400_property", properties=0)).replace(
                b'"properties": 0', b'"properties": {"amount": 1e400}'
            ),
            properties=Contains('"amount"'),
        ),
        activity(
            "number_1e400_event_id",
            as_line(record("number_1e400_event_id", event_id=0)).replace(
                b'"event_id": 0', b'"event_id": 1e400'
            ),
        ),
        activity("number_big_int_event_id", record("number_big_int_event_id", event_id=big_int)),
        activity(
            "number_big_int_property",
            record("number_big_int_property", properties={"amount": big_int}),
            properties=Contains(str(big_int)),
        ),
        (
            load_error(
                "number_5000_digits",
                as_line(record("number_5000_digits", properties=0)).replace(
                    b'"properties": 0', b'"properties": ' + b"9" * 5000
                ),
                "invalid JSON: Exceeds the limit (4300 digits)",
            )
            if digits_limited
            else activity(
                "number_5000_digits",
                as_line(record("number_5000_digits", properties=0)).replace(
                    b'"properties": 0', b'"properties": ' + b"9" * 5000
                ),
            )
        ),
        # -- values beyond what a column can hold: read as null (or quarantined when the
        # field is required), never a failed build
        *(
            activity(
                name,
                as_line(record(name, properties=0)).replace(b'"properties": 0', properties),
                **columns,
            )
            for name, properties, columns in [
                ("amount_1e200000", b'"properties": {"amount": 1e200000}', {"amount": None}),
                ("amount_minus_1e400", b'"properties": {"amount": -1e400}', {"amount": None}),
                ("amount_1e_minus_400", b'"properties": {"amount": 1e-400}', {"amount": 0}),
                ("amount_exponent", b'"properties": {"amount": 1.5e3}', {"amount": 1500}),
                ("amount_1e15", b'"properties": {"amount": 1e15}', {"amount": None}),
                (
                    "amount_beyond_decimal",
                    b'"properties": {"amount": 123456789012345678901234567890.123456789}',
                    {"amount": None},
                ),
                (
                    "amount_string",
                    b'"properties": {"amount": " -12.5 ", "sequence_step": "3"}',
                    {"amount": Decimal("-12.5"), "sequence_step": 3},
                ),
                (
                    "amount_string_huge",
                    b'"properties": {"amount": "1e200000", "sequence_step": "1e200000"}',
                    {"amount": None, "sequence_step": None},
                ),
                ("amount_true", b'"properties": {"amount": true}', {"amount": None}),
                ("amount_object", b'"properties": {"amount": {"value": 5}}', {"amount": None}),
                ("amount_array", b'"properties": {"amount": [5]}', {"amount": None}),
                (
                    "step_beyond_bigint",
                    b'"properties": {"sequence_step": 92233720368547758080}',
                    {"sequence_step": None},
                ),
                (
                    "step_1e200000",
                    b'"properties": {"sequence_step": 1e200000}',
                    {"sequence_step": None},
                ),
                (
                    "dates_out_of_range",
                    b'"properties": {"contract_end": "99999-01-01", '
                    b'"scheduled_at": "0001-01-01T00:00:00+18:00"}',
                    {"contract_end_date": None, "scheduled_at": None},
                ),
                (
                    "dates_odd_offsets",
                    b'"properties": {"contract_end": "9999-12-31T23:00:00-18:00", '
                    b'"scheduled_at": "2026-03-02T10:00:00+99:99"}',
                    {"contract_end_date": None, "scheduled_at": None},
                ),
                (
                    "odd_keys",
                    b'"properties": {"am\\u0000ount": 1e200000, "a.b": -1e400, "$[0]": 1e-400,'
                    b' "": 1e200000, "\'": [1e200000], "{n}": {"\\"": 1e200000}}',
                    {"amount": None, "properties": Contains("1e200000")},
                ),
            ]
        ),
        *(
            quarantined(name, record(name, **fields), reason)
            for name, fields, reason in [
                ("time_year_99999", {"event_time": "99999-03-01T10:00:00Z"}, UNPARSEABLE),
                ("time_offset_99", {"event_time": "2026-03-01T10:00:00+99:00"}, UNPARSEABLE),
                ("time_as_object", {"event_time": {"at": "2026-03-01T10:00:00Z"}}, UNPARSEABLE),
                ("time_as_true", {"event_time": True}, UNPARSEABLE),
                ("time_max_minus_18h", {"event_time": "9999-12-31T23:59:59-18:00"}, UNPARSEABLE),
                ("time_min_plus_18h", {"event_time": "0001-01-01T00:00:00+18:00"}, UNPARSEABLE),
            ]
        ),
        *(
            quarantined(
                name,
                as_line(record(name, **{field: 0})).replace(
                    f'"{field}": 0'.encode(), f'"{field}": {number}'.encode()
                ),
                reason,
            )
            for name, field, number, reason in [
                ("email_1e200000", "email", "1e200000", "malformed email"),
                ("type_1e200000", "event_type", "-1e200000", "unknown event_type"),
                ("time_1e200000", "event_time", "1e200000", UNPARSEABLE),
            ]
        ),
        # -- Segment calls carrying the same values
        segment_call(
            "segment_1e200000",
            b'"properties": {"n": 1e200000, "revenue": 1e200000, "currency": 1e-400,'
            b' "sequence_step": -1e400, "campaign_id": 1e200000}',
            amount=None,
            sequence_step=None,
        ),
        segment_call(
            "segment_value_string",
            b'"properties": {"value": "2.5e2", "scheduled_at": "2026-03-01T10:00:00+18:00"}',
            amount=250,
            scheduled_at=datetime(2026, 2, 28, 16, 0),
        ),
        # -- SQL and markup: stored verbatim, harmless
        quarantined(
            "sql_email",
            record("sql_email", email="'); drop table raw.events; --"),
            "malformed email",
        ),
        quarantined("sql_email_or", record("sql_email_or", email="' or 1=1 --"), "malformed email"),
        quarantined(
            "markup_email",
            record("markup_email", email="<script>alert(1)</script>@example.com"),
            "malformed email",
        ),
        activity(
            "sql_company",
            record("sql_company", company="'); drop table raw.events; --"),
            company="'); drop table raw.events; --",
        ),
        activity(
            "sql_company_or",
            record("sql_company_or", company="' or 1=1 --", industry='"; drop table x; --'),
            company="' or 1=1 --",
            industry='"; drop table x; --',
        ),
        activity(
            "markup_company",
            record(
                "markup_company",
                company="<script>alert(1)</script>",
                properties={"note": "<script>alert(1)</script>", "q": "' or 1=1 --"},
            ),
            company="<script>alert(1)</script>",
            properties=Contains("<script>alert(1)</script>"),
        ),
        quarantined(
            "sql_event_type",
            record("sql_event_type", event_type="view'; drop table raw.loads; --"),
            "unknown event_type",
        ),
        activity(
            "sql_event_id", record("sql_event_id", event_id="x'); delete from raw.events; --")
        ),
        # -- duplicates (the loader lands the first occurrence of a key)
        duplicate(
            "dup_same_id", record("dup_same_id", event_id="bi-plain", event_type="click"), "plain"
        ),
        duplicate(
            "dup_of_quarantined",
            record("dup_of_quarantined", event_id="bi-email_missing"),
            "email_missing",
        ),
        # the string "N" is not the number N (keys native:id:N and native:int:N)
        activity("string_of_int_id", record("string_of_int_id", event_id=str(big_int))),
        activity(
            "content_key",
            {
                "email": "content.key@example.com",
                "event_type": "click",
                "event_time": "2026-03-01T10:00:00Z",
            },
            event_type="click",
        ),
        duplicate(
            "dup_same_content",
            b'{ "event_time" : "2026-03-01T10:00:00Z" , "event_type" : "click" ,'
            b' "email" : "content.key@example.com" }',
            "content_key",
        ),
    ]
    # Nesting close to the parser's limit, without event_id (the key is a content hash,
    # which must re-encode the record): each depth lands, or is "nested too deeply".
    for depth in range(975, 1000):
        obj = {
            "email": "deep@example.com",
            "event_type": "view",
            "event_time": "2026-03-01T10:00:00Z",
            "p": 0,
        }
        line = as_line(obj).replace(b'"p": 0', b'"p": ' + _nested(depth))
        cases.append(Case(f"depth_{depth}", line, "depth sweep", key=_key_of(line)))
    return cases


# --------------------------------------------------------------------------- reading results


def _one_row_per_position(rows: list[tuple], what: str) -> dict[int, tuple]:
    result: dict[int, tuple] = {}
    for row in rows:
        position = int(row[0])
        assert position not in result, f"line {position} is twice in {what}"
        result[position] = tuple(row[1:])
    return result


@dataclass
class Landed:
    """What one file became, per line number, in the raw tables and the marts."""

    events: dict[int, tuple]  # line -> (event_key, payload)
    errors: dict[int, tuple]  # line -> (raw_text, reason)
    activities: dict[int, tuple]  # line -> (activity_id, email, event_type, ...)
    quarantined: dict[int, tuple]  # line -> (event_key, rejection_reason)
    dbt_duplicates: int


ACTIVITY_COLUMNS = (
    "email",
    "event_type",
    "channel",
    "company",
    "industry",
    "properties",
    "override_state",
    "amount",
    "sequence_step",
    "contract_end_date",
    "scheduled_at",
)


def read_landed(ref: ProfileRef, source_file: str) -> Landed:
    where = "where source_file = %s" if ref.kind == "postgres" else "where source_file = ?"
    params = [source_file]
    events = fetch(
        ref, f"select source_position, event_key, payload from raw.events {where}", params
    )
    errors = fetch(
        ref, f"select source_position, raw_text, reason from raw.load_errors {where}", params
    )
    activities = fetch(
        ref,
        f"select source_position, activity_id, {', '.join(ACTIVITY_COLUMNS)}, event_at "
        f"from marts.fct_activities {where}",
        params,
    )
    quarantine = fetch(
        ref,
        "select source_position, event_key, rejection_reason "
        f"from marts.fct_quarantined_events {where}",
        params,
    )
    dbt_duplicates = fetch(
        ref,
        f"select count(*) from intermediate.int_events_validated {where} and is_duplicate",
        params,
    )[0][0]
    return Landed(
        events=_one_row_per_position(events, "raw.events"),
        errors=_one_row_per_position(errors, "raw.load_errors"),
        activities=_one_row_per_position(activities, "fct_activities"),
        quarantined=_one_row_per_position(quarantine, "fct_quarantined_events"),
        dbt_duplicates=int(dbt_duplicates),
    )


def load_row(ref: ProfileRef, load_id: str) -> dict[str, Any]:
    columns = (
        "source_file, checksum, records_read, events_loaded, duplicates_skipped, errors, "
        "erased_skipped, status"
    )
    mark = "%s" if ref.kind == "postgres" else "?"
    rows = fetch(ref, f"select {columns} from raw.loads where load_id = {mark}", [load_id])
    assert len(rows) == 1, (load_id, rows)
    return dict(zip(columns.split(", "), rows[0], strict=True))


def raw_counts(ref: ProfileRef) -> dict[str, Any]:
    return {
        "events": fetch(ref, "select count(*) from raw.events")[0][0],
        "load_errors": fetch(ref, "select count(*) from raw.load_errors")[0][0],
        "loads": sorted(r[0] for r in fetch(ref, "select load_id from raw.loads")),
    }


# --------------------------------------------------------------------------- checking a case


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} chars)"


def _matches(expected: Any, actual: Any, kind: str) -> bool:
    if isinstance(expected, PerTarget):
        expected = expected[kind]
    if isinstance(expected, Contains):
        return isinstance(actual, str) and expected.part in actual
    return bool(expected == actual)


def check_case(
    case: Case, lineno: int, landed: Landed, first_line_of: dict[str, int], kind: str
) -> list[str]:
    """Differences between what case ``lineno`` should have become and what it became."""
    problems: list[str] = []
    where = f"line {lineno} ({case.name})"
    in_events = lineno in landed.events
    in_errors = lineno in landed.errors
    in_activities = lineno in landed.activities
    in_quarantine = lineno in landed.quarantined
    found = {
        "raw.events": in_events,
        "raw.load_errors": in_errors,
        "fct_activities": in_activities,
        "fct_quarantined_events": in_quarantine,
    }
    wanted = {
        ACTIVITY: {"raw.events", "fct_activities"},
        QUARANTINED: {"raw.events", "fct_quarantined_events"},
        LOAD_ERROR: {"raw.load_errors"},
        DUPLICATE: set(),
        BLANK: set(),
    }[case.outcome]
    actual_places = {name for name, present in found.items() if present}
    if actual_places != wanted:
        return [f"{where}: expected {case.outcome}, found in {sorted(actual_places) or 'nothing'}"]
    if in_events:
        key, payload = landed.events[lineno]
        if payload.encode("utf-8") != landed_text(case.line).encode("utf-8"):
            problems.append(f"{where}: payload {_shown(payload)} is not the input line")
        if key != case.key:
            problems.append(f"{where}: event key {_shown(key)}, expected {_shown(case.key)}")
    if case.outcome == LOAD_ERROR:
        raw_text, reason = landed.errors[lineno]
        if raw_text != error_text(case.line):
            problems.append(f"{where}: raw_text {_shown(raw_text)} is not the input line")
        if not reason.startswith(case.reason):
            problems.append(f"{where}: load error reason {reason!r}, expected {case.reason!r}...")
    elif case.outcome == QUARANTINED:
        reason = landed.quarantined[lineno][1]
        if reason != case.reason:
            problems.append(f"{where}: quarantined as {reason!r}, expected {case.reason!r}")
    elif case.outcome == ACTIVITY:
        row = landed.activities[lineno]
        values = dict(zip(("activity_id", *ACTIVITY_COLUMNS, "event_at"), row, strict=True))
        for column, expected in case.columns.items():
            if not _matches(expected, values[column], kind):
                problems.append(
                    f"{where}: {column} = {_shown(values[column])}, expected {_shown(expected)}"
                )
    elif case.outcome == DUPLICATE:
        original = first_line_of[case.of]
        landed_key = landed.events.get(original, (None,))[0]
        if case.key is None or landed_key != case.key:
            problems.append(
                f"{where}: key {_shown(case.key)} is not the key landed at line {original}"
            )
    return problems


def resolve_depth_sweep(cases: list[Case], landed: Landed) -> list[str]:
    """Depth-sweep lines land below the parser's limit and are load errors from it on."""
    problems: list[str] = []
    outcomes: list[tuple[int, str]] = []
    for lineno, case in enumerate(cases, 1):
        if case.outcome != "depth sweep":
            continue
        depth = int(case.name.split("_")[1])
        if lineno in landed.errors and landed.errors[lineno][1] == TOO_DEEP:
            case.outcome, case.reason = LOAD_ERROR, TOO_DEEP
        elif lineno in landed.events:
            case.outcome = ACTIVITY
            case.columns = {"email": "deep@example.com", "event_at": T0}
        else:
            problems.append(f"line {lineno} ({case.name}): neither landed nor 'nested too deeply'")
            case.outcome = ACTIVITY
        outcomes.append((depth, case.outcome))
    kinds = [outcome for _, outcome in sorted(outcomes)]
    if kinds != sorted(kinds):  # "activity" < "load error": all activities come first
        problems.append(f"depth sweep is not monotone: {sorted(outcomes)}")
    if len(set(kinds)) != 2:
        problems.append(f"depth sweep did not cross the parser's limit: {sorted(outcomes)}")
    return problems


# --------------------------------------------------------------------------- the matrix


def test_bad_input_matrix(tmp_path: Path, warehouse_profile: ProfileRef) -> None:
    """Every case of ``matrix_cases`` ends exactly as expected, and everything reconciles.

    Naive timestamps (no offset) mean UTC; offsets are converted to UTC.
    """
    ref = warehouse_profile
    cases = matrix_cases()
    matrix = tmp_path / "matrix.ndjson"
    matrix.write_bytes(b"\n".join(case.line for case in cases) + b"\n")
    # file-level cases, loaded in the same run
    empty = tmp_path / "empty.ndjson"
    empty.write_bytes(b"")
    bom_only = tmp_path / "bom-only.ndjson"
    bom_only.write_bytes(BOM + b"\r\n \n")
    empty_gz = tmp_path / "empty.ndjson.gz"
    empty_gz.write_bytes(gzip.compress(b""))
    empty_again = tmp_path / "empty-again.ndjson"
    empty_again.write_bytes(b"")

    proc = run_funnel_load(
        *ref.cli_args(), "--quiet", matrix, empty, bom_only, empty_gz, empty_again
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = proc.stdout.splitlines()
    assert len(out) == 5, out
    summary = parse_load_summary(out[0])
    empties = [parse_load_summary(line) for line in out[1:5]]
    # the same (empty) bytes again: an empty file is never "already loaded"
    assert [(s["name"], s["read"], s["new"], s["dup"], s["err"]) for s in empties] == [
        (str(path), 0, 0, 0, 0) for path in (empty, bom_only, empty_gz, empty_again)
    ]
    for path, s in zip((empty, bom_only, empty_gz, empty_again), empties, strict=True):
        row = load_row(ref, s["load"])
        assert row == {
            "source_file": str(path.resolve()),
            "checksum": hashlib.sha256(path.read_bytes()).hexdigest(),
            "records_read": 0,
            "events_loaded": 0,
            "duplicates_skipped": 0,
            "errors": 0,
            "erased_skipped": 0,
            "status": "complete",
        }

    # a truncated gzip: exit 2, one line, nothing committed
    truncated = tmp_path / "cut.ndjson.gz"
    packed = gzip.compress(matrix.read_bytes()[:200_000])
    truncated.write_bytes(packed[: len(packed) // 2])
    before = raw_counts(ref)
    proc = run_funnel_load(*ref.cli_args(), truncated)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    (message,) = proc.stderr.splitlines()
    assert message.startswith("funnel-load: error: ") and "truncated gzip" in message, message
    assert raw_counts(ref) == before

    run_dbt(ref, "build", work_dir=tmp_path, dbt_vars=DBT_VARS)

    landed = read_landed(ref, str(matrix.resolve()))
    problems = resolve_depth_sweep(cases, landed)
    first_line_of = {case.name: lineno for lineno, case in enumerate(cases, 1)}
    for lineno, case in enumerate(cases, 1):
        problems += check_case(case, lineno, landed, first_line_of, ref.kind)
    assert not problems, f"{len(problems)} problem(s) on {ref.kind}:\n" + "\n".join(problems)

    # reconciliation, per line and in total
    by_outcome = {kind: 0 for kind in (ACTIVITY, DUPLICATE, QUARANTINED, LOAD_ERROR, BLANK)}
    for case in cases:
        by_outcome[case.outcome] += 1
    records = len(cases) - by_outcome[BLANK]
    row = load_row(ref, summary["load"])
    assert (summary["read"], summary["new"], summary["dup"], summary["err"]) == (
        records,
        by_outcome[ACTIVITY] + by_outcome[QUARANTINED],
        by_outcome[DUPLICATE],
        by_outcome[LOAD_ERROR],
    )
    assert row["records_read"] == records
    assert row["records_read"] == (
        row["events_loaded"] + row["duplicates_skipped"] + row["errors"] + row["erased_skipped"]
    )
    assert (row["events_loaded"], row["duplicates_skipped"], row["errors"]) == (
        summary["new"],
        summary["dup"],
        summary["err"],
    )
    assert landed.dbt_duplicates == 0  # raw.events holds one row per key
    assert records == (
        len(landed.activities)
        + (row["duplicates_skipped"] + landed.dbt_duplicates)
        + len(landed.quarantined)
        + len(landed.errors)
    )
    assert set(landed.events) == set(landed.activities) | set(landed.quarantined)
    assert not set(landed.events) & set(landed.errors)

    # SQL-looking text was data, not SQL: every table is still there and still complete
    tables = {
        (schema, name)
        for schema, name in fetch(
            ref,
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw', 'marts')",
        )
    }
    for name in ("events", "loads", "load_errors"):
        assert ("raw", name) in tables
    for name in ("fct_activities", "fct_quarantined_events", "dim_contacts", "rpt_funnel"):
        assert ("marts", name) in tables
    assert fetch(ref, "select count(*) from raw.events")[0][0] == len(landed.events)
    companies = dict(
        fetch(
            ref,
            "select email, company from marts.dim_contacts where email in "
            "('sql.company@example.com', 'sql.company.or@example.com', "
            "'markup.company@example.com')",
        )
    )
    assert companies == {
        "sql.company@example.com": "'); drop table raw.events; --",
        "sql.company.or@example.com": "' or 1=1 --",
        "markup.company@example.com": "<script>alert(1)</script>",
    }


# --------------------------------------------------------------------------- known model gaps


WHITESPACE_RECORDS: dict[str, tuple[str, str, set[str | None]]] = {
    # only space, tab, CR, LF and FF are stripped (README; reference.WHITESPACE)
    "ws-vtab": ("\x0bws.vtab@example.com", "2026-03-01T10:00:00Z", {"malformed email"}),
    "ws-ideographic": ("\u3000ws.ideo@example.com", "2026-03-01T10:00:00Z", {"malformed email"}),
    "ws-line-sep": ("ws.ls@example.com", "\u20282026-03-01T10:00:00Z", {UNPARSEABLE}),
    "ws-formfeed": ("\x0cws.ff@example.com\x0c", "2026-03-01T10:00:00Z", {None}),
}
YEAR_ZERO_RECORDS: dict[str, tuple[str, str, set[str | None]]] = {
    # year 0000 (1 BC) is quarantined, whichever way; 0001 is simply out of range
    "year-zero": ("year.zero@example.com", "0000-03-01T10:00:00Z", {UNPARSEABLE, OUT_OF_RANGE}),
    "year-one": ("year.one@example.com", "0001-03-01T10:00:00Z", {OUT_OF_RANGE}),
}


def build_edge_records(
    ref: ProfileRef, tmp_path: Path, records: dict[str, tuple[str, str, set[str | None]]]
) -> None:
    """Load ``records`` (key -> email, event_time, accepted reasons), build up to
    ``int_events_validated`` and assert each record's rejection reason."""
    path = tmp_path / "edges.ndjson"
    lines = [
        {"event_id": key, "email": email, "event_type": "view", "event_time": time}
        for key, (email, time, _) in records.items()
    ]
    path.write_bytes(b"".join(as_line(obj) + b"\n" for obj in lines))
    proc = run_funnel_load(*ref.cli_args(), "--quiet", path)
    assert proc.returncode == 0, proc.stderr
    build = run_dbt(
        ref,
        "build",
        "--select",
        "+int_events_validated",
        "--indirect-selection",
        "cautious",
        work_dir=tmp_path,
        dbt_vars=DBT_VARS,
        check=False,
    )
    output = build.stdout.splitlines()
    errors = [f"{a} {b}" for a, b in zip(output, [*output[1:], ""], strict=True) if "Database" in a]
    assert build.returncode == 0, "\n".join(errors or output[-10:])
    names = {expected_key(obj): obj["event_id"] for obj in lines}
    rows = {
        names.get(event_key, event_key): reason
        for event_key, reason in fetch(
            ref, "select event_key, rejection_reason from intermediate.int_events_validated"
        )
    }
    assert set(rows) == set(records)
    wrong = {
        key: (email, time, rows[key])
        for key, (email, time, reasons) in records.items()
        if rows[key] not in reasons
    }
    assert not wrong, wrong


def test_whitespace_is_stripped_the_same_on_every_target(
    tmp_path: Path, warehouse_profile: ProfileRef
) -> None:
    """Only space, tab, CR, LF and FF around a field are stripped, on every target.

    ``\\s`` would differ: PostgreSQL also matches U+000B and Unicode spaces (U+2028,
    U+3000, ...), DuckDB (RE2) does not, so ``strip_whitespace`` spells the class out.
    """
    build_edge_records(warehouse_profile, tmp_path, WHITESPACE_RECORDS)


def test_year_zero_is_quarantined_not_a_failed_build(
    tmp_path: Path, warehouse_profile: ProfileRef
) -> None:
    """One record dated in year 0000 must be quarantined, not fail the whole build.

    PostgreSQL has no year 0000 and refuses the cast, so ``stg_raw__events`` requires
    year >= 1 before casting.
    """
    build_edge_records(warehouse_profile, tmp_path, YEAR_ZERO_RECORDS)


# --------------------------------------------------------------------------- fuzzing

# JSON numbers no column can hold (json.dumps cannot write them): drawn as a marker string
# that ``dump`` replaces with the number's text.
RAW_NUMBER = "\x02raw:"
RAW_NUMBER_RE = re.compile(r'"\\u0002raw:([^"]*)"')
EXTREME_NUMBERS = st.sampled_from(
    [
        "1e200000",
        "-1e400",
        "1e-400",
        "-1e-20000",
        "123456789012345678901234567890.123456789",
        "92233720368547758080",
        "-0",
        "1.5e3",
        "4.9e-324",
        "1E+308",
        "999999999999999.9999999",
    ]
).map(lambda number: RAW_NUMBER + number)
# keys that are odd to a JSONPath or SQL (empty, dots, brackets, quotes, NUL)
ODD_KEYS = st.sampled_from(["", "a.b", "$[0]", "'", '"', "{n}", "\x00", "am\x00ount", "amount "])
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | EXTREME_NUMBERS
    | st.sampled_from(["12.5", " -3 ", "1e200000", "true", "2026-03-01T10:00:00Z"])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6) | ODD_KEYS, inner, max_size=4)
    ),
    max_leaves=12,
)


def dump(obj: Any, **options: Any) -> str:
    """``json.dumps`` with each extreme-number marker replaced by the number itself."""
    return RAW_NUMBER_RE.sub(lambda match: match[1], json.dumps(obj, **options))


EVENT_IDS = st.sampled_from(["f-1", "f-2", "f-3", 7, "7", "", None, True, 1.5]) | st.text(
    max_size=6
)
EMAILS = st.sampled_from(
    [
        "ann@example.com",
        " Ann@Example.COM\t",
        "bob@example.co.uk",
        "x@y.c",
        "not-an-email",
        "",
        " ",
        "'); drop table raw.events; --",
    ]
) | st.text(max_size=16)
EVENT_TYPES = (
    st.sampled_from(
        ["view", "click", "download", "demo_booked", "purchase", " Page_View ", "SIGNED UP", ""]
    )
    | st.sampled_from(["teleported", "view'; --", " "])
    | st.text(max_size=8)
)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """ISO-8601 texts around the rules' edges: naive, Z, offsets, fractions, date only."""
    moment = draw(st.datetimes(min_value=datetime(1998, 1, 1), max_value=datetime(2026, 7, 3)))
    style = draw(st.sampled_from(["Z", "naive", "offset", "date", "space", "fraction"]))
    if style == "date":
        return moment.date().isoformat()
    text = moment.replace(microsecond=0).isoformat(sep=" " if style == "space" else "T")
    if style == "fraction":
        text += "." + str(draw(st.integers(0, 999_999))).zfill(draw(st.integers(1, 6)))[:6]
    if style == "Z":
        text += "Z"
    if style == "offset":
        minutes = draw(st.integers(-14 * 60, 14 * 60))
        sign = "-" if minutes < 0 else "+"
        text += f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return text


EVENT_TIMES = (
    timestamps()
    | st.sampled_from(
        ["2026-02-30", "2026-03-01T24:00:00Z", "2026-07-02T00:00:01Z", "yesterday", "", " "]
    )
    | st.text(max_size=10)
)
# the properties the rules read (amounts, currency, Segment's revenue/value/total, ...)
PROPERTY_VALUES = (
    JSON_SCALARS | EVENT_TIMES | st.sampled_from(["EUR", " usd ", "manual_override", "sql"])
)
PROPERTIES = st.dictionaries(
    st.sampled_from(
        [
            "amount",
            "currency",
            "revenue",
            "value",
            "total",
            "score",
            "sequence_step",
            "campaign_id",
            "contract_end",
            "scheduled_at",
            "state",
            "set_by",
            "bounce_type",
            "lead_source",
            "email",
            "channel",
        ]
    )
    | ODD_KEYS,
    PROPERTY_VALUES,
    max_size=5,
)
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "event_id": EVENT_IDS,
    "email": EMAILS,
    "event_type": EVENT_TYPES,
    "event_time": EVENT_TIMES,
    "channel": st.sampled_from(["web", " LinkedIn ", "", None]) | st.text(max_size=6),
    "company": st.sampled_from(["Acme", "' or 1=1 --", "<script>alert(1)</script>"]) | JSON_SCALARS,
    "industry": st.sampled_from(["SaaS", ""]) | JSON_SCALARS,
    "properties": PROPERTIES | JSON_VALUES,
}
UTM = st.fixed_dictionaries(
    {},
    optional={
        "source": st.sampled_from(["google", " LinkedIn "]) | JSON_SCALARS,
        "medium": st.sampled_from(["cpc", "email"]) | JSON_SCALARS,
        "name": st.sampled_from(["cmp-1", ""]) | JSON_SCALARS,
    },
)
SEGMENT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "type": st.sampled_from(["track", "TRACK", "identify"]),
    "messageId": EVENT_IDS,
    "userId": st.sampled_from(["u-1", "u-2", ""]) | JSON_SCALARS,
    "event": st.sampled_from(["Order Completed", "Email Link Clicked", "Trial Started"])
    | EVENT_TYPES,
    "timestamp": EVENT_TIMES,
    "originalTimestamp": EVENT_TIMES,
    "context": st.fixed_dictionaries(
        {},
        optional={
            "traits": st.fixed_dictionaries({}, optional={"email": EMAILS, "company": JSON_VALUES}),
            "campaign": UTM | JSON_VALUES,
        },
    ),
    "traits": st.fixed_dictionaries({}, optional={"email": EMAILS, "industry": JSON_SCALARS}),
    "properties": PROPERTIES | JSON_VALUES,
}


@st.composite
def event_lines(draw: st.DrawFn) -> bytes:
    """A native event or a Segment call (each field may be absent, mutated to any JSON
    value), as one line."""
    obj: dict[str, Any] = {}
    for name, strategy in draw(st.sampled_from([FIELDS, FIELDS, SEGMENT_FIELDS])).items():
        choice = draw(st.integers(0, 9))
        if choice == 0:
            continue  # absent
        obj[name] = draw(JSON_VALUES if choice == 1 else strategy)
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,  ", " : ")]))
    text = dump(obj, ensure_ascii=draw(st.booleans()), separators=separators)
    prefix = draw(st.sampled_from([b"", b"", b" ", b"\t", BOM]))
    suffix = draw(st.sampled_from([b"", b"", b" ", b"\r"]))
    return prefix + text.encode("utf-8") + suffix


OTHER_LINES = (
    JSON_VALUES.map(lambda value: dump(value).encode())
    | st.binary(max_size=40).map(lambda data: data.replace(b"\n", b""))
    | st.sampled_from(
        [
            b"",
            b" \t",
            b"\r",
            b"\x0c",
            b"\x0b",
            b'{"event_id": "nan", "n": NaN}',
            b'{"lone": "\\ud800"}',
            b'{"a": 1} {"b": 2}',
            b'{"nul": "a\x00b"}',
            b'{"event_id": "nul-escape", "email": "a\\u0000@example.com"}',
            BOM + b'{"event_id": "bom"}',
            _nested(3000),
            b"\xff\xfe\xfd",
        ]
    )
)


@st.composite
def batches(draw: st.DrawFn) -> list[bytes]:
    """20-60 lines; the first is an object (a file starting with '[' is a JSON array)."""
    lines = draw(st.lists(event_lines() | event_lines() | OTHER_LINES, min_size=19, max_size=50))
    repeats = draw(st.lists(st.sampled_from(lines), max_size=10))
    lines = draw(st.permutations(lines + repeats))
    return [draw(event_lines()), *lines]


def expected_lines(lines: list[bytes]) -> list[tuple[str, str, str | None]]:
    """Per line: (outcome, text, key) with outcome 'blank', 'error', 'event' or 'duplicate'.

    Written from the documented rules: a blank line holds only space/tab/CR/LF; a record is
    an event when it is valid UTF-8, valid JSON (not NaN/Infinity), an object and storable
    as UTF-8 (no lone surrogate escape); the first occurrence of an event key lands.
    """
    result: list[tuple[str, str, str | None]] = []
    seen: set[str] = set()
    for number, line in enumerate(lines):
        if number == 0:
            line = line.removeprefix(BOM)  # the file's BOM
        if not line.strip(JSON_WS):
            result.append(("blank", "", None))
            continue
        try:
            text = landed_text(line)
            obj = json.loads(text, parse_constant=_not_json)
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError):
            result.append(("error", error_text(line), None))
            continue
        if not isinstance(obj, dict):
            result.append(("error", error_text(line), None))
            continue
        key = expected_key(obj)
        result.append(("duplicate" if key in seen else "event", text, key))
        seen.add(key)
    return result


def check_accounting(
    lines: list[bytes], landed: Landed, row: dict[str, Any], summary: dict[str, Any]
) -> None:
    """Every raw line is accounted for exactly once, and the counts agree."""
    expected = expected_lines(lines)
    events = {n: (key, text) for n, (o, text, key) in enumerate(expected, 1) if o == "event"}
    errors = {n: text for n, (o, text, _) in enumerate(expected, 1) if o == "error"}
    duplicates = sum(1 for o, _, _ in expected if o == "duplicate")
    records = sum(1 for o, _, _ in expected if o != "blank")
    assert landed.events == events
    stored: dict[str, int] = {}  # the same bad text is stored once, where first seen
    for n, text in errors.items():
        stored.setdefault(text, n)
    assert {n: text for n, (text, _) in landed.errors.items()} == {n: t for t, n in stored.items()}
    for text, reason in landed.errors.values():
        assert reason.startswith(("invalid JSON: ", "invalid UTF-8", "not a JSON object")), (
            text,
            reason,
        )
    assert (summary["read"], summary["new"], summary["dup"], summary["err"]) == (
        records,
        len(events),
        duplicates,
        len(errors),
    )
    assert (
        row["records_read"]
        == records
        == (
            row["events_loaded"] + row["duplicates_skipped"] + row["errors"] + row["erased_skipped"]
        )
    )
    assert (row["events_loaded"], row["duplicates_skipped"], row["errors"]) == (
        len(events),
        duplicates,
        len(errors),
    )


FUZZ_SETTINGS = {
    "deadline": None,
    "database": None,  # nothing written into the source tree
    "print_blob": True,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
}


def _load_in_process(ref: ProfileRef, path: Path, *extra: str) -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = funnel_load_main([*ref.cli_args(), "--quiet", *extra, str(path)])
    assert rc == 0, err.getvalue()
    assert err.getvalue() == ""
    return parse_load_summary(out.getvalue().strip())


def test_fuzz_loader_accounts_for_every_line(tmp_path: Path, warehouse_profile: ProfileRef) -> None:
    """Random batches, loader only (fast): each into a fresh raw schema of the target."""
    ref = warehouse_profile

    @settings(max_examples=60, **FUZZ_SETTINGS)
    @given(lines=batches())
    def check(lines: list[bytes]) -> None:
        schema = f"fuzz_{uuid.uuid4().hex[:10]}"
        path = tmp_path / f"{schema}.ndjson"
        path.write_bytes(b"\n".join(lines) + b"\n")
        summary = _load_in_process(ref, path, "--raw-schema", schema)
        mark = "%s" if ref.kind == "postgres" else "?"
        events = fetch(ref, f"select source_position, event_key, payload from {schema}.events")
        errors = fetch(ref, f"select source_position, raw_text, reason from {schema}.load_errors")
        landed = Landed(
            events=_one_row_per_position(events, "events"),
            errors=_one_row_per_position(errors, "load_errors"),
            activities={},
            quarantined={},
            dbt_duplicates=0,
        )
        rows = fetch(
            ref,
            "select records_read, events_loaded, duplicates_skipped, errors, erased_skipped "
            f"from {schema}.loads where load_id = {mark}",
            [summary["load"]],
        )
        names = ("records_read", "events_loaded", "duplicates_skipped", "errors", "erased_skipped")
        check_accounting(lines, landed, dict(zip(names, rows[0], strict=True)), summary)

    check()


PROJECT_VARS: dict[str, Any] = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]


# What read_landed reads, with their parents and every test those can build (a plain
# selection: dbt_project.yml sets indirect selection to buildable).
READ_MODELS = ("--select", "+fct_activities", "+fct_quarantined_events")


def test_fuzz_through_dbt_build(tmp_path: Path, warehouse_profile: ProfileRef) -> None:
    """Generated records through the loader and ``dbt build`` on each target: the build is
    green whatever the records hold, and every landed record is exactly one activity or one
    quarantined record.

    Native events and Segment calls, with extreme numbers (1e200000, -1e400, 1e-400, 30
    digits), odd keys and any JSON type in every field. Hypothesis draws the batches
    (derandomized: the same records every run); they go into ONE file, so each target needs
    one load and one build. A native event's outcome is also the one the independent
    reference (``reference.classify``) gives, amount included.
    """
    ref = warehouse_profile
    rules = {**PROJECT_VARS, **DBT_VARS}
    seeds = reference.Seeds.load(REPO_ROOT / "seeds")
    as_of = reference.parse_as_of(AS_OF)
    drawn: list[list[bytes]] = []

    @settings(max_examples=15, derandomize=True, phases=(Phase.generate,), **FUZZ_SETTINGS)
    @given(lines=batches())
    def draw(lines: list[bytes]) -> None:
        drawn.append(lines)

    draw()
    lines = [line for batch in drawn for line in batch]
    source = tmp_path / "batch.ndjson"
    source.write_bytes(b"\n".join(lines) + b"\n")
    proc = run_funnel_load(*ref.cli_args(), "--quiet", source)
    assert proc.returncode == 0, proc.stderr
    summary = parse_load_summary(proc.stdout.strip())
    run_dbt(ref, "build", *READ_MODELS, work_dir=tmp_path, dbt_vars=DBT_VARS)  # no error

    landed = read_landed(ref, str(source.resolve()))
    check_accounting(lines, landed, load_row(ref, summary["load"]), summary)
    assert landed.dbt_duplicates == 0
    assert set(landed.activities) | set(landed.quarantined) == set(landed.events)
    assert not set(landed.activities) & set(landed.quarantined)
    native = 0
    for lineno, (key, payload) in landed.events.items():
        obj = json.loads(payload)
        if is_segment_call(obj):
            continue  # the reference implements the native format only
        native += 1
        want = reference.classify(obj, key, rules, seeds, as_of)
        if isinstance(want, str):
            assert lineno in landed.quarantined, (lineno, payload, want)
            assert landed.quarantined[lineno] == (key, want), (lineno, payload)
            continue
        assert lineno in landed.activities, (lineno, payload, want)
        values = dict(
            zip(
                ("activity_id", *ACTIVITY_COLUMNS, "event_at"),
                landed.activities[lineno],
                strict=True,
            )
        )
        got = (values["activity_id"], values["email"], values["event_type"], values["event_at"])
        assert got == (key, want.email, want.event_type, want.event_at), (lineno, payload)
        amount = values["amount"]
        assert (amount is None) == (want.amount is None), (lineno, payload, amount, want.amount)
        if amount is not None:
            assert abs(float(amount) - want.amount) <= 1e-6, (lineno, payload)
    extreme = sum("1e200000" in payload for _, payload in landed.events.values())
    assert len(lines) >= 200 and native >= 50 and len(landed.events) - native >= 20, (
        len(lines),
        native,
        len(landed.events),
    )
    assert extreme >= 10, extreme  # landed records holding 1e200000 (PostgreSQL's numeric cannot)
