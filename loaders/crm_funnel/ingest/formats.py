"""Record formats: detection (native, Resend, Segment, webhook envelope), event keys,
strict JSON decoding and its error reasons.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import orjson

from crm_funnel.errors import TerminalError
from crm_funnel.ingest import svix
from crm_funnel.warehouse.backend import EVENTS_QUOTE

NATIVE = "native"
RESEND = "resend"
SEGMENT = "segment"
FORMATS = ("auto", NATIVE, RESEND, SEGMENT)
ENVELOPE = "svix-envelope"  # not a format: the loader unwraps it, the body has a format


# Event keys longer than this (characters) are replaced by a namespaced sha256 of the id:
# PostgreSQL's btree index cannot hold a key of more than about 2,700 bytes.
KEY_LIMIT = 200


SEPARATORS = (",", ":")
JSON_WS = b" \t\r\n"


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


def _has_float(obj: Any) -> bool:
    """Whether a decoded JSON value holds a float anywhere (iterative: any depth)."""
    stack = [obj]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is float:
            return True
        if kind is dict:
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
    return False


def _canonical_hash(obj: Any) -> str:
    # orjson writes exactly what json.dumps below writes for every value but floats (its
    # shortest form differs, e.g. 0.00001 vs 1e-05); it refuses integers beyond 64 bits,
    # lone surrogates and deep nesting, which go the stdlib way too.
    if not _has_float(obj):
        try:
            return hashlib.sha256(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).hexdigest()
        except TypeError:
            pass
    text = json.dumps(obj, sort_keys=True, separators=SEPARATORS, ensure_ascii=False)
    # 'surrogatepass': a JSON escape like "\ud800" decodes to a lone surrogate.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def usable_id(value: str) -> bool:
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


def id_key(fmt: str, kind: str, value: str) -> str:
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
        return id_key(NATIVE, "int", str(event_id))
    if kind is str and event_id and usable_id(event_id):
        return id_key(NATIVE, "id", event_id)
    return _content_key(NATIVE, obj)


# "\ud800" alone is valid JSON to Python but not representable in UTF-8, so neither
# DuckDB nor PostgreSQL accepts it: such a record is a load error.
LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def has_lone_surrogate(obj: Any) -> bool:
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
    if type(message_id) is str and message_id and usable_id(message_id):
        return id_key(SEGMENT, "id", message_id)
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


def epoch(value: Any) -> float | None:
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


def reject_constant(name: str) -> Any:
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
DECODER = json.JSONDecoder(parse_constant=reject_constant, object_pairs_hook=_unique_keys)


def fast_decode(line: bytes) -> dict[str, Any] | None:
    """The object ``line`` holds when orjson (3-4x faster) provably decodes it as DECODER
    does; None otherwise (DECODER then decides: errors, arrays, anything unusual).

    orjson rejects what DECODER rejects (NaN, invalid UTF-8, lone surrogates) and more, but
    it keeps the last of duplicate keys and reads integers beyond 64 bits as floats. So:

    * no duplicate key: outside strings a ``:`` only ends a key, and orjson's compact
      output holds one ``:`` per key it kept plus the ``:`` of the decoded strings. Unless
      a ``:`` is written as an escape (``\\u003a``, so no ``\\u003`` at all), the line holds
      at least as many of each, equally many only when no key was dropped;
    * no integer read as a float: such a float (>= 2**63) is written with ``e+``;
    * re-encoding fails beyond orjson's 255 levels, far below DECODER's limit.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or b"\\u003" in line:
        return None
    try:
        compact = orjson.dumps(obj)
    except TypeError:
        return None
    if line.count(b":") != compact.count(b":") or b"e+" in compact:
        return None
    return obj


# Python's defaults: finds where an element ends that DECODER rejects for its values
LENIENT_DECODER = json.JSONDecoder()
WHITESPACE = re.compile(r"[ \t\n\r]*")


def json_type(value: Any) -> str:
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


def json_error_reason(exc: BaseException, with_column: bool = True) -> str:
    if isinstance(exc, DuplicateKeyError):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        if with_column:
            return f"invalid JSON: {exc.msg} at column {exc.colno}"
        return f"invalid JSON: {exc.msg}"
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply"
    return f"invalid JSON: {exc}"
