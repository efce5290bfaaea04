"""``--sheets`` queue.ndjson: what people did about the orchestrator queue (issue 17).

Some contacts active in the last ``RECENT_DAYS`` days of the file reply once more after
their last event, and then a person may log an interaction (``interaction_logged``: an
outbound call or email answers the reply, an inbound one does not) or act on the reply's
queue item (``queue_item_resolved``, ``_snoozed``, ``_escalated``), naming it by the id the
warehouse derives: md5 of the contact id, ``reply_waiting`` and the first unanswered
reply's time. Native events, loaded like any other; a prediction the webhook files upset
(a Resend send counts as a touch) lands in the quarantine as an unknown item, as a
mistyped id would. Its own random streams, so the events are the same with or without.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from typing import Any

RECENT_DAYS = 30
TOUCH_TYPES = frozenset({"email_sent", "follow_up", "proposal_sent"})
PEOPLE = ("Amara Okafor", "Jonas Weber", "Lucia Ferreira")
MANAGER = "Head of Sales"
REPLY_SHARE = 0.25  # recent contacts who reply once more
# of those replies, the share that get: an outbound interaction, an inbound one, an action
SHARES = (0.25, 0.10, 0.45)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _timestamp_text(at: dt.datetime) -> str:
    """The text a warehouse casts the timestamp to (what the item id hashes)."""
    text = at.strftime("%Y-%m-%d %H:%M:%S")
    return text + ("." + f"{at.microsecond:06d}").rstrip("0") if at.microsecond else text


def _iso(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class QueueRecorder:
    """Keeps the recently active contacts; ``lines`` makes queue.ndjson."""

    def __init__(self, seed: int, end_limit: dt.datetime) -> None:
        self.seed = seed
        self.end_limit = end_limit
        # number, email, last event, first reply after the last touch (or None)
        self.recent: list[tuple[int, str, dt.datetime, dt.datetime | None]] = []

    def contact(
        self, number: int, email: str, events: list[tuple[dt.datetime, int, dict[str, Any]]]
    ) -> None:
        if not events or events[-1][0] < self.end_limit - dt.timedelta(days=RECENT_DAYS):
            return
        touches = [at for at, _, r in events if r.get("event_type") in TOUCH_TYPES]
        last_touch = max(touches, default=None)
        waiting = [
            at
            for at, _, r in events
            if r.get("event_type") == "email_replied" and (last_touch is None or at >= last_touch)
        ]
        self.recent.append((number, email, events[-1][0], min(waiting, default=None)))

    def lines(self, seen: set[int]) -> list[str]:
        """The lines for the contacts of ``seen`` (those written to the events file)."""
        out = []
        for number, email, last_event, waiting in self.recent:
            rng = random.Random(f"crm-funnel-queue:{self.seed}:{number}")
            reply_at = last_event.replace(microsecond=0) + dt.timedelta(hours=rng.randint(1, 72))
            at = reply_at + dt.timedelta(hours=rng.randint(2, 48))
            if number not in seen or rng.random() >= REPLY_SHARE or at > self.end_limit:
                continue
            records: list[tuple[str, dt.datetime, dict[str, str]]] = [
                ("email_replied", reply_at, {})
            ]
            person = rng.choice(PEOPLE)
            roll = rng.random()
            if roll < SHARES[0]:
                props = {
                    "direction": "outbound",
                    "interaction_channel": rng.choice(("call", "email", "dm")),
                    "outcome": rng.choice(("replied", "booked", "no_response")),
                    "initiated_by": "orchestrator",
                    "by": person,
                }
                records.append(("interaction_logged", at, props))
            elif roll < SHARES[0] + SHARES[1]:
                props = {
                    "direction": "inbound",
                    "interaction_channel": rng.choice(("call", "support")),
                    "outcome": "replied",
                    "initiated_by": "self",
                    "summary": "Called back with a question",
                    "by": person,
                }
                records.append(("interaction_logged", at, props))
            elif roll < sum(SHARES):
                started = _timestamp_text(waiting or reply_at)
                item = _md5(f"{_md5(email.strip().lower())}|reply_waiting|{started}")
                event_type, props = rng.choice(
                    (
                        ("queue_item_resolved", {"outcome": "replied"}),
                        ("queue_item_snoozed", {"until": _iso(at + dt.timedelta(days=5))}),
                        ("queue_item_escalated", {"to": MANAGER, "reason": "Pricing question"}),
                    )
                )
                records.append((event_type, at, {"queue_item_id": item, **props, "by": person}))
            for index, (event_type, instant, props) in enumerate(records):
                record: dict[str, Any] = {
                    "event_id": f"queue-{self.seed}-{number}-{index}",
                    "email": email,
                    "event_type": event_type,
                    "event_time": _iso(instant),
                    "channel": "email" if event_type == "email_replied" else "direct",
                }
                if props:
                    record["properties"] = props
                out.append(json.dumps(record))
        return out
