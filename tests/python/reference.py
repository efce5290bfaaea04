"""An independent, pure-Python reference implementation of the funnel rules.

The end-to-end tests compare the dbt marts with what this module computes from the same
generated files. It deliberately shares nothing with the SQL: it reads the rules from a
vars dict (the test passes ``dbt_project.yml`` vars plus its overrides) and the
vocabulary, aliases and stages from the seed CSVs, and implements the written rules
(the loader's keys and duplicates, the quarantine reasons in order, the per-contact
fields and stages, and the three funnel reports) as plainly as possible.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import json
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WHITESPACE = " \t\r\n\f"
REASONS = (
    "missing email",
    "malformed email",
    "missing event_type",
    "unknown event_type",
    "missing event_time",
    "unparseable event_time",
    "event_time out of range",
)
TIME_RE = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:[Tt ](?P<h>[0-9]{2}):(?P<mi>[0-9]{2})"
    r"(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,6}))?)?"
    r"(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>[0-9]{2})(?::?(?P<om>[0-9]{2}))?)?)?"
)


# --------------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class Seeds:
    canonical_types: frozenset[str]
    engagement_types: frozenset[str]
    aliases: dict[str, str]
    stages: list[str]  # in stage_order
    stage_order: dict[str, int]
    nurture_track: dict[str, str]

    @classmethod
    def load(cls, seeds_dir: Path) -> Seeds:
        def rows(name: str) -> list[dict[str, str]]:
            with open(seeds_dir / name, newline="", encoding="utf-8") as handle:
                return list(csv.DictReader(handle))

        types = rows("event_types.csv")
        stages = sorted(rows("funnel_stages.csv"), key=lambda row: int(row["stage_order"]))
        return cls(
            canonical_types=frozenset(row["event_type"] for row in types),
            engagement_types=frozenset(
                row["event_type"] for row in types if row["is_engagement"].lower() == "true"
            ),
            aliases={
                row["alias"].lower(): row["event_type"] for row in rows("event_type_aliases.csv")
            },
            stages=[row["funnel_stage"] for row in stages],
            stage_order={row["funnel_stage"]: int(row["stage_order"]) for row in stages},
            nurture_track={row["funnel_stage"]: row["nurture_track"] for row in stages},
        )


# --------------------------------------------------------------------------- rules


def event_key(obj: dict[str, Any]) -> str:
    event_id = obj.get("event_id")
    if isinstance(event_id, str) and event_id:
        return event_id
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        return str(event_id)
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value: Any) -> str | None:
    """A JSON value as text: strings as they are, other values as their JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_event_time(text: str) -> dt.datetime | None:
    """The UTC instant (naive) of an accepted timestamp, or None when it is not one."""
    match = TIME_RE.fullmatch(text.strip(WHITESPACE))
    if match is None:
        return None
    year, month, day = int(match["y"]), int(match["mo"]), int(match["d"])
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month) or year < 1:
        return None
    hour = int(match["h"] or 0)
    minute = int(match["mi"] or 0)
    second = int(match["s"] or 0)
    micro = int((match["f"] or "").ljust(6, "0") or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    offset = dt.timedelta(0)
    if match["sign"]:
        off_h, off_m = int(match["oh"]), int(match["om"] or 0)
        if off_h > 18 or off_m > 59:
            return None
        offset = dt.timedelta(hours=off_h, minutes=off_m)
        if match["sign"] == "-":
            offset = -offset
    local = dt.datetime(year, month, day, hour, minute, second, micro)
    try:
        return local - offset
    except OverflowError:
        return None


def normalise_email(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    return text.strip(WHITESPACE).lower()


@dataclass
class Activity:
    key: str
    email: str
    event_type: str
    channel: str
    event_at: dt.datetime
    properties: Any
    company: Any
    industry: Any


def classify(
    obj: dict[str, Any], key: str, rules: dict[str, Any], seeds: Seeds, as_of: dt.datetime
) -> Activity | str:
    """Return the activity, or the first failing quarantine reason."""
    email = normalise_email(obj.get("email"))
    if not email:
        return "missing email"
    if re.fullmatch(rules["valid_email_regex"], email) is None:
        return "malformed email"
    raw_type = _text(obj.get("event_type"))
    if raw_type is None or not raw_type.strip(WHITESPACE):
        return "missing event_type"
    type_text = raw_type.strip(WHITESPACE).lower()
    if type_text in seeds.canonical_types:
        event_type = type_text
    elif type_text in seeds.aliases:
        event_type = seeds.aliases[type_text]
    else:
        return "unknown event_type"
    raw_time = _text(obj.get("event_time"))
    if raw_time is None or not raw_time.strip(WHITESPACE):
        return "missing event_time"
    event_at = parse_event_time(raw_time)
    if event_at is None:
        return "unparseable event_time"
    min_date = dt.datetime.fromisoformat(str(rules["min_event_date"]))
    latest = as_of + dt.timedelta(hours=float(rules["future_tolerance_hours"]))
    if event_at < min_date or event_at > latest:
        return "event_time out of range"
    channel = _text(obj.get("channel"))
    channel = channel.strip(WHITESPACE).lower() if channel is not None else ""
    return Activity(
        key=key,
        email=email,
        event_type=event_type,
        channel=channel or rules["unknown_channel"],
        event_at=event_at,
        properties=obj.get("properties"),
        company=obj.get("company"),
        industry=obj.get("industry"),
    )


# --------------------------------------------------------------------------- contacts


def _clean_string(value: Any) -> str | None:
    if isinstance(value, str) and value.strip(WHITESPACE):
        return value.strip(WHITESPACE)
    return None


def _first_at(
    activities: list[Activity], types: Iterable[str], not_before: dt.datetime | None = None
) -> dt.datetime | None:
    wanted = set(types)
    for activity in activities:
        if activity.event_type in wanted and (
            not_before is None or activity.event_at >= not_before
        ):
            return activity.event_at
    return None


def _crossing_at(
    activities: list[Activity], weights: dict[str, float], threshold: float | None
) -> dt.datetime | None:
    if threshold is None:
        return None
    running = 0.0
    for activity in activities:
        running += weights.get(activity.event_type, 0)
        if running >= threshold:
            return activity.event_at
    return None


def _min(*values: dt.datetime | None) -> dt.datetime | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None


def contact_row(
    email: str,
    activities: list[Activity],
    rules: dict[str, Any],
    seeds: Seeds,
    as_of: dt.datetime,
) -> dict[str, Any]:
    acts = sorted(activities, key=lambda activity: activity.event_at)
    weights = {name: float(value) for name, value in (rules["intent_weights"] or {}).items()}
    first, last = acts[0], acts[-1]

    lead_source = None
    for activity in acts:
        props = activity.properties
        if isinstance(props, dict):
            value = _clean_string(props.get("lead_source"))
            if value is not None:
                lead_source = value.lower()
                break
    company = next((c for c in (_clean_string(a.company) for a in reversed(acts)) if c), None)
    industry = next((i for i in (_clean_string(a.industry) for a in reversed(acts)) if i), None)
    engagements = [a.event_at for a in acts if a.event_type in seeds.engagement_types]

    lifetime = sum(weights.get(a.event_type, 0) for a in acts)
    half_life = rules.get("intent_half_life_days")
    if half_life is None:
        intent = lifetime
    else:
        intent = 0.0
        for activity in acts:
            age = max(0.0, (as_of - activity.event_at).total_seconds() / 86400)
            intent += weights.get(activity.event_type, 0) * 0.5 ** (age / float(half_life))

    mql_criteria = _min(
        _first_at(acts, rules["mql_trigger_events"] or []),
        _crossing_at(acts, weights, rules.get("mql_score_threshold")),
    )
    sql_criteria = _min(
        _first_at(acts, rules["sql_trigger_events"] or []),
        _crossing_at(acts, weights, rules.get("sql_score_threshold")),
    )
    opportunity_criteria = (
        _first_at(acts, rules["opportunity_trigger_events"] or [], sql_criteria)
        if sql_criteria is not None
        else None
    )
    customer_at = _first_at(acts, rules["customer_trigger_events"] or [])
    opportunity_at = _min(opportunity_criteria, customer_at)
    sql_at = _min(sql_criteria, opportunity_at)
    mql_at = _min(mql_criteria, sql_at)
    lead_at = first.event_at
    dates = {
        "Lead": lead_at,
        "MQL": mql_at,
        "SQL": sql_at,
        "Opportunity": opportunity_at,
        "Customer": customer_at,
    }
    stage = max((s for s in seeds.stages if dates.get(s) is not None), key=seeds.stage_order.get)
    opt_out = set(rules["opt_out_events"] or [])
    is_opted_out = any(a.event_type in opt_out for a in acts)
    return {
        "contact_id": hashlib.md5(email.encode("utf-8")).hexdigest(),
        "email": email,
        "company": company,
        "industry": industry,
        "first_touch_channel": first.channel,
        "lead_source": lead_source or first.channel,
        "first_activity_at": first.event_at,
        "last_activity_at": last.event_at,
        "last_engagement_at": max(engagements) if engagements else None,
        "events_total": len(acts),
        "lifetime_intent_score": lifetime,
        "intent_score": intent,
        "funnel_stage": stage,
        "stage_order": seeds.stage_order[stage],
        "became_lead_at": lead_at,
        "became_mql_at": mql_at,
        "became_sql_at": sql_at,
        "became_opportunity_at": opportunity_at,
        "became_customer_at": customer_at,
        "nurture_track": "None" if is_opted_out else seeds.nurture_track[stage],
        "is_opted_out": is_opted_out,
    }


# --------------------------------------------------------------------------- reports


def _stage_rows(contacts: Iterable[dict[str, Any]], seeds: Seeds) -> list[dict[str, Any]]:
    current = Counter(contact["funnel_stage"] for contact in contacts)
    rows = []
    for stage in seeds.stages:
        order = seeds.stage_order[stage]
        reached = sum(n for s, n in current.items() if seeds.stage_order[s] >= order)
        rows.append(
            {
                "funnel_stage": stage,
                "stage_order": order,
                "contacts_current": current.get(stage, 0),
                "contacts_reached": reached,
            }
        )
    for index, row in enumerate(rows):
        following = rows[index + 1] if index + 1 < len(rows) else None
        if following is None or row["contacts_reached"] == 0:
            row["conversion_to_next"] = None
            row["drop_off_rate"] = None
        else:
            row["conversion_to_next"] = following["contacts_reached"] / row["contacts_reached"]
            row["drop_off_rate"] = 1 - row["conversion_to_next"]
    return rows


def rpt_funnel(contacts: list[dict[str, Any]], seeds: Seeds) -> list[dict[str, Any]]:
    return _stage_rows(contacts, seeds)


def rpt_channel_effectiveness(contacts: list[dict[str, Any]], seeds: Seeds) -> list[dict[str, Any]]:
    out = []
    for channel in sorted({contact["first_touch_channel"] for contact in contacts}):
        members = [c for c in contacts if c["first_touch_channel"] == channel]
        rows = _stage_rows(members, seeds)
        leads = rows[0]["contacts_reached"]
        for row in rows:
            row.pop("drop_off_rate")
            row["first_touch_channel"] = channel
            row["conversion_from_lead"] = row["contacts_reached"] / leads
            out.append(row)
    return out


def rpt_intent_by_source(contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for source in sorted({contact["lead_source"] for contact in contacts}):
        scores = [float(c["intent_score"]) for c in contacts if c["lead_source"] == source]
        out.append(
            {
                "lead_source": source,
                "contacts": len(scores),
                "avg_intent_score": sum(scores) / len(scores),
                "median_intent_score": statistics.median(scores),
            }
        )
    return out


# --------------------------------------------------------------------------- driver


@dataclass
class Expected:
    lines: int = 0
    load_errors: int = 0
    duplicates: int = 0
    landed: int = 0
    quarantined: Counter = field(default_factory=Counter)
    quarantined_keys: dict[str, str] = field(default_factory=dict)
    activities_by_key: dict[str, Activity] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    rpt_funnel: list[dict[str, Any]] = field(default_factory=list)
    rpt_channel_effectiveness: list[dict[str, Any]] = field(default_factory=list)
    rpt_intent_by_source: list[dict[str, Any]] = field(default_factory=list)

    @property
    def activities(self) -> int:
        return len(self.activities_by_key)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _read_lines(path: Path) -> Iterator[bytes]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        for raw in handle:
            yield raw.rstrip(b"\n").removesuffix(b"\r")


def parse_as_of(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    parsed = parse_event_time(str(value))
    if parsed is None:
        raise ValueError(f"as_of {value!r} is not an ISO-8601 timestamp")
    return parsed


def compute(paths: Iterable[Path | str], rules: dict[str, Any], seeds_dir: Path) -> Expected:
    """Everything the marts should contain after loading ``paths`` in order."""
    if rules.get("as_of") is None:
        raise ValueError("the reference needs an explicit as_of")
    as_of = parse_as_of(rules["as_of"])
    seeds = Seeds.load(Path(seeds_dir))
    expected = Expected()
    seen: set[str] = set()
    by_contact: dict[str, list[Activity]] = {}
    for path in paths:
        for line in _read_lines(Path(path)):
            if not line.strip():
                continue  # blank lines carry no record
            expected.lines += 1
            try:  # invalid UTF-8, invalid JSON (NaN and Infinity are not JSON), and text
                # that cannot be UTF-8 (a lone surrogate escape such as "\ud800")
                obj = json.loads(line.decode("utf-8"), parse_constant=_not_json)
                json.dumps(obj, ensure_ascii=False).encode("utf-8")
            except ValueError:
                expected.load_errors += 1
                continue
            if not isinstance(obj, dict):
                expected.load_errors += 1
                continue
            key = event_key(obj)
            if key in seen:
                expected.duplicates += 1
                continue
            seen.add(key)
            expected.landed += 1
            result = classify(obj, key, rules, seeds, as_of)
            if isinstance(result, str):
                expected.quarantined[result] += 1
                expected.quarantined_keys[key] = result
                continue
            expected.activities_by_key[key] = result
            by_contact.setdefault(result.email, []).append(result)
    contacts = [
        contact_row(email, acts, rules, seeds, as_of) for email, acts in sorted(by_contact.items())
    ]
    expected.contacts = {contact["email"]: contact for contact in contacts}
    expected.rpt_funnel = rpt_funnel(contacts, seeds)
    expected.rpt_channel_effectiveness = rpt_channel_effectiveness(contacts, seeds)
    expected.rpt_intent_by_source = rpt_intent_by_source(contacts)
    return expected
