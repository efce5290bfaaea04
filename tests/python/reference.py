"""An independent, pure-Python reference implementation of the funnel rules.

The end-to-end tests compare the dbt marts with what this module computes from the same
generated files. It deliberately shares nothing with the SQL: it reads the rules from a
vars dict (the test passes ``dbt_project.yml`` vars plus its overrides) and the
vocabulary, aliases, channel groups, stages and lifecycle seeds from the seed CSVs, and
implements the written rules (the loader's keys and duplicates, the quarantine reasons in order, the
per-contact fields and stages, the three funnel reports, and the lifecycle engine of
``spec/lifecycle.md``: typed properties, the state replay and its transitions, the
orchestrator queue, the nurture lists and the suppression list) as plainly as possible.
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
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import queue_reference

WHITESPACE = " \t\r\n\f"
REASONS = (
    "missing email",
    "malformed email",
    "missing event_type",
    "unknown event_type",
    "missing event_time",
    "unparseable event_time",
    "event_time out of range",
    "invalid manual_override state",
    "missing queue_item_id",
    "missing or unparseable until",
    "missing escalation to",
    "missing or invalid interaction direction",
    "invalid interaction interaction_channel",
    "invalid interaction outcome",
    "invalid interaction initiated_by",
)
# An opt-out event quarantined for one of these still opts the contact out (at its load time).
TIMESTAMP_REASONS = ("missing event_time", "unparseable event_time", "event_time out of range")
DAY = dt.timedelta(days=1)
DATE_PREFIX_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
# An amount: a JSON number, or a string spelling one (plain or exponent form), rounded to
# 6 decimals (half away from zero); null when its magnitude is not below 1e15.
AMOUNT_RE = re.compile(r"[+-]?[0-9]{1,40}(\.[0-9]{1,255})?([eE][+-]?[0-9]{1,3})?")
AMOUNT_LIMIT = Decimal(10) ** 15
TIME_RE = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:[Tt ](?P<h>[0-9]{2}):(?P<mi>[0-9]{2})"
    r"(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,9}))?)?"
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
    outbound_types: frozenset[str]
    queue_action_types: frozenset[str]  # category queue: they act on the queue, not the contact
    # lifecycle_state -> (lifecycle_funnel or None, is_contactable)
    states: dict[str, tuple[str | None, bool]]
    signals: dict[str, frozenset[str]]  # signal -> event types
    playbook: dict[str, dict[str, Any]]  # queue_type -> priority, department, due_in_days
    marketing_queue_types: frozenset[str]  # queue types whose action sends marketing
    orchestrators: dict[str, list[str]]  # department -> names, ordered
    fx_rates: dict[str, float]
    cadence_days: dict[str, int | None]  # nurture_track -> cadence
    channel_groups: dict[str, str]  # raw channel / lead source -> channel group

    def channel_group(self, value: str) -> str:
        """A lower-cased channel or lead source grouped by the seed (unlisted: as is)."""
        return self.channel_groups.get(value, value)

    @classmethod
    def load(cls, seeds_dir: Path) -> Seeds:
        def rows(name: str) -> list[dict[str, str]]:
            with open(seeds_dir / name, newline="", encoding="utf-8") as handle:
                return list(csv.DictReader(handle))

        def is_true(text: str) -> bool:
            return text.strip().lower() == "true"

        types = rows("event_types.csv")
        stages = sorted(rows("funnel_stages.csv"), key=lambda row: int(row["stage_order"]))
        signals: dict[str, set[str]] = {}
        for row in rows("lifecycle_signals.csv"):
            signals.setdefault(row["signal"], set()).add(row["event_type"])
        orchestrators: dict[str, list[str]] = {}
        for row in rows("orchestrators.csv"):
            if is_true(row["is_active"]):
                orchestrators.setdefault(row["department"], []).append(row["orchestrator"])
        return cls(
            canonical_types=frozenset(row["event_type"] for row in types),
            engagement_types=frozenset(
                row["event_type"] for row in types if is_true(row["is_engagement"])
            ),
            aliases={
                row["alias"].lower(): row["event_type"] for row in rows("event_type_aliases.csv")
            },
            stages=[row["funnel_stage"] for row in stages],
            stage_order={row["funnel_stage"]: int(row["stage_order"]) for row in stages},
            nurture_track={row["funnel_stage"]: row["nurture_track"] for row in stages},
            outbound_types=frozenset(
                row["event_type"] for row in types if is_true(row["is_outbound_touch"])
            ),
            queue_action_types=frozenset(
                row["event_type"] for row in types if row["category"] == "queue"
            ),
            channel_groups={
                row["raw_channel"]: row["channel_group"] for row in rows("channel_groups.csv")
            },
            states={
                row["lifecycle_state"]: (
                    row["lifecycle_funnel"] or None,
                    is_true(row["is_contactable"]),
                )
                for row in rows("lifecycle_states.csv")
            },
            signals={name: frozenset(types) for name, types in signals.items()},
            playbook={
                row["queue_type"]: {
                    "priority": int(row["priority"]),
                    "owner_department": row["owner_department"],
                    "due_in_days": int(row["due_in_days"]),
                }
                for row in rows("queue_playbook.csv")
            },
            marketing_queue_types=frozenset(
                row["queue_type"]
                for row in rows("queue_playbook.csv")
                if is_true(row["sends_marketing"])
            ),
            orchestrators={dept: sorted(names) for dept, names in orchestrators.items()},
            fx_rates={
                row["currency"].upper(): float(row["rate_to_base"]) for row in rows("fx_rates.csv")
            },
            cadence_days={
                row["nurture_track"]: int(row["cadence_days"]) if row["cadence_days"] else None
                for row in rows("nurture_tracks.csv")
            },
        )

    def has(self, signal: str, event_type: str) -> bool:
        """Whether ``event_type`` counts for the lifecycle ``signal`` (seed lifecycle_signals)."""
        return event_type in self.signals.get(signal, frozenset())


# --------------------------------------------------------------------------- rules


def event_key(obj: dict[str, Any]) -> str:
    """A native event's key: its event_id namespaced by type, else a content hash."""
    event_id = obj.get("event_id")
    if isinstance(event_id, str) and event_id:
        kind, value = "id", event_id
    elif isinstance(event_id, int) and not isinstance(event_id, bool):
        kind, value = "int", str(event_id)
    else:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "native:sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    if len(f"native:{kind}:{value}") > 200:
        return f"native:{kind}-sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
    return f"native:{kind}:{value}"


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
    micro = int((match["f"] or "")[:6].ljust(6, "0") or 0)  # digits beyond 6 are dropped
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
    # Typed properties (lifecycle.md, "Inputs"); see ``typed_properties``.
    amount: float | None = None
    currency: str | None = None
    amount_reporting: float | None = None
    bounce_type: str | None = None
    override_state: str | None = None
    override_set_by: str | None = None
    campaign_id: str | None = None
    contract_end_date: dt.date | None = None
    scheduled_at: dt.datetime | None = None


def _stripped(value: Any) -> str | None:
    """A property as stripped text (non-strings as their JSON text); None when absent or blank."""
    text = _text(value)
    if text is None or not text.strip(WHITESPACE):
        return None
    return text.strip(WHITESPACE)


def _amount(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    text = value.strip(WHITESPACE) if isinstance(value, str) else str(value)
    if AMOUNT_RE.fullmatch(text) is None:  # also inf (1e400 as a JSON number)
        return None
    number = Decimal(text)
    if abs(number) >= AMOUNT_LIMIT:
        return None
    number = number.quantize(Decimal("0.000001"), ROUND_HALF_UP)
    return float(number) if abs(number) < AMOUNT_LIMIT else None


def _date_prefix(value: Any) -> dt.date | None:
    match = DATE_PREFIX_RE.match(_stripped(value) or "")
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month) or year < 1:
        return None
    return dt.date(year, month, day)


def typed_properties(properties: Any, rules: dict[str, Any], seeds: Seeds) -> dict[str, Any]:
    """The typed property columns of an activity (all None when properties is not an object)."""
    props = properties if isinstance(properties, dict) else {}
    amount = _amount(props.get("amount"))
    currency = _stripped(props.get("currency"))
    currency = currency.upper() if currency is not None else None
    reporting = str(rules["reporting_currency"]).upper()
    rate = seeds.fx_rates.get(currency or reporting)
    base = seeds.fx_rates.get(reporting)
    bounce_type = _stripped(props.get("bounce_type"))
    scheduled = _text(props.get("scheduled_at"))
    return {
        "amount": amount,
        "currency": currency,
        "amount_reporting": (
            amount * rate / base
            if amount is not None and rate is not None and base is not None
            else None
        ),
        "bounce_type": bounce_type.lower() if bounce_type is not None else None,
        "override_state": _stripped(props.get("state")),
        "override_set_by": _stripped(props.get("set_by")),
        "campaign_id": _stripped(props.get("campaign_id")),
        "contract_end_date": _date_prefix(props.get("contract_end")),
        "scheduled_at": parse_event_time(scheduled) if scheduled is not None else None,
    }


def canonical_event_type(obj: dict[str, Any], seeds: Seeds) -> str | None:
    """The record's canonical event type (directly or through an alias), else None."""
    type_text = (_text(obj.get("event_type")) or "").strip(WHITESPACE).lower()
    if type_text in seeds.canonical_types:
        return type_text
    return seeds.aliases.get(type_text)


def queue_event_reason(
    event_type: str, properties: Any, rules: dict[str, Any], seeds: Seeds
) -> str | None:
    """The quarantine reason of a queue action or a logged interaction, if any."""
    props = properties if isinstance(properties, dict) else {}

    def prop(name: str) -> str | None:
        value = props.get(name)
        text = value.strip(WHITESPACE) if isinstance(value, str) else None
        return text or None

    if event_type in seeds.queue_action_types and prop("queue_item_id") is None:
        return "missing queue_item_id"
    if event_type == "queue_item_snoozed" and (
        prop("until") is None or parse_event_time(prop("until")) is None
    ):
        return "missing or unparseable until"
    if event_type == "queue_item_escalated" and prop("to") is None:
        return "missing escalation to"
    if event_type != "interaction_logged":
        return None
    if (prop("direction") or "").lower() not in ("inbound", "outbound"):
        return "missing or invalid interaction direction"
    for name, allowed in (
        ("interaction_channel", "queue_interaction_channels"),
        ("outcome", "queue_interaction_outcomes"),
        ("initiated_by", "queue_interaction_initiators"),
    ):
        value = prop(name)
        if value is not None and value.lower() not in rules[allowed]:
            return f"invalid interaction {name}"
    return None


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
    event_type = canonical_event_type(obj, seeds)
    if event_type is None:
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
    typed = typed_properties(obj.get("properties"), rules, seeds)
    if event_type == "manual_override" and typed["override_state"] not in seeds.states:
        return "invalid manual_override state"
    reason = queue_event_reason(event_type, obj.get("properties"), rules, seeds)
    if reason is not None:
        return reason
    channel = _text(obj.get("channel"))
    channel = channel.strip(WHITESPACE).lower() if channel is not None else ""
    return Activity(
        key=key,
        email=email,
        event_type=event_type,
        channel=seeds.channel_group(channel) if channel else rules["unknown_channel"],
        event_at=event_at,
        properties=obj.get("properties"),
        company=obj.get("company"),
        industry=obj.get("industry"),
        **typed,
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
    other_opt_outs: Iterable[tuple[dt.datetime, str, str]] = (),
) -> dict[str, Any]:
    """The contact's dim_contacts row; ``other_opt_outs`` are its opt-outs that are not
    activities (contacts-sheet status, quarantined events): (at, reason, source)."""
    acts = sorted(activities, key=lambda activity: activity.event_at)
    weights = {name: float(value) for name, value in (rules["intent_weights"] or {}).items()}
    first, last = acts[0], acts[-1]

    lead_source = None
    for activity in acts:
        props = activity.properties
        if isinstance(props, dict):
            value = _clean_string(props.get("lead_source"))
            if value is not None:
                lead_source = seeds.channel_group(value.lower())
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
    lifecycle_fields, transitions = lifecycle(acts, rules, seeds, as_of)
    is_contactable = seeds.states[lifecycle_fields["lifecycle_state"]][1]
    suppressed = suppression(email, acts, other_opt_outs, lifecycle_fields, rules, seeds)
    reason = suppressed["reason"] if suppressed else None
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
        "nurture_track": (
            rules["opted_out_nurture_track"]
            if suppressed or not is_contactable
            else seeds.nurture_track[stage]
        ),
        "is_opted_out": reason in ("unsubscribed", "complained"),
        "is_email_deliverable": suppressed["is_email_deliverable"] if suppressed else True,
        "suppression_reason": reason,
        **lifecycle_fields,
        "transitions": transitions,
        "suppression": suppressed,
    }


# --------------------------------------------------------------------------- suppression


def is_opt_out(activity: Activity, rules: dict[str, Any]) -> bool:
    """An opt-out event type, or a person setting Unsubscribed."""
    return activity.event_type in (rules["opt_out_events"] or []) or (
        activity.event_type == "manual_override" and activity.override_state == "Unsubscribed"
    )


def is_hard_bounce(activity: Activity, rules: dict[str, Any], seeds: Seeds) -> bool:
    hard_types = {str(value).lower() for value in rules["hard_bounce_types"] or []}
    return seeds.has("hard_bounce", activity.event_type) and activity.bounce_type in hard_types


def suppression(
    email: str,
    acts: list[Activity],
    other_opt_outs: Iterable[tuple[dt.datetime, str, str]],
    lifecycle_fields: dict[str, Any] | None,
    rules: dict[str, Any],
    seeds: Seeds,
) -> dict[str, Any] | None:
    """The contact's rpt_suppression_list row, or None when it may receive marketing.

    Opt-outs (activities, plus the sheet and quarantine ones given) stand from the first
    one not followed by a resubscribe (a resubscribe at the same instant does not lift
    it); then a hard bounce (never lifted); then the Disqualified state.
    """
    opt_outs = [
        (
            a.event_at,
            "complained" if seeds.has("complaint", a.event_type) else "unsubscribed",
            "manual_override" if a.event_type == "manual_override" else "event",
        )
        for a in acts
        if is_opt_out(a, rules)
    ] + list(other_opt_outs)
    resubscribed = [a.event_at for a in acts if a.event_type in rules["resubscribe_events"]]
    last_resubscribe = max(resubscribed) if resubscribed else None
    standing = sorted(f for f in opt_outs if last_resubscribe is None or f[0] >= last_resubscribe)
    bounces = [a.event_at for a in acts if is_hard_bounce(a, rules, seeds)]
    state = lifecycle_fields["lifecycle_state"] if lifecycle_fields else None
    if standing:
        since, reason, source = standing[0]
    elif bounces:
        since, reason, source = min(bounces), "hard_bounce", "event"
    elif state == "Disqualified":
        assert lifecycle_fields is not None
        since, reason = lifecycle_fields["lifecycle_state_since"], "disqualified"
        source = "manual_override" if lifecycle_fields["is_manual_override"] else "lifecycle_rule"
    else:
        return None
    return {
        "contact_id": hashlib.md5(email.encode("utf-8")).hexdigest(),
        "email": email,
        "reason": reason,
        "source": source,
        "suppressed_since": since,
        "is_email_deliverable": not bounces,
        "is_email_only": reason == "hard_bounce" and state != "Disqualified",
    }


# --------------------------------------------------------------------------- lifecycle


@dataclass
class Spell:
    """A dormant spell: its start, its re-engagement attempts and when it is exhausted."""

    start: dt.datetime
    attempts: list[dt.datetime]  # the first outbound touch of each cooldown window, in order
    exhausted_at: dt.datetime | None


def dormant_spell(
    last_engagement_at: dt.datetime,
    touches: list[dt.datetime],
    until: dt.datetime,
    rules: dict[str, Any],
) -> Spell:
    """The spell after ``last_engagement_at``, counting outbound touches up to ``until``."""
    start = last_engagement_at + int(rules["dormant_after_days"]) * DAY
    window = int(rules["reengagement_cooldown_days"]) * DAY
    first_touch_of_window: dict[int, dt.datetime] = {}
    for touch in sorted(touches):
        if start <= touch <= until:
            first_touch_of_window.setdefault((touch - start) // window, touch)
    windows = sorted(first_touch_of_window)
    max_attempts = int(rules["reengagement_max_attempts"])
    exhausted_at = None
    if len(windows) >= max_attempts:
        exhausted_at = start + (windows[max_attempts - 1] + 1) * window
    return Spell(start, [first_touch_of_window[w] for w in windows], exhausted_at)


@dataclass
class LifecycleAt:
    """The state at an instant and what decided it."""

    state: str
    rule: str  # the first rule that held (override, opted_out, ..., exhausted, dormant, ...)
    override: Activity | None  # the active manual override, if any
    spell: Spell | None  # the dormant spell that exists at the instant, if any
    lifetime_revenue: float
    referrals: int


def lifecycle_at(
    acts: list[Activity], t: dt.datetime, rules: dict[str, Any], seeds: Seeds, as_of: dt.datetime
) -> LifecycleAt:
    """State at ``t`` from the activities with event_at <= t (``acts`` in event order).

    ``t`` may pass ``as_of`` by the future tolerance (an activity up to then is valid), but a
    dormant spell only exists once it started by ``as_of``, and only touches up to ``as_of``
    are re-engagement attempts.
    """
    past = [a for a in acts if a.event_at <= t]
    cut = min(t, as_of)
    resubscribe = set(rules["resubscribe_events"] or [])

    def count(signal: str) -> int:
        return sum(1 for a in past if seeds.has(signal, a.event_type))

    overrides = [a for a in past if a.event_type == "manual_override"]
    override = overrides[-1] if overrides else None
    if override is not None and any(
        a.event_at > override.event_at
        and (
            a.event_type in seeds.engagement_types
            or is_opt_out(a, rules)
            or a.event_type in resubscribe
        )
        for a in past
    ):
        override = None
    # An opt-out (an override to Unsubscribed included) holds until a later resubscribe.
    opt_outs = [a.event_at for a in past if is_opt_out(a, rules)]
    resubscribes = [a.event_at for a in past if a.event_type in resubscribe]
    opted_out = bool(opt_outs) and (not resubscribes or max(opt_outs) >= max(resubscribes))
    engagements = [a.event_at for a in past if a.event_type in seeds.engagement_types]
    spell = None
    if engagements:
        touches = [a.event_at for a in past if is_touch(a, seeds)]
        spell = dormant_spell(engagements[-1], touches, cut, rules)
        if cut < spell.start:
            spell = None
    exhausted = spell is not None and spell.exhausted_at is not None and spell.exhausted_at <= t
    revenue = sum(a.amount_reporting or 0.0 for a in past if seeds.has("revenue", a.event_type))
    referrals = count("referral")
    warm = (
        count("warm") > 0
        or count("open") >= int(rules["warm_min_opens"])
        or count("click") >= int(rules["warm_min_clicks"])
    )
    vip = revenue >= float(rules["vip_min_lifetime_revenue"]) or referrals >= int(
        rules["vip_min_referrals"]
    )
    ordered_rules = [  # (rule, holds, state): the first that holds wins
        ("override", override is not None, override.override_state if override else ""),
        ("opted_out", opted_out, "Unsubscribed"),
        ("vip", vip, "VIP"),
        ("alumni", count("alumni") > 0, "Alumni"),
        (
            "customer",
            any(a.event_type in (rules["customer_trigger_events"] or []) for a in past),
            "Customer",
        ),
        # a hard bounce disqualifies a non-client only: a client stays a client
        ("hard_bounce", any(is_hard_bounce(a, rules, seeds) for a in past), "Disqualified"),
        ("exhausted", exhausted, "Disqualified"),
        ("dormant", spell is not None, "Dormant"),
        ("hot", count("hot") > 0, "Hot"),
        ("warm", warm, "Warm"),
        ("engaged", count("open") + count("click") > 0, "Engaged"),
        ("cold", True, "Cold"),
    ]
    rule, _, state = next(entry for entry in ordered_rules if entry[1])
    return LifecycleAt(state, rule, override, spell, revenue, referrals)


def lifecycle_moments(
    acts: list[Activity], rules: dict[str, Any], seeds: Seeds, as_of: dt.datetime
) -> list[tuple[dt.datetime, bool]]:
    """(moment, is_virtual) in time order: event instants, spell starts and exhaustions."""
    real = {a.event_at for a in acts}
    engagements = sorted({a.event_at for a in acts if a.event_type in seeds.engagement_types})
    touches = [a.event_at for a in acts if is_touch(a, seeds)]
    virtual = set()
    for index, engaged_at in enumerate(engagements):
        following = engagements[index + 1] if index + 1 < len(engagements) else None
        ends = as_of if following is None else min(as_of, following)
        spell = dormant_spell(engaged_at, touches, ends, rules)
        for moment in (spell.start, spell.exhausted_at):
            if moment is not None and moment <= as_of and (following is None or moment < following):
                virtual.add(moment)
    moments = [(moment, False) for moment in real] + [(m, True) for m in virtual - real]
    return sorted(moments)


def lifecycle(
    activities: list[Activity], rules: dict[str, Any], seeds: Seeds, as_of: dt.datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The lifecycle columns of dim_contacts and the contact's transitions.

    Replayed over all the contact's activities (like the stages, including those inside the
    future tolerance) and the time-based moments up to as_of; the current state is the state
    at the last moment.
    """
    acts = sorted(activities, key=lambda a: (a.event_at, a.key))
    transitions: list[dict[str, Any]] = []
    previous = None
    for moment, is_virtual in lifecycle_moments(acts, rules, seeds, as_of):
        now = lifecycle_at(acts, moment, rules, seeds, as_of)
        if now.state != previous:
            if now.override is not None:
                trigger, event_id = "manual_override", now.override.key
            elif is_virtual:
                trigger, event_id = "inactivity", None
            else:
                last = [a for a in acts if a.event_at == moment][-1]
                trigger, event_id = last.event_type, last.key
            transitions.append(
                {
                    "from_state": previous,
                    "to_state": now.state,
                    "transitioned_at": moment,
                    "trigger": trigger,
                    "trigger_activity_id": event_id,
                    "is_manual_override": now.override is not None,
                    "set_by": now.override.override_set_by if now.override else None,
                    "transition_number": len(transitions) + 1,
                }
            )
        previous = now.state
    final = lifecycle_at(acts, max(as_of, acts[-1].event_at), rules, seeds, as_of)
    assert not transitions or transitions[-1]["to_state"] == final.state
    touches = [a.event_at for a in acts if is_touch(a, seeds)]
    signals = [a.event_at for a in acts if seeds.has("signal", a.event_type)]
    funnel = seeds.states[final.state][0]
    fresh_signal = bool(signals) and signals[-1] >= as_of - int(rules["signal_fresh_days"]) * DAY
    if final.state == "Cold" and fresh_signal:
        funnel = "Signal"
    spell = final.spell
    fields = {
        "lifecycle_state": final.state,
        "lifecycle_state_since": transitions[-1]["transitioned_at"] if transitions else None,
        "lifecycle_funnel": funnel,
        "is_manual_override": final.override is not None,
        "lifetime_revenue": final.lifetime_revenue,
        "referrals_given": final.referrals,
        "last_outbound_touch_at": touches[-1] if touches else None,
        "last_signal_at": signals[-1] if signals else None,
        "dormant_since": spell.start if final.rule in ("dormant", "exhausted") else None,
        "reengagement_attempts": len(spell.attempts) if spell else 0,
        "last_reengagement_attempt_at": spell.attempts[-1] if spell and spell.attempts else None,
        "state_as_of": as_of,
    }
    return fields, transitions


# --------------------------------------------------------------------------- queue


def queue_items(
    contact: dict[str, Any],
    activities: list[Activity],
    rules: dict[str, Any],
    seeds: Seeds,
    as_of: dt.datetime,
) -> list[dict[str, Any]]:
    """The contact's orchestrator-queue items (before assignment)."""
    acts = sorted((a for a in activities if a.event_at <= as_of), key=lambda a: (a.event_at, a.key))
    lookback = as_of - int(rules["queue_lookback_days"]) * DAY
    touches = [a.event_at for a in acts if is_touch(a, seeds)]
    state = contact["lifecycle_state"]
    detected: dict[str, dt.datetime] = {}

    # a reply (complaint) waits from the first one at or after the last touch (override)
    overrides = [a.event_at for a in acts if a.event_type == "manual_override"]
    for queue_type, signal, answers in (
        ("reply_waiting", "reply", touches),
        ("complaint", "complaint", overrides),
    ):
        waiting = [
            a.event_at
            for a in acts
            if seeds.has(signal, a.event_type) and not any(t > a.event_at for t in answers)
        ]
        if waiting and waiting[-1] >= lookback:
            detected[queue_type] = waiting[0]
    if state == "VIP":
        untouched = contact["last_outbound_touch_at"] or contact["lifecycle_state_since"]
        due = untouched + int(rules["queue_vip_untouched_days"]) * DAY
        if as_of >= due:
            detected["vip_untouched"] = due
    if state == "Hot":
        due = contact["last_activity_at"] + int(rules["queue_hot_idle_days"]) * DAY
        if as_of >= due:
            detected["hot_idle"] = due
    sql_at = contact["became_sql_at"]
    if (
        contact["funnel_stage"] == "SQL"
        and sql_at >= lookback
        and not any(t >= sql_at for t in touches)
    ):
        detected["sql_handover"] = sql_at
    customer_at = contact["became_customer_at"]
    if (
        state == "Customer"
        and customer_at is not None
        and customer_at >= as_of - int(rules["queue_onboarding_period_days"]) * DAY
    ):
        onboarding = [
            a.event_at
            for a in acts
            if seeds.has("onboarding", a.event_type) and a.event_at >= customer_at
        ]
        due = (onboarding[-1] if onboarding else customer_at) + int(
            rules["queue_onboarding_idle_days"]
        ) * DAY
        if as_of >= due:
            detected["onboarding_stalled"] = due
    if state == "Dormant":
        # a Dormant set by a person has no spell: the item counts from the state's start
        since = contact["dormant_since"] or contact["lifecycle_state_since"]
        last_attempt = contact["last_reengagement_attempt_at"]
        if last_attempt is None:
            detected["reengagement"] = since
        else:
            next_attempt = last_attempt + int(rules["reengagement_cooldown_days"]) * DAY
            if as_of >= next_attempt:
                detected["reengagement"] = max(since, next_attempt)
    if not seeds.states[state][1]:  # Unsubscribed / Disqualified: only a complaint
        detected = {k: v for k, v in detected.items() if k == "complaint"}
    if contact["suppression_reason"] is not None:  # no marketing to a suppressed contact
        detected = {k: v for k, v in detected.items() if k not in seeds.marketing_queue_types}

    items = []
    for queue_type, rule_holds_at in detected.items():
        # events in the future tolerance count, but nothing is detected after as_of
        detected_at = min(rule_holds_at, as_of)
        play = seeds.playbook[queue_type]
        items.append(
            {
                "queue_item_id": queue_reference.item_id(
                    contact["contact_id"], queue_type, rule_holds_at
                ),
                "contact_id": contact["contact_id"],
                "email": contact["email"],
                "queue_type": queue_type,
                "priority": play["priority"],
                "owner_department": play["owner_department"],
                "started_at": rule_holds_at,
                "detected_at": detected_at,
                "due_in_days": play["due_in_days"],
                "lifecycle_state": state,
                "funnel_stage": contact["funnel_stage"],
            }
        )
    return items


def is_touch(activity: Activity, seeds: Seeds) -> bool:
    """An outbound touch: its type is one, and it does not say it is inbound."""
    props = activity.properties if isinstance(activity.properties, dict) else {}
    direction = props.get("direction")
    inbound = isinstance(direction, str) and direction.strip(WHITESPACE).lower() == "inbound"
    return activity.event_type in seeds.outbound_types and not inbound


def first_run_queue(
    items: list[dict[str, Any]], rules: dict[str, Any], seeds: Seeds, as_of: dt.datetime
) -> dict[str, dict[str, Any]]:
    """rpt_orchestrator_queue of a first build, by item id (no actions, no sheet owners)."""
    items = queue_reference.cap_reengagement(items, rules, as_of)
    orchestrators = [
        {"orchestrator": name, "department": dept, "is_active": True}
        for dept, names in seeds.orchestrators.items()
        for name in names
    ]
    state = queue_reference.assign(items, {}, orchestrators, {}, [], as_of)
    rows = queue_reference.queue_rows(state, [], int(rules["queue_daily_capacity"]), as_of)
    by_id = {item["queue_item_id"]: item for item in items}
    return {key: {**by_id[key], **row} for key, row in rows.items()}


def nurture_row(
    contact: dict[str, Any], rules: dict[str, Any], seeds: Seeds, as_of: dt.datetime
) -> dict[str, Any] | None:
    """The contact's nurture-list row when a touch is due, else None.

    nurture_track is already the opted-out track for a state that is not contactable.
    """
    track = contact["nurture_track"]
    cadence = seeds.cadence_days.get(track)
    if track == rules["opted_out_nurture_track"] or cadence is None:
        return None
    last_touch = contact["last_outbound_touch_at"]
    due_at = last_touch + cadence * DAY if last_touch else contact["became_lead_at"]
    if due_at > as_of:
        return None
    return {
        "email": contact["email"],
        "nurture_track": track,
        "cadence_days": cadence,
        "lifecycle_state": contact["lifecycle_state"],
        "due_at": due_at,
        "days_overdue": (as_of - due_at) // DAY,
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
    # the distinct bad lines: raw.load_errors stores an identical bad line once
    load_error_lines: set[bytes] = field(default_factory=set)
    duplicates: int = 0
    landed: int = 0
    quarantined: Counter = field(default_factory=Counter)
    quarantined_keys: dict[str, str] = field(default_factory=dict)
    activities_by_key: dict[str, Activity] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    rpt_funnel: list[dict[str, Any]] = field(default_factory=list)
    rpt_channel_effectiveness: list[dict[str, Any]] = field(default_factory=list)
    rpt_intent_by_source: list[dict[str, Any]] = field(default_factory=list)
    # (email, transition_number) -> transition
    transitions: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    # (email, queue_type) -> queue item
    queue: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # the queue items detected at as_of (before the re-engagement cap and assignment)
    queue_detected: list[dict[str, Any]] = field(default_factory=list)
    nurture: dict[str, dict[str, Any]] = field(default_factory=dict)  # email -> row
    suppression: dict[str, dict[str, Any]] = field(default_factory=dict)  # email -> row
    sheet_imports: int = 0  # contact_imported activities (they are not raw events)
    queue_actions: int = 0  # valid queue actions (not activities, not quarantined)

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


def sheet_activity(row: dict[str, Any], rules: dict[str, Any]) -> Activity:
    """A contacts-sheet row as the contact_imported activity it becomes (at date added, else
    at its load time; on its channel of origin, which is also its lead source)."""
    email = normalise_email(row["email"])
    assert email is not None
    source = _clean_string(row.get("channel_of_origin"))
    source = source.lower() if source else None
    return Activity(
        key="contact_imported:" + hashlib.md5(email.encode("utf-8")).hexdigest(),
        email=email,
        event_type="contact_imported",
        channel=source or rules["unknown_channel"],
        event_at=row.get("added_at") or row["loaded_at"],
        properties={"lead_source": source},
        company=row.get("company"),
        industry=row.get("industry"),
    )


def compute(
    paths: Iterable[Path | str],
    rules: dict[str, Any],
    seeds_dir: Path,
    loaded_at: dict[str, dt.datetime] | None = None,
    sheet_rows: Iterable[dict[str, Any]] = (),
) -> Expected:
    """Everything the marts should contain after loading ``paths`` in order.

    ``loaded_at`` is each landed event key's load time (an opt-out quarantined for its
    timestamp counts from then); ``sheet_rows`` are the valid contacts-sheet rows (email,
    channel_of_origin, lead_status, company, industry, added_at, loaded_at).
    """
    if rules.get("as_of") is None:
        raise ValueError("the reference needs an explicit as_of")
    as_of = parse_as_of(rules["as_of"])
    seeds = Seeds.load(Path(seeds_dir))
    expected = Expected()
    seen: set[str] = set()
    by_contact: dict[str, list[Activity]] = {}
    other_opt_outs: dict[str, list[tuple[dt.datetime, str, str]]] = {}
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
                expected.load_error_lines.add(line)
                continue
            if not isinstance(obj, dict):
                expected.load_errors += 1
                expected.load_error_lines.add(line)
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
                event_type = canonical_event_type(obj, seeds)
                if result in TIMESTAMP_REASONS and event_type in rules["opt_out_events"]:
                    assert loaded_at is not None, "an opt-out was quarantined: pass loaded_at"
                    email = normalise_email(obj.get("email"))
                    assert email is not None
                    reason = "complained" if seeds.has("complaint", event_type) else "unsubscribed"
                    other_opt_outs.setdefault(email, []).append(
                        (loaded_at[key], reason, "quarantined_event")
                    )
                continue
            if result.event_type in seeds.queue_action_types:
                expected.queue_actions += 1  # acts on the queue, not on the contact
                continue
            expected.activities_by_key[key] = result
            by_contact.setdefault(result.email, []).append(result)
    sheet_statuses = {str(status).lower() for status in rules["sheet_opt_out_statuses"] or []}
    for row in sheet_rows:
        activity = sheet_activity(row, rules)
        expected.activities_by_key[activity.key] = activity
        expected.sheet_imports += 1
        by_contact.setdefault(activity.email, []).append(activity)
        if (_clean_string(row.get("lead_status")) or "").lower() in sheet_statuses:
            other_opt_outs.setdefault(activity.email, []).append(
                (row["loaded_at"], "unsubscribed", "contacts_sheet")
            )
    contacts = [
        contact_row(email, acts, rules, seeds, as_of, other_opt_outs.get(email, ()))
        for email, acts in sorted(by_contact.items())
    ]
    expected.contacts = {contact["email"]: contact for contact in contacts}
    for email, facts in other_opt_outs.items():  # known only from a quarantined opt-out
        if email not in expected.contacts:
            row = suppression(email, [], facts, None, rules, seeds)
            assert row is not None
            expected.suppression[email] = row
    for contact in contacts:
        if contact["suppression"] is not None:
            expected.suppression[contact["email"]] = contact["suppression"]
    items = []
    for contact in contacts:
        for transition in contact["transitions"]:
            expected.transitions[contact["email"], transition["transition_number"]] = transition
        items += queue_items(contact, by_contact[contact["email"]], rules, seeds, as_of)
        nurture = nurture_row(contact, rules, seeds, as_of)
        if nurture is not None:
            expected.nurture[contact["email"]] = nurture
    expected.queue_detected = items
    queue = first_run_queue(items, rules, seeds, as_of)
    expected.queue = {(item["email"], item["queue_type"]): item for item in queue.values()}
    expected.rpt_funnel = rpt_funnel(contacts, seeds)
    expected.rpt_channel_effectiveness = rpt_channel_effectiveness(contacts, seeds)
    expected.rpt_intent_by_source = rpt_intent_by_source(contacts)
    return expected
