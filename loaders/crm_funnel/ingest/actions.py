"""People's actions on the orchestrator queue, landed as native events (issue 17).

A person resolves, snoozes or escalates a queue item, or logs an interaction with a
contact; each action is ONE native event (``ingest/formats.py``: ``email``,
``event_type``, ``event_time``, ``event_id``, ``properties``) with a unique event id,
the contact's email, the time the person acted and the properties of the contract:

=======================  ================================================================
event_type               properties
=======================  ================================================================
queue_item_resolved      queue_item_id, outcome, by
queue_item_snoozed       queue_item_id, until (ISO date or timestamp), by
queue_item_escalated     queue_item_id, to, reason, by
interaction_logged       direction, interaction_channel, outcome, initiated_by, summary, by
=======================  ================================================================

``record`` lands the event with the loader's own code (``load_one``: the same dedupe, a
``raw.loads`` row) when the warehouse is free; when it is not (the DuckDB file is locked
by a build or a load, the server is unreachable) or the caller asks for it, the event is
written as an NDJSON file in the inbox folder, which the next ``funnel-pipeline`` run
loads. ``funnel-queue`` (``ops/queue.py``) and the dashboard's queue page both build
their events here and call ``record``: one implementation.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from crm_funnel.errors import TerminalError, TransientError
from crm_funnel.ingest.formats import NATIVE
from crm_funnel.ingest.inputs import LoadInput
from crm_funnel.ingest.load import load_one
from crm_funnel.warehouse.open import open_backend
from crm_funnel.warehouse.profile import Target
from crm_funnel.warehouse.sheet_rows import ensure_sheet_rows

RESOLVED = "queue_item_resolved"
SNOOZED = "queue_item_snoozed"
ESCALATED = "queue_item_escalated"
INTERACTION = "interaction_logged"

# The allowed values of an interaction (the issue 17 contract: the Interactions log).
DIRECTIONS = ("inbound", "outbound")
INTERACTION_CHANNELS = ("call", "email", "dm", "meeting", "event", "support")
INTERACTION_OUTCOMES = (
    "no_response",
    "replied",
    "booked",
    "converted",
    "complaint",
    "referral_given",
)
INITIATED_BY = ("automated", "orchestrator", "manager", "self")

# The inbox folder funnel-pipeline loads by default (relative to the working directory).
DEFAULT_INBOX = Path("data") / "inbox"
INBOX_PREFIX = "queue-"  # inbox files are queue-<UTC time>-<event id>.ndjson
NAME_LIMIT = 100  # characters of a person's name (by, to)
TEXT_LIMIT = 1000  # characters of a free text (outcome, reason, summary)
FUTURE_SLACK = timedelta(minutes=5)  # an action "at" a later time is a mistake


@dataclass(frozen=True)
class QueueItem:
    """The item an action is about: its id and its contact's email."""

    queue_item_id: str
    email: str


@dataclass(frozen=True)
class Recorded:
    """Where an event went: the warehouse (``load_id``) or an inbox file (``path``)."""

    event: dict[str, Any]
    load_id: str | None = None
    path: Path | None = None
    reason: str = ""  # why the event went to the inbox

    def summary(self, target: Target) -> str:
        """One line for the person who acted."""
        what = f"event {self.event['event_id']} ({self.event['event_type']}, {self.event['email']})"
        if self.load_id is not None:
            return f"{what} loaded into {target.describe()} (load {self.load_id})"
        because = f" because {self.reason}" if self.reason else ""
        return f"{what} written to {self.path}{because}; the next funnel-pipeline run loads it"


# --------------------------------------------------------------------------- checking


def text(name: str, value: str | None, *, limit: int, required: bool) -> str | None:
    """A one-line free text, whitespace folded; ``TerminalError`` naming ``name`` if bad."""
    folded = " ".join((value or "").split())
    if not folded:
        if required:
            raise TerminalError(f"{name} is required: give a non-empty value")
        return None
    if len(folded) > limit:
        raise TerminalError(f"{name} is {len(folded)} characters long; at most {limit} allowed")
    if not folded.isprintable():
        raise TerminalError(f"{name} has control characters; type plain text")
    return folded


def choice(name: str, value: str | None, allowed: Sequence[str]) -> str:
    """``value`` (lower-cased) if it is one of ``allowed``."""
    found = (value or "").strip().lower()
    if found not in allowed:
        shown = repr(value) if value else "nothing"
        raise TerminalError(f"{name} {shown} is not allowed: use one of {', '.join(allowed)}")
    return found


def email_address(value: str) -> str:
    """The email stripped and lower-cased (a contact is one normalized email)."""
    found = "".join(value.split()).lower()
    local, at, domain = found.partition("@")
    if not (local and at and "." in domain and "@" not in domain):
        raise TerminalError(f"{value!r} is not an email address (name@example.com)")
    return found


def moment(name: str, value: str | datetime | date) -> datetime | date:
    """An ISO date (kept a date) or timestamp (naive = UTC, returned in UTC)."""
    if isinstance(value, datetime):
        found: datetime | date = value
    elif isinstance(value, date):
        return value
    else:
        raw = value.strip()
        try:
            found = date.fromisoformat(raw) if len(raw) == 10 else _timestamp(raw)
        except ValueError:
            raise TerminalError(
                f"{name} {value!r} is not an ISO date or timestamp "
                "(e.g. 2026-12-14 or 2026-12-14T09:00:00Z)"
            ) from None
    if isinstance(found, datetime):
        found = (found if found.tzinfo else found.replace(tzinfo=timezone.utc)).astimezone(
            timezone.utc
        )
    return found


def _timestamp(raw: str) -> datetime:
    return datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in "Zz" else raw)


def acted_at(value: str | datetime | None, now: datetime | None = None) -> datetime:
    """When the person acted: ``value`` (not in the future) or now, in UTC."""
    current = now or datetime.now(timezone.utc)
    if value is None:
        return current
    found = moment("--at", value)
    if not isinstance(found, datetime):
        found = datetime(found.year, found.month, found.day, tzinfo=timezone.utc)
    if found > current + FUTURE_SLACK:
        raise TerminalError(f"--at {_iso(found)} is in the future: give when you acted")
    return found


def _iso(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return value.isoformat()


# --------------------------------------------------------------------------- the events


def event(
    event_type: str, email: str, properties: dict[str, str | None], at: datetime
) -> dict[str, Any]:
    """One native event: a unique id, the contact's email, the time acted, the properties
    (empty ones left out)."""
    return {
        "event_id": f"{INBOX_PREFIX}{uuid.uuid4().hex}",
        "email": email_address(email),
        "event_type": event_type,
        "event_time": _iso(at),
        "properties": {key: value for key, value in properties.items() if value is not None},
    }


def _item_properties(item: QueueItem, by: str | None) -> dict[str, str | None]:
    return {
        "queue_item_id": text("the queue item id", item.queue_item_id, limit=200, required=True),
        "by": text("--by", by, limit=NAME_LIMIT, required=True),
    }


def resolved(
    item: QueueItem, *, by: str | None, outcome: str | None = None, at: datetime | None = None
) -> dict[str, Any]:
    """``queue_item_resolved``: the item is done (``outcome`` says how)."""
    properties = _item_properties(item, by)
    properties["outcome"] = text("--outcome", outcome, limit=TEXT_LIMIT, required=False)
    return event(RESOLVED, item.email, properties, acted_at(at))


def snooze_until(until: str | date | None, at: datetime) -> str:
    """``until`` as stored (ISO date, or UTC timestamp), if it is after ``at``."""
    if until is None or (isinstance(until, str) and not until.strip()):
        raise TerminalError("--until is required: the date (or time) the item comes back")
    back = moment("--until", until)
    back_at = (
        back
        if isinstance(back, datetime)
        else datetime(back.year, back.month, back.day, tzinfo=timezone.utc)
    )
    if back_at <= at:
        raise TerminalError(f"--until {_iso(back)} is not after the time acted ({_iso(at)})")
    return _iso(back)


def snoozed(
    item: QueueItem, *, by: str | None, until: str | date | None, at: datetime | None = None
) -> dict[str, Any]:
    """``queue_item_snoozed``: the item returns after ``until`` (a date or timestamp)."""
    when = acted_at(at)
    properties = _item_properties(item, by)
    properties["until"] = snooze_until(until, when)
    return event(SNOOZED, item.email, properties, when)


def escalated(
    item: QueueItem,
    *,
    by: str | None,
    to: str | None,
    reason: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """``queue_item_escalated``: the item goes to ``to`` (a manager)."""
    properties = _item_properties(item, by)
    properties["to"] = text("--to", to, limit=NAME_LIMIT, required=True)
    properties["reason"] = text("--reason", reason, limit=TEXT_LIMIT, required=False)
    return event(ESCALATED, item.email, properties, acted_at(at))


def interaction(
    email: str,
    *,
    by: str | None,
    direction: str | None,
    channel: str | None,
    outcome: str | None,
    initiated_by: str | None,
    summary: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """``interaction_logged``: a call, a DM, a meeting... with the contact."""
    properties: dict[str, str | None] = {
        "direction": choice("--direction", direction, DIRECTIONS),
        "interaction_channel": choice("--channel", channel, INTERACTION_CHANNELS),
        "outcome": choice("--outcome", outcome, INTERACTION_OUTCOMES),
        "initiated_by": choice("--initiated-by", initiated_by, INITIATED_BY),
        "summary": text("--summary", summary, limit=TEXT_LIMIT, required=False),
        "by": text("--by", by, limit=NAME_LIMIT, required=True),
    }
    return event(INTERACTION, email, properties, acted_at(at))


# --------------------------------------------------------------------------- landing


def ndjson(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def write_inbox(record: dict[str, Any], inbox: Path) -> Path:
    """Write the event as ``<inbox>/queue-<time>-<id>.ndjson`` (atomically: a ``.part``
    file renamed, so a pipeline run never reads half a file)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = inbox / f"{INBOX_PREFIX}{stamp}-{record['event_id'][len(INBOX_PREFIX) :]}.ndjson"
    part = path.with_name(path.name + ".part")
    try:
        inbox.mkdir(parents=True, exist_ok=True)
        with open(part, "wb") as fh:
            fh.write(ndjson(record))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, path)
    except OSError as exc:
        raise TerminalError(
            f"cannot write to the inbox {inbox}: {exc.strerror or exc}; pass another --inbox-dir"
        ) from None
    return path


def load_event(record: dict[str, Any], target: Target, raw_schema: str = "raw") -> str:
    """Land the event with ``load_one`` (one load, audited in ``raw.loads``); its load id."""
    with tempfile.TemporaryDirectory(prefix="funnel-queue-") as tmp:
        path = Path(tmp) / f"{record['event_id']}.ndjson"
        path.write_bytes(ndjson(record))
        with open_backend(target, raw_schema) as backend:
            ensure_sheet_rows(backend)
            result = load_one(
                backend, LoadInput(f"{record['event_type']} {record['event_id']}", path),
                fmt=NATIVE, progress=False,
            )  # fmt: skip
    return result.load_id


def record(
    action: dict[str, Any],
    target: Target,
    *,
    inbox: Path = DEFAULT_INBOX,
    to_inbox: bool = False,
    raw_schema: str = "raw",
) -> Recorded:
    """Land one action's event: in the warehouse when it is free, else in the inbox."""
    if to_inbox:
        return Recorded(action, path=write_inbox(action, inbox))
    try:
        return Recorded(action, load_id=load_event(action, target, raw_schema))
    except TransientError as exc:  # locked or unreachable: nothing was committed
        reason = str(exc).split(";")[0]
        return Recorded(action, path=write_inbox(action, inbox), reason=reason)
