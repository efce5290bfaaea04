"""The Resend and Segment webhook payloads of the sampled contacts (``--sheets``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import uuid
from collections.abc import Callable
from typing import Any

from crm_funnel.devtools.generate.people import SheetContact

# The recorder's random stream named by its parts (``SheetRecorder._rng``).
Streams = Callable[..., random.Random]

BROADCASTS = 6
# UTM of a contact's first visit, by acquisition channel (Segment context.campaign)
UTM_BY_CHANNEL = {
    "paid_search": ("google", "cpc"),
    "linkedin": ("linkedin", "paid_social"),
    "email": ("newsletter", "email"),
    "organic_search": ("google", "organic"),
    "referral": ("customer-referral", "referral"),
    "webinar": ("zoom", "webinar"),
    "partner": ("partner-portal", "referral"),
}
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
)


def iso_ms(instant: dt.datetime) -> str:
    """``2025-03-04T10:00:00.123Z`` (the timestamp style of Resend and Segment)."""
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def resend_lines(
    contacts: list[SheetContact], streams: Streams, start: dt.datetime, end_limit: dt.datetime
) -> tuple[list[str], dict[str, tuple[dt.datetime, dt.datetime]]]:
    """Resend webhook payloads of the monthly broadcasts to the sampled contacts."""
    span = end_limit - start
    sends = [
        (
            f"cmp-broadcast-{index + 1:02d}",
            start + span * (index + 0.5) / BROADCASTS,
            new_uuid(streams("broadcast", index)),
        )
        for index in range(BROADCASTS)
    ]
    used: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    events: list[tuple[dt.datetime, str, int, dict[str, Any]]] = []
    for c in contacts:
        rng = streams("resend", c.number)
        eligible = [send for send in sends if send[1] >= c.first_at]
        for campaign, when, broadcast_id in rng.sample(eligible, min(len(eligible), 2)):
            at = when.replace(hour=9, minute=0, second=0, microsecond=0)
            at += dt.timedelta(seconds=rng.randint(0, 3600), milliseconds=rng.randint(0, 999))
            for step in (1, 2):
                opened = _resend_email(rng, c, campaign, broadcast_id, step, at, events)
                if opened or step == 2 or rng.random() < 0.5:
                    break
                at += dt.timedelta(days=3)  # a follow-up to those who did not open
    events = [event for event in events if event[0] <= end_limit]
    for at, _, _, payload in events:
        campaign = _tag(payload, "campaign_id")
        first, last = used.get(campaign, (at, at))
        used[campaign] = (min(first, at), max(last, at))
    events.sort(key=lambda event: (event[0], event[1], event[2]))
    lines = [json.dumps(payload, ensure_ascii=False) for _, _, _, payload in events]
    return lines, used


def _tag(payload: dict[str, Any], name: str) -> str:
    tags = payload["data"]["tags"]
    if isinstance(tags, dict):
        return str(tags[name])
    return next(str(tag["value"]) for tag in tags if tag["name"] == name)


def _resend_email(
    rng: random.Random,
    c: SheetContact,
    campaign: str,
    broadcast_id: str,
    step: int,
    at: dt.datetime,
    events: list[tuple[dt.datetime, str, int, dict[str, Any]]],
) -> bool:
    """The webhook events of one email; return whether it was opened."""
    email_id = new_uuid(rng)
    to = f"{c.full_name} <{c.email}>" if rng.random() < 0.8 else c.email
    if rng.random() < 0.5:
        tags: Any = {"campaign_id": campaign, "sequence_step": str(step)}
    else:
        tags = [
            {"name": "campaign_id", "value": campaign},
            {"name": "sequence_step", "value": str(step)},
        ]
    subject = "Your monthly funnel digest" if step == 1 else "In case you missed it"

    def add(kind: str, when: dt.datetime, **extra: Any) -> None:
        data = {
            "broadcast_id": broadcast_id,
            "created_at": iso_ms(at),
            "email_id": email_id,
            "from": "Crm Funnel <news@crm-funnel.example>",
            "to": [to],
            "subject": subject,
            "tags": tags,
            **extra,
        }
        payload = {"type": f"email.{kind}", "created_at": iso_ms(when), "data": data}
        events.append((when, email_id, len(events), payload))

    add("sent", at)
    delivered = at + dt.timedelta(seconds=rng.randint(2, 30))
    roll = rng.random()
    if roll < 0.03:
        permanent = rng.random() < 0.6
        add(
            "bounced",
            delivered,
            bounce={
                "message": "The recipient's email provider sent a hard bounce message."
                if permanent
                else "The recipient's mailbox is full.",
                "subType": "General" if permanent else "MailboxFull",
                "type": "Permanent" if permanent else "Transient",
            },
        )
        return False
    if roll < 0.05:
        add("delivery_delayed", delivered)
        delivered += dt.timedelta(hours=rng.randint(1, 6))
    add("delivered", delivered)
    if rng.random() < 0.005:
        add("complained", delivered + dt.timedelta(minutes=rng.randint(5, 600)))
        return False
    if rng.random() >= 0.45:
        return False
    opened = delivered + dt.timedelta(seconds=int(rng.expovariate(1 / 21600)) + 30)
    add("opened", opened)
    if rng.random() < 0.35:
        clicked = opened + dt.timedelta(seconds=rng.randint(5, 600))
        add(
            "clicked",
            clicked,
            click={
                "ipAddress": f"203.0.113.{rng.randint(1, 254)}",
                "link": f"https://crm-funnel.example/digest/{campaign}",
                "timestamp": iso_ms(clicked),
                "userAgent": rng.choice(USER_AGENTS),
            },
        )
    return True


def segment_lines(
    contacts: list[SheetContact], streams: Streams, end_limit: dt.datetime
) -> list[str]:
    """Segment-spec identify and track calls for the sampled contacts."""
    calls: list[tuple[dt.datetime, str, dict[str, Any]]] = []
    for c in contacts:
        _segment_contact(c, streams("segment", c.number), calls)
    calls = [item for item in calls if item[0] <= end_limit]
    calls.sort(key=lambda item: (item[0], item[1]))
    return [json.dumps(payload, ensure_ascii=False) for _, _, payload in calls]


def _segment_contact(
    c: SheetContact, rng: random.Random, calls: list[tuple[dt.datetime, str, dict[str, Any]]]
) -> None:
    user_id = f"usr_{hashlib.md5(c.email.encode()).hexdigest()[:12]}"
    anonymous_id = new_uuid(rng)
    utm = UTM_BY_CHANNEL.get(c.channel)
    first_touch = (
        {"source": utm[0], "medium": utm[1], "name": f"{c.channel}-{c.first_at.year}"}
        if utm
        else None
    )
    at = c.first_at + dt.timedelta(seconds=rng.randint(1, 3600))

    def call(
        kind: str,
        when: dt.datetime,
        event: str | None = None,
        properties: dict[str, Any] | None = None,
        campaign: dict[str, str] | None = None,
    ) -> None:
        message_id = f"ajs-next-{rng.getrandbits(96):024x}"
        context: dict[str, Any] = {
            "library": {"name": "analytics.js", "version": "2.11.1"},
            "traits": {"email": c.email if rng.random() < 0.9 else c.email.upper()},
        }
        if campaign:
            context["campaign"] = campaign
        payload: dict[str, Any] = {"type": kind, "messageId": message_id}
        if event is not None:
            payload["event"] = event
        payload.update(
            {
                "userId": user_id,
                "anonymousId": anonymous_id,
                "timestamp": iso_ms(when),
                "context": context,
            }
        )
        if kind == "identify":
            payload["traits"] = {
                "email": c.email,
                "name": c.full_name,
                "company": c.company,
                "industry": c.industry,
            }
        else:
            payload["properties"] = properties or {}
        calls.append((when, message_id, payload))

    call("identify", at, campaign=first_touch)
    if rng.random() < 0.5:
        minute = dt.timedelta(minutes=1)
        call("track", at + 2 * minute, "Signed Up", {"plan": "trial"}, first_touch)
        if rng.random() < 0.5:
            call("track", at + 3 * minute, "Trial Started", {"trial_days": 14}, first_touch)
    if c.campaigns and rng.random() < 0.6:
        cmp_id = rng.choice(c.campaigns)
        call(
            "track",
            at + dt.timedelta(days=rng.randint(1, 20), seconds=rng.randint(0, 86399)),
            "Email Opened",
            {"email_id": new_uuid(rng), "campaign_id": cmp_id, "email_subject": "Hello"},
            {"source": "newsletter", "medium": "email", "name": cmp_id},
        )
    if "demo_booked" in c.types:
        when = at + dt.timedelta(days=rng.randint(3, 30))
        call("track", when, "Demo Booked", {"meeting_type": "discovery"}, first_touch)
    if c.purchases and rng.random() < 0.5:
        amount, currency = rng.choice(c.purchases)
        call(
            "track",
            at + dt.timedelta(days=rng.randint(10, 90)),
            "Order Completed",
            {
                "order_id": f"ord_{rng.getrandbits(48):012x}",
                "revenue": round(amount * 0.2, 2),  # an add-on order
                "currency": currency,
                "products": [{"product_id": "add-on-seats", "quantity": 1}],
            },
            first_touch,
        )
