"""The stream of event lines: contacts in batches, ordered by time, some made dirty."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Iterator
from typing import IO, Any

from crm_funnel.devtools.generate.journeys import (
    add_months,
    format_iso,
    format_time,
    meeting_slot,
    plan_journey,
)
from crm_funnel.devtools.generate.people import Companies
from crm_funnel.devtools.generate.sheets import SheetRecorder
from crm_funnel.devtools.generate.vocabulary import (
    ALIAS_SPELLINGS,
    APPOINTMENT_OUTCOMES,
    CHANNELS,
    CONTRACT_MONTHS,
    DEFAULT_DIRTY_RATE,
    DEFAULT_END,
    DEFAULT_SEED,
    DEFAULT_START,
    DIRTY_KINDS,
    FIRST_NAMES,
    IMPOSSIBLE_TIMES,
    INVALID_JSON_LINES,
    INVALID_OVERRIDE_STATES,
    LAST_NAMES,
    LEAD_SOURCE_BY_CHANNEL,
    LOCAL_PATTERNS,
    MALFORMED_EMAILS,
    NON_OBJECT_LINES,
    OUT_OF_RANGE_TIMES,
    OVERRIDE_SETTERS,
    UNKNOWN_EVENT_TYPES,
    UNPARSEABLE_TIMES,
)

# Contacts generated (then ordered by time) per batch; bounds the memory used.
BATCH_CONTACTS = 200


class Generator:
    """Streams the lines of one generated file."""

    def __init__(
        self,
        events: int,
        seed: int,
        dirty_rate: float,
        start: dt.date,
        end: dt.date,
        sheets: SheetRecorder | None = None,
    ) -> None:
        self.events = events
        self.seed = seed
        self.dirty_rate = dirty_rate
        self.start = dt.datetime.combine(start, dt.time())
        self.end_limit = dt.datetime.combine(end, dt.time()) + dt.timedelta(days=1, seconds=-1)
        self.span_seconds = int((self.end_limit - self.start).total_seconds())
        self.rng = random.Random(f"crm-funnel-generate:{seed}")
        self.companies = Companies(seed, max(30, events // 40))
        self.contacts = 0
        self.dirty_written = 0
        self._kinds: list[str] = []  # the dirty kinds left in this cycle
        self._cycles = 0
        self._event_serial = 0
        self._channel_names = list(CHANNELS)
        self._channel_shares = [share for share, _ in CHANNELS.values()]
        # --sheets: what the sheets and webhook files are made of. It draws from its own
        # random streams, never from self.rng, so the events are the same with or without.
        self.sheets = sheets
        self._record_meta: dict[int, tuple[int, dt.datetime]] = {}

    # -- contacts -----------------------------------------------------------------

    def _contact_events(self) -> list[tuple[dt.datetime, int, dict[str, Any]]]:
        rng = self.rng
        self.contacts += 1
        number = self.contacts
        channel = rng.choices(self._channel_names, self._channel_shares)[0]
        propensity = CHANNELS[channel][1]
        company_index = self.companies.pick(rng)
        company, industry, domain = self.companies.get(company_index)
        home = (company, industry)  # before any job change (the sheet keeps this one)
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        local = rng.choice(LOCAL_PATTERNS).format(f=first, l=last, fi=first[0], n=number)
        email = f"{local}@{domain}"
        steps = plan_journey(rng, channel, propensity)

        if rng.random() < 0.4:
            value = rng.choice(LEAD_SOURCE_BY_CHANNEL[channel])
            roll = rng.random()
            if roll < 0.1:
                value = f" {value.title()} "
            elif roll < 0.14:
                value = ""
            steps[0].properties["lead_source"] = value
        elif len(steps) > 3 and rng.random() < 0.08:
            steps[rng.randrange(1, len(steps))].properties["lead_source"] = rng.choice(
                ("event", "partner", "referral")
            )

        # Times: strictly increasing, at least one second apart, inside [start, end].
        cursor = self.start + dt.timedelta(seconds=rng.randrange(self.span_seconds))
        out: list[tuple[dt.datetime, int, dict[str, Any]]] = []
        meeting: dt.datetime | None = None  # scheduled time of the latest booked demo
        for index, step in enumerate(steps):
            if index:
                if step.wait_days:
                    gap = step.wait_days * 86400 + rng.randint(0, 12 * 3600)
                elif rng.random() < 0.55:
                    gap = rng.randint(5, 1800)
                else:
                    gap = int(rng.expovariate(1 / (4 * 86400))) + 3600
                base = cursor.replace(microsecond=0)
                if cursor.microsecond:
                    base += dt.timedelta(seconds=1)
                instant = base + dt.timedelta(seconds=gap)
                if step.event_type in APPOINTMENT_OUTCOMES and meeting is not None:
                    # Recorded when the meeting ends (or when it was missed).
                    instant = max(instant, meeting + dt.timedelta(minutes=rng.randint(30, 90)))
            else:
                instant = cursor
            if step.date_only:
                # The first midnight that keeps the one-second spacing.
                earliest = cursor + dt.timedelta(seconds=1) if index else instant
                midnight = dt.datetime.combine(instant.date(), dt.time())
                if midnight < earliest:
                    midnight += dt.timedelta(days=1)
                instant = midnight
            elif rng.random() < 0.03:
                # Minute precision (rendered without seconds half of the time).
                instant = (instant + dt.timedelta(seconds=59)).replace(second=0)
            elif rng.random() < 0.08:
                if rng.random() < 0.5:
                    instant += dt.timedelta(microseconds=rng.randrange(1, 1_000_000))
                else:
                    instant += dt.timedelta(milliseconds=rng.randrange(1, 1000))
            if instant > self.end_limit:
                break
            cursor = instant
            if step.event_type == "demo_booked":
                meeting = meeting_slot(rng, instant)
                step.properties["scheduled_at"] = format_iso(rng, meeting)
            elif step.event_type == "deal_closed":
                months = rng.choice(CONTRACT_MONTHS)
                step.properties["contract_end"] = add_months(instant.date(), months).isoformat()
            if step.event_type == "job_change":
                company_index = self.companies.pick(rng)
                company, industry, _ = self.companies.get(company_index)
            record: dict[str, Any] = {}
            roll = rng.random()
            if roll < 0.78:
                self._event_serial += 1
                record["event_id"] = f"evt_{rng.getrandbits(96):024x}"
            elif roll < 0.80:
                self._event_serial += 1
                record["event_id"] = 10_000_000_000 + self._event_serial
            elif roll < 0.81:
                record["event_id"] = rng.choice(("", None))
            record["email"] = email
            roll = rng.random()
            if roll < 0.85:
                record["company"] = company if rng.random() < 0.95 else f"  {company} "
            elif roll < 0.88:
                record["company"] = ""
            if rng.random() < 0.8:
                record["industry"] = industry
            record["event_type"] = step.event_type
            if step.channel is not None:
                ch = step.channel
                if rng.random() < 0.03:
                    ch = rng.choice((ch.upper(), f" {ch} ", ch.title()))
                record["channel"] = ch
            record["event_time"] = format_time(rng, instant, step.date_only)
            if step.properties or rng.random() < 0.3:
                record["properties"] = step.properties
            out.append((instant, len(out), record))
        if self.sheets is not None and out:
            self.sheets.contact(number, email, first, last, *home, channel, out)
            for instant, _, record in out:
                self._record_meta[id(record)] = (number, instant)
        return out

    def _batches(self) -> Iterator[list[dict[str, Any]]]:
        while True:
            batch: list[tuple[dt.datetime, int, int, dict[str, Any]]] = []
            self._record_meta.clear()  # the previous batch is written by now
            for contact in range(BATCH_CONTACTS):
                for instant, order, record in self._contact_events():
                    batch.append((instant, contact, order, record))
            batch.sort(key=lambda item: (item[0], item[1], item[2]))
            yield [item[3] for item in batch]

    # -- dirt -----------------------------------------------------------------

    def _dirty(self, kind: str, record: dict[str, Any]) -> dict[str, Any] | str:
        """Apply ``kind`` to ``record`` (a fresh clean record); return a record or a line."""
        rng = self.rng
        if kind == "email_whitespace_case":
            email = record["email"]
            email = rng.choice((email.upper(), email.title(), email.capitalize()))
            record["email"] = (
                rng.choice(("  ", "\t", "\n", " \r\n"))
                + email
                + rng.choice((" ", "\t", "\n\t", "  \n"))
            )
        elif kind == "event_type_alias_case":
            spellings = ALIAS_SPELLINGS.get(record["event_type"])
            record["event_type"] = (
                rng.choice(spellings) if spellings else f"  {record['event_type'].upper()} "
            )
        elif kind == "missing_channel":
            if rng.random() < 0.5:
                record.pop("channel", None)
            else:
                record["channel"] = rng.choice((None, "", "   "))
        elif kind == "missing_email":
            if rng.random() < 0.5:
                del record["email"]
            else:
                record["email"] = None
        elif kind == "empty_email":
            record["email"] = rng.choice(("", "   ", "\t\n"))
        elif kind == "malformed_email":
            record["email"] = rng.choice(MALFORMED_EMAILS)
        elif kind == "non_string_email":
            record["email"] = rng.choice((12345, 4.5, 0))
        elif kind == "unknown_event_type":
            record["event_type"] = rng.choice(UNKNOWN_EVENT_TYPES)
        elif kind == "missing_event_type":
            choice = rng.randrange(3)
            if choice == 0:
                del record["event_type"]
            else:
                record["event_type"] = None if choice == 1 else "  "
        elif kind == "missing_event_time":
            choice = rng.randrange(3)
            if choice == 0:
                del record["event_time"]
            else:
                record["event_time"] = None if choice == 1 else ""
        elif kind == "unparseable_event_time":
            record["event_time"] = rng.choice(UNPARSEABLE_TIMES)
        elif kind == "impossible_event_time":
            record["event_time"] = rng.choice(IMPOSSIBLE_TIMES)
        elif kind == "out_of_range_event_time":
            record["event_time"] = rng.choice(OUT_OF_RANGE_TIMES)
        elif kind == "invalid_override_state":
            record["event_type"] = "manual_override"
            record["properties"] = {
                "state": rng.choice(INVALID_OVERRIDE_STATES),
                "set_by": rng.choice(OVERRIDE_SETTERS),
            }
        elif kind == "invalid_json":
            return rng.choice(INVALID_JSON_LINES)
        elif kind == "non_object_json":
            return rng.choice(NON_OBJECT_LINES)
        else:  # pragma: no cover - DIRTY_KINDS and this function move together
            raise AssertionError(kind)
        return record

    def _is_dirty_slot(self, index: int) -> bool:
        rate = self.dirty_rate
        return rate > 0 and math.floor((index + 1) * rate) > math.floor(index * rate)

    def _next_kind(self) -> str:
        if not self._kinds:
            # The first cycle is in declaration order; later cycles are shuffled.
            self._kinds = list(DIRTY_KINDS)
            if self._cycles:
                self.rng.shuffle(self._kinds)
            self._cycles += 1
        return self._kinds[0]

    def lines(self) -> Iterator[str]:
        """Yield exactly ``events`` lines (without the newline)."""
        self._kinds = []
        self._cycles = 0
        last_with_id: str | None = None
        written = 0
        for batch in self._batches():
            for record in batch:
                while True:
                    if written >= self.events:
                        return
                    kind = self._next_kind() if self._is_dirty_slot(written) else None
                    if kind is None or (kind == "duplicate_line" and last_with_id is None):
                        # A clean line (a pending duplicate waits for the next dirty slot).
                        line = json.dumps(record, ensure_ascii=False)
                        if isinstance(record.get("event_id"), str) and record["event_id"]:
                            last_with_id = line
                        written += 1
                        if self.sheets is not None:
                            self._written(record)
                        yield line
                        break
                    self._kinds.pop(0)
                    self.dirty_written += 1
                    written += 1
                    if kind == "duplicate_line":
                        assert last_with_id is not None  # else the line above is clean
                        yield last_with_id  # an extra line: ``record`` is still to come
                        continue
                    result = self._dirty(kind, record)
                    if isinstance(result, str):
                        yield result  # an extra line: ``record`` is still to come
                        continue
                    if self.sheets is not None:
                        self._written(result)
                    yield json.dumps(result, ensure_ascii=False)
                    break

    def _written(self, record: dict[str, Any]) -> None:
        """Tell the sheet recorder that one of a contact's events is in the file."""
        meta = self._record_meta.get(id(record))
        if meta is not None and self.sheets is not None:
            properties = record.get("properties")
            campaign = properties.get("campaign_id") if isinstance(properties, dict) else None
            self.sheets.written(meta[0], meta[1], campaign)


def generate(
    out: IO[bytes],
    events: int,
    seed: int = DEFAULT_SEED,
    dirty_rate: float = DEFAULT_DIRTY_RATE,
    start: dt.date | None = None,
    end: dt.date | None = None,
    sheets: SheetRecorder | None = None,
) -> Generator:
    """Write the lines to ``out``; return the generator (for its counters).

    With ``sheets`` (a ``SheetRecorder``), the recorder learns the contacts and campaigns
    of the lines written; call its ``write(directory)`` afterwards.
    """
    generator = Generator(
        events,
        seed,
        dirty_rate,
        start or dt.date.fromisoformat(DEFAULT_START),
        end or dt.date.fromisoformat(DEFAULT_END),
        sheets,
    )
    buffer: list[str] = []
    for line in generator.lines():
        buffer.append(line)
        if len(buffer) >= 2000:
            out.write(("\n".join(buffer) + "\n").encode("utf-8"))
            buffer.clear()
    if buffer:
        out.write(("\n".join(buffer) + "\n").encode("utf-8"))
    return generator
