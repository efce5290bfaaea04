"""Resend and Segment inputs end to end: ``funnel-load`` -> ``dbt build`` -> the marts.

On DuckDB and on PostgreSQL, one warehouse gets:

* both real Resend files of ``../shared/data/resend-webhooks/`` (no envelope: the key is
  `resend:sha256:` and the sha256 of the canonical JSON);
* Segment ``track`` / ``identify`` calls written here like analytics.js and the server
  libraries send them (email in ``context.traits``, ``traits`` or ``properties``, UTM
  ``context.campaign``, revenue and currency, an unknown event, a call without an email);
* Resend bodies in signed Svix envelopes (``CRM_FUNNEL_WEBHOOK_SECRET`` set for the
  loader), with tags as an object and as ``[{name, value}]``, a ``Permanent`` bounce and
  complaints;
* provider retries: the same envelope (new timestamp and signature) and the same Segment
  ``messageId`` again;
* fields real senders leave empty: a blank ``context.traits.email`` beside
  ``traits.email``, an empty UTM medium and ``properties.campaign_id`` beside the UTM name
  and ``properties.channel``, an Analytics.NET timestamp with 7 fraction digits (.NET
  ticks) and a float revenue with binary noise (0.1 + 0.2).

The expected activities and quarantined events are computed here from the input records
with this file's own reading of the mapping table in ``models/overview.md`` ("The inputs
and how each maps to an activity"): its own event-name dictionary, never the seeds. The
lifecycle checks follow the precedence of ``../shared/docs/PRODUCT.md`` (Unsubscribed
before Disqualified) and convert revenue with ``seeds/fx_rates.csv``; channels and lead
sources are grouped by ``seeds/channel_groups.csv``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import json
import os
import re
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from conftest import REPO_ROOT, ProfileRef, fetch, parse_load_summary, run_dbt, run_funnel_load

RESEND_FIXTURES = REPO_ROOT.parent / "shared" / "data" / "resend-webhooks"
RESEND_FILES = ("captured_payloads.ndjson", "documented_examples.ndjson")
SECRET_ENV = "CRM_FUNNEL_WEBHOOK_SECRET"
AS_OF = "2026-11-22T00:00:00Z"
REPORTING_CURRENCY = "EUR"  # dbt_project.yml var reporting_currency
UNKNOWN_CHANNEL = "unknown"  # dbt_project.yml var unknown_channel
# an amount: up to 15 integer digits and 20 decimals, held rounded to 6 decimals
AMOUNT_SHAPE = re.compile(r"[+-]?[0-9]{1,15}([.][0-9]{1,20})?")
AMOUNT_SCALE = Decimal("0.000001")
# the marts this test reads and their ancestors; only the data tests of those models
SELECT = (
    "--select",
    "+fct_activities",
    "+dim_contacts",
    "+fct_quarantined_events",
    "--indirect-selection",
    "cautious",
)

# The event names of the mapping table, written out here (not read from the seeds).
RESEND_TYPES = {
    "email.sent": "email_sent",
    "email.delivered": "email_delivered",
    "email.delivery_delayed": "email_delivery_delayed",
    "email.opened": "email_opened",
    "email.clicked": "email_clicked",
    "email.bounced": "email_bounced",
    "email.complained": "email_complained",
    "email.failed": "email_failed",
}
SEGMENT_EVENTS = {
    "email opened": "email_opened",
    "email link clicked": "email_clicked",
    "signed up": "signup",
    "trial started": "signup",
    "order completed": "purchase",
    "identify": "identify",
}

COLUMNS = (
    "email",
    "event_type",
    "channel",
    "lead_source",
    "campaign_id",
    "sequence_step",
    "amount",
    "currency",
    "bounce_type",
    "event_at",
)


# --------------------------------------------------------------------------- helpers


def canonical_key(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def utc(text: str) -> datetime:
    """An ISO-8601 timestamp as a naive UTC datetime (how the marts hold it).

    Fraction digits beyond the 6th (a microsecond) are dropped, not rounded.
    """
    text = re.sub(r"([.][0-9]{6})[0-9]+", r"\1", text.strip())
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def text_or_none(value: Any) -> str | None:
    """A JSON value as the text a rule reads: strings trimmed ('' is none), numbers as is."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None


def lower_or_none(value: Any) -> str | None:
    text = text_or_none(value) if isinstance(value, str) else None
    return text.lower() if text else None


with (REPO_ROOT / "seeds" / "channel_groups.csv").open(newline="") as fh:
    CHANNEL_GROUPS = {row["raw_channel"]: row["channel_group"] for row in csv.DictReader(fh)}


def channel_group(value: str | None) -> str | None:
    """A channel or lead source as the marts name it (seeds/channel_groups.csv)."""
    return None if value is None else CHANNEL_GROUPS.get(value, value)


def step(value: Any) -> int | None:
    text = text_or_none(value)
    return int(text) if text is not None and text.isdigit() else None


def first_text(*values: Any) -> str | None:
    """The first value that is non-blank text: an empty or blank one falls through."""
    return next((t for t in (text_or_none(v) for v in values) if t is not None), None)


def amount_or_none(value: Any) -> Decimal | None:
    """A revenue as the mart holds it: decimal text or a JSON number, rounded to 6 places."""
    text = text_or_none(value)
    if text is None or not AMOUNT_SHAPE.fullmatch(text):
        return None
    return Decimal(text).quantize(AMOUNT_SCALE, rounding=ROUND_HALF_UP).normalize()


def normalise(row: dict[str, Any]) -> dict[str, Any]:
    """Make a mart row comparable: naive UTC datetimes, Decimal amounts, int steps."""
    out = dict(row)
    if isinstance(out["event_at"], datetime) and out["event_at"].tzinfo is not None:
        out["event_at"] = out["event_at"].astimezone(timezone.utc).replace(tzinfo=None)
    if out["amount"] is not None:
        out["amount"] = Decimal(str(out["amount"])).normalize()
    if out["sequence_step"] is not None:
        out["sequence_step"] = int(out["sequence_step"])
    return out


# --------------------------------------------------------------------------- expectations


def resend_activity(body: dict[str, Any]) -> dict[str, Any]:
    """What a Resend webhook body becomes (overview.md, column 'Resend webhook')."""
    data = body["data"]
    to = data["to"]
    first = to[0] if isinstance(to, list) else to
    if "<" in first and ">" in first:
        first = first.split("<", 1)[1].split(">", 1)[0]
    tags = data.get("tags")
    if isinstance(tags, list):
        tag = {t.get("name"): t.get("value") for t in reversed(tags) if isinstance(t, dict)}
    else:
        tag = tags or {}
    bounce = data.get("bounce") or {}
    return {
        "email": first.strip().lower(),
        "event_type": RESEND_TYPES[body["type"]],
        "channel": "email",
        "lead_source": None,
        "campaign_id": text_or_none(tag.get("campaign_id"))
        or text_or_none(data.get("broadcast_id")),
        "sequence_step": step(tag.get("sequence_step")),
        "amount": None,
        "currency": None,
        "bounce_type": lower_or_none(bounce.get("type")),
        "event_at": utc(body["created_at"]),
    }


def segment_outcome(call: dict[str, Any]) -> tuple[str, Any]:
    """('activity', row) or ('quarantined', (reason, event_type_input)) for a Segment call."""
    context = call.get("context") or {}
    traits = call.get("traits") or {}
    properties = call.get("properties") or {}
    campaign = context.get("campaign") or {}
    emails = [
        (context.get("traits") or {}).get("email"),
        traits.get("email"),
        properties.get("email"),
    ]
    email = first_text(*(v for v in emails if isinstance(v, str)))
    name = "identify" if call["type"].lower() == "identify" else call["event"]
    name = name.strip().lower()
    if email is None:
        return "quarantined", ("missing email", name)
    if name not in SEGMENT_EVENTS:
        return "quarantined", ("unknown event_type", name)
    amount = first_text(*(properties.get(k) for k in ("revenue", "value", "total")))
    currency = text_or_none(properties.get("currency"))
    return "activity", {
        "email": email.lower(),
        "event_type": SEGMENT_EVENTS[name],
        "channel": channel_group(
            lower_or_none(campaign.get("medium"))
            or lower_or_none(properties.get("channel"))
            or UNKNOWN_CHANNEL
        ),
        "lead_source": channel_group(lower_or_none(campaign.get("source"))),
        "campaign_id": first_text(properties.get("campaign_id"), campaign.get("name")),
        "sequence_step": step(properties.get("sequence_step")),
        "amount": amount_or_none(amount),
        "currency": currency.upper() if currency else None,
        "bounce_type": None,
        "event_at": utc(first_text(call.get("timestamp"), call.get("originalTimestamp")) or ""),
    }


# --------------------------------------------------------------------------- inputs


def segment_calls() -> list[dict[str, Any]]:
    """track / identify calls as analytics.js and the server libraries send them."""
    browser = {
        "library": {"name": "analytics.js", "version": "next-1.70.0"},
        "page": {"path": "/pricing", "url": "https://acme.example/pricing?utm_source=linkedin"},
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
        "locale": "en-GB",
    }
    utm = {"source": "LinkedIn", "medium": "Paid_Social", "name": "spring_launch"}
    common = {"integrations": {}, "version": 2}
    ana = {"email": "  Ana.Lopez@Example.com ", "company": {"name": "Acme GmbH"}}
    return [
        {  # identify: email in traits (and context.traits), UTM campaign
            "type": "identify",
            "messageId": "ajs-next-1772446500000-a1",
            "anonymousId": "5f0c1a3e-9d2b-4c1a-8e3f-2b9a7d6c5e41",
            "userId": "usr_1042",
            "traits": {"email": "ana.lopez@example.com", "name": "Ana Lopez", "plan": "trial"},
            "context": {**browser, "campaign": utm, "traits": ana},
            "timestamp": "2026-03-02T10:15:00.000Z",
            "sentAt": "2026-03-02T10:15:01.120Z",
            **common,
        },
        {
            "type": "track",
            "event": "Signed Up",
            "messageId": "ajs-next-1772446560000-a2",
            "userId": "usr_1042",
            "properties": {"plan": "trial"},
            "context": {**browser, "campaign": utm, "traits": ana},
            "timestamp": "2026-03-02T10:16:00.000Z",
            "sentAt": "2026-03-02T10:16:00.400Z",
            **common,
        },
        {  # from the email tool's Segment destination: campaign and step in properties
            "type": "track",
            "event": "Email Opened",
            "messageId": "srv-5b3a1e2c-0001",
            "userId": "usr_1042",
            "properties": {
                "email_subject": "Your trial is ready",
                "campaign_id": "nurture_q3",
                "sequence_step": 2,
            },
            "context": {"library": {"name": "analytics-node", "version": "1.3.0"}, "traits": ana},
            "timestamp": "2026-04-10T08:00:00+02:00",
            **common,
        },
        {
            "type": "track",
            "event": "Email Link Clicked",
            "messageId": "srv-5b3a1e2c-0002",
            "userId": "usr_1042",
            "properties": {
                "link_url": "https://acme.example/pricing",
                "campaign_id": "nurture_q3",
                "sequence_step": "3",
            },
            "context": {"campaign": {"source": "resend", "medium": "email"}, "traits": ana},
            "originalTimestamp": "2026-04-10T09:30:00.000Z",  # no timestamp
            **common,
        },
        {  # Segment's ecommerce spec: revenue + currency
            "type": "track",
            "event": "Order Completed",
            "messageId": "srv-order-7001",
            "userId": "usr_1042",
            "properties": {
                "order_id": "7001",
                "revenue": 249.5,
                "currency": "usd",
                "products": [{"sku": "PRO-1", "price": 249.5, "quantity": 1}],
            },
            "context": {"traits": ana},
            "timestamp": "2026-05-20T14:00:00.000Z",
            **common,
        },
        {  # a second order, in GBP, through properties.total
            "type": "track",
            "event": "Order Completed",
            "messageId": "srv-order-7002",
            "userId": "usr_1042",
            "properties": {"order_id": "7002", "total": "80.25", "currency": "GBP"},
            "context": {"traits": ana},
            "timestamp": "2026-06-01T09:00:00.000Z",
            **common,
        },
        {  # email in properties, channel from properties.channel (no medium), utm source
            "type": "track",
            "event": "Trial Started",
            "messageId": "ajs-next-1772500000000-b1",
            "anonymousId": "0c9e7a55-3b61-4e0f-a0a1-9d1c2b3e4f50",
            "properties": {"email": "Ben@Northwind.io", "channel": "Organic"},
            "context": {**browser, "campaign": {"source": "google", "name": "brand_search"}},
            "timestamp": "2026-07-15T12:00:00.000Z",
            **common,
        },
        {  # no campaign at all: channel unknown
            "type": "track",
            "event": "Email Opened",
            "messageId": "ajs-next-1772600000000-b2",
            "userId": "usr_2001",
            "properties": {},
            "context": {"traits": {"email": "ben@northwind.io"}},
            "timestamp": "2026-07-16T07:45:10.250Z",
            **common,
        },
        {  # identify after a form left the email empty: context.traits.email is ""
            "type": "identify",
            "messageId": "ajs-next-1772900000000-e1",
            "userId": "usr_3001",
            "traits": {"email": "Ivy.Chen@Wayne.io", "name": "Ivy Chen"},
            "context": {**browser, "traits": {"email": "", "name": "Ivy Chen"}},
            "timestamp": "2026-07-18T09:00:00.000Z",
            **common,
        },
        {  # empty UTM medium and campaign_id: channel and campaign fall through
            "type": "track",
            "event": "Signed Up",
            "messageId": "ajs-next-1772900000000-e2",
            "userId": "usr_3001",
            "properties": {"campaign_id": "", "channel": " Referral "},
            "context": {
                **browser,
                "campaign": {"source": "partner_blog", "medium": "", "name": "winter_promo"},
                "traits": {"email": "ivy.chen@wayne.io"},
            },
            "timestamp": "2026-07-18T09:05:00.000Z",
            **common,
        },
        {  # Analytics.NET: DateTimeOffset "o" format, 7 fraction digits (ticks)
            "type": "track",
            "event": "Email Opened",
            "messageId": "net-6f1d2c3b-0001",
            "userId": "usr_3001",
            "properties": {"campaign_id": "winter_promo", "sequence_step": 1},
            "context": {
                "library": {"name": "Analytics.NET", "version": "3.8.1"},
                "traits": {"email": "ivy.chen@wayne.io"},
            },
            "timestamp": "2026-07-20T15:45:12.9999999+02:00",
            **common,
        },
        {  # a double computed by the sender: 0.1 + 0.2 = 0.30000000000000004
            "type": "track",
            "event": "Order Completed",
            "messageId": "net-6f1d2c3b-0002",
            "userId": "usr_3001",
            "properties": {"order_id": "7101", "revenue": 0.1 + 0.2, "currency": "USD"},
            "context": {
                "library": {"name": "Analytics.NET", "version": "3.8.1"},
                "traits": {"email": "ivy.chen@wayne.io"},
            },
            "timestamp": "2026-07-21T10:00:00.0000001Z",
            **common,
        },
        {  # an event name no seed knows -> quarantined
            "type": "track",
            "event": "Careers Page Viewed",
            "messageId": "ajs-next-1772700000000-c1",
            "userId": "usr_1042",
            "properties": {"path": "/careers"},
            "context": {**browser, "traits": ana},
            "timestamp": "2026-08-01T10:00:00.000Z",
            **common,
        },
        {  # anonymous visitor, no email anywhere -> quarantined
            "type": "track",
            "event": "Email Opened",
            "messageId": "ajs-next-1772800000000-d1",
            "anonymousId": "7d2f1c3b-5a4e-4f6d-8c9b-0a1b2c3d4e5f",
            "properties": {"campaign_id": "nurture_q3"},
            "context": {**browser, "traits": {}},
            "timestamp": "2026-08-02T10:00:00.000Z",
            **common,
        },
    ]


def resend_bodies() -> list[tuple[str, dict[str, Any]]]:
    """(svix-id, Resend webhook body) pairs for the signed envelopes."""

    def body(kind: str, at: str, to: Any, **data: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "created_at": at,
            "data": {
                "created_at": at,
                "email_id": f"em_{hashlib.sha256(at.encode()).hexdigest()[:12]}",
                "from": "Acme <hello@acme.example>",
                "to": to,
                "subject": "Join our autumn webinar",
                **data,
            },
        }

    carla = ["Carla Díaz <Carla.Diaz@Globex.com>", "team@globex.com"]
    as_object = {"campaign_id": "fall_webinar", "sequence_step": "1"}
    as_array = [
        {"name": "category", "value": "nurture"},
        {"name": "campaign_id", "value": "fall_webinar"},
        {"name": "sequence_step", "value": "2"},
    ]
    return [
        ("msg_2pKq01", body("email.sent", "2026-10-01T09:00:00.000Z", carla, tags=as_object)),
        ("msg_2pKq02", body("email.opened", "2026-10-01T11:20:05.120Z", carla, tags=as_array)),
        (
            "msg_2pKq03",
            body(
                "email.clicked",
                "2026-10-01T11:21:00.000Z",
                carla,
                broadcast_id="bc_ignored_when_tagged",
                tags=as_array,
                click={"ipAddress": "203.0.113.9", "link": "https://acme.example/webinar"},
            ),
        ),
        (
            "msg_2pKq04",
            body(
                "email.delivered",
                "2026-10-02T08:00:00.000Z",
                ["gina@hooli.com"],
                broadcast_id="bc_7f3e2d1c",
            ),
        ),
        (
            "msg_2pKq05",
            body(
                "email.bounced",
                "2026-10-03T08:00:00.000Z",
                ["Dan Brown <dan@initech.io>"],
                bounce={"type": "Permanent", "subType": "General", "message": "550 5.1.1"},
                tags=[{"name": "campaign_id", "value": "fall_webinar"}],
            ),
        ),
        (
            "msg_2pKq06",
            body("email.complained", "2026-10-04T08:00:00.000Z", ["eve@hooli.com"]),
        ),
        (  # bounced permanently, then complained: Unsubscribed has precedence
            "msg_2pKq07",
            body(
                "email.bounced",
                "2026-10-05T08:00:00.000Z",
                ["frank@umbrella.io"],
                bounce={"type": "Permanent", "subType": "Suppressed"},
            ),
        ),
        (
            "msg_2pKq08",
            body("email.complained", "2026-10-06T08:00:00.000Z", ["Frank <Frank@Umbrella.io>"]),
        ),
        (  # a transient bounce is not a hard bounce
            "msg_2pKq09",
            body(
                "email.bounced",
                "2026-10-07T08:00:00.000Z",
                ["hank@soylent.io"],
                bounce={"type": "Transient", "subType": "MailboxFull"},
            ),
        ),
    ]


def sign(key: bytes, message_id: str, timestamp: int, body: str) -> str:
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def envelope(key: bytes, message_id: str, body: str, timestamp: int) -> str:
    headers = {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": sign(key, message_id, timestamp, body),
    }
    return json.dumps({"headers": headers, "body": body, "received_at": iso(timestamp + 1)})


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def fx_rates() -> dict[str, Decimal]:
    with (REPO_ROOT / "seeds" / "fx_rates.csv").open(newline="") as fh:
        return {row["currency"]: Decimal(row["rate_to_base"]) for row in csv.DictReader(fh)}


# --------------------------------------------------------------------------- the test


def test_resend_and_segment_become_activities(
    tmp_path: Path, warehouse_profile: ProfileRef
) -> None:
    ref = warehouse_profile
    key = os.urandom(32)
    secret = "whsec_" + base64.b64encode(key).decode()

    # ---- inputs
    resend_files = [RESEND_FIXTURES / name for name in RESEND_FILES]
    resend_plain = [
        json.loads(line)
        for path in resend_files
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    ]
    calls = segment_calls()
    segment_file = write_lines(tmp_path / "segment.ndjson", [json.dumps(c) for c in calls])
    retried_call = {**calls[4], "sentAt": "2026-05-20T14:00:31.000Z"}  # same messageId
    segment_retry = write_lines(tmp_path / "segment-retry.ndjson", [json.dumps(retried_call)])

    signed_bodies = [(mid, json.dumps(b, ensure_ascii=False)) for mid, b in resend_bodies()]
    lines = [
        envelope(key, mid, text, epoch(json.loads(text)["created_at"]) + 2)
        for mid, text in signed_bodies
    ]
    # Svix retries msg_2pKq02 a minute later: same id and body, new timestamp and signature
    retry_id, retry_body = signed_bodies[1]
    lines.append(
        envelope(key, retry_id, retry_body, epoch(json.loads(retry_body)["created_at"]) + 62)
    )
    spool = write_lines(tmp_path / "resend-spool.ndjson", lines)

    # ---- load
    env = {**os.environ, SECRET_ENV: secret}
    files = [*resend_files, segment_file, spool, segment_retry]
    proc = run_funnel_load(*ref.cli_args(), "--quiet", *files, env=env)
    assert proc.returncode == 0, proc.stderr
    summaries = [parse_load_summary(line) for line in proc.stdout.splitlines()]
    assert [(s["read"], s["new"], s["dup"], s["err"]) for s in summaries] == [
        (8, 8, 0, 0),
        (7, 7, 0, 0),
        (len(calls), len(calls), 0, 0),
        (len(lines), len(signed_bodies), 1, 0),
        (1, 0, 1, 0),
    ]

    # ---- build
    run_dbt(ref, "build", *SELECT, work_dir=tmp_path, dbt_vars={"as_of": AS_OF})

    # ---- expected, from the inputs
    expected: dict[str, dict[str, Any]] = {}
    for obj in resend_plain:
        expected["resend:sha256:" + canonical_key(obj)] = resend_activity(obj)
    for mid, text in signed_bodies:
        expected[f"svix:id:{mid}"] = resend_activity(json.loads(text))
    expected_quarantine: dict[str, tuple[str, str]] = {}
    for call in calls:
        outcome, value = segment_outcome(call)
        target = expected if outcome == "activity" else expected_quarantine
        target[f"segment:id:{call['messageId']}"] = value
    assert len(expected) == 15 + len(signed_bodies) + len(calls) - 2
    # the blank-field cases, read by hand from the inputs above
    assert expected["segment:id:ajs-next-1772900000000-e1"]["email"] == "ivy.chen@wayne.io"
    signed_up = expected["segment:id:ajs-next-1772900000000-e2"]
    assert (signed_up["channel"], signed_up["campaign_id"]) == ("referral", "winter_promo")
    ticks = expected["segment:id:net-6f1d2c3b-0001"]["event_at"]
    assert ticks == datetime(2026, 7, 20, 13, 45, 12, 999999)
    noisy = expected["segment:id:net-6f1d2c3b-0002"]
    assert (noisy["amount"], noisy["event_at"]) == (Decimal("0.3"), datetime(2026, 7, 21, 10))

    # ---- fct_activities
    rows = fetch(ref, f"select activity_id, {', '.join(COLUMNS)} from marts.fct_activities")
    actual = {row[0]: normalise(dict(zip(COLUMNS, row[1:], strict=True))) for row in rows}
    assert len(rows) == len(actual)  # retries counted once
    differences: dict[str, Any] = {}
    for k in sorted(set(expected) | set(actual)):
        want, got = expected.get(k), actual.get(k)
        if want is None or got is None:
            differences[k] = {"expected": want, "actual": got}
        elif want != got:
            differences[k] = {
                c: {"expected": want[c], "actual": got[c]} for c in COLUMNS if want[c] != got[c]
            }
    assert not differences, json.dumps(differences, indent=1, default=str)

    # ---- fct_quarantined_events
    rows = fetch(
        ref,
        "select event_key, rejection_reason, event_type_input from marts.fct_quarantined_events",
    )
    assert {k: (reason, name) for k, reason, name in rows} == expected_quarantine
    # every landed event is exactly one activity or one quarantined record
    ((landed,),) = fetch(ref, "select count(*) from raw.events")
    assert landed == len(resend_plain) + len(signed_bodies) + len(calls)
    assert landed == len(actual) + len(rows)
    assert expected_quarantine == {
        "segment:id:ajs-next-1772700000000-c1": ("unknown event_type", "careers page viewed"),
        "segment:id:ajs-next-1772800000000-d1": ("missing email", "email opened"),
    }

    # ---- dim_contacts
    rows = fetch(
        ref,
        "select email, funnel_stage, lifecycle_state, lifetime_revenue, events_total "
        "from marts.dim_contacts",
    )
    contacts = {
        email: (stage, state, revenue, total) for email, stage, state, revenue, total in rows
    }
    events_per_email: dict[str, int] = {}
    for row in expected.values():
        events_per_email[row["email"]] = events_per_email.get(row["email"], 0) + 1
    assert {e: int(c[3]) for e, c in contacts.items()} == events_per_email

    states = {email: state for email, (_, state, _, _) in contacts.items()}
    assert states["dan@initech.io"] == "Disqualified"  # Permanent bounce
    assert states["eve@hooli.com"] == "Unsubscribed"  # complaint
    assert states["frank@umbrella.io"] == "Unsubscribed"  # complaint beats the hard bounce
    assert states["complained@resend.dev"] == "Unsubscribed"  # real captured complaint
    assert states["hank@soylent.io"] not in {"Disqualified", "Unsubscribed"}  # transient
    # a Resend bounce without a bounce type is not a hard bounce
    assert states["bounced@resend.dev"] not in {"Disqualified", "Unsubscribed"}

    rates = fx_rates()
    revenue = sum(
        (
            row["amount"] * rates[row["currency"] or REPORTING_CURRENCY] / rates[REPORTING_CURRENCY]
            for row in expected.values()
            if row["email"] == "ana.lopez@example.com" and row["event_type"] == "purchase"
        ),
        Decimal(0),
    )
    assert revenue == Decimal("249.5") * rates["USD"] + Decimal("80.25") * rates["GBP"]
    stage, state, lifetime_revenue, _ = contacts["ana.lopez@example.com"]
    assert (stage, state) == ("Customer", "Customer")
    assert abs(Decimal(str(lifetime_revenue)) - revenue) < Decimal("0.01"), lifetime_revenue
    # the float revenue is rounded, not lost: 0.3 USD in the reporting currency
    stage, _, lifetime_revenue, _ = contacts["ivy.chen@wayne.io"]
    assert stage == "Customer"
    ivy_revenue = Decimal("0.3") * rates["USD"] / rates[REPORTING_CURRENCY]
    assert abs(Decimal(str(lifetime_revenue)) - ivy_revenue) < Decimal("0.000001"), lifetime_revenue
