"""One contact's journey: the events it plans, and how their times are written."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from crm_funnel.devtools.generate.vocabulary import (
    ASSETS,
    CAMPAIGN_THEMES,
    CURRENCIES,
    DATE_ONLY_TYPES,
    OVERRIDE_RATE,
    OVERRIDE_SETTERS,
    OVERRIDE_STATES,
    PAGES,
    PRODUCTS,
    SCHEDULE_OFFSETS,
    WEBINARS,
)


class _Step:
    """One planned event of a journey (its time is assigned later).

    ``wait_days``: the step comes at least that many days after the previous one (a
    quiet spell, or the spacing of re-engagement emails); 0 = the usual gaps.
    """

    __slots__ = ("event_type", "channel", "properties", "date_only", "wait_days")

    def __init__(
        self,
        event_type: str,
        channel: str | None,
        properties: dict[str, Any] | None = None,
        wait_days: int = 0,
    ) -> None:
        self.event_type = event_type
        self.channel = channel
        self.properties = properties or {}
        self.date_only = False
        self.wait_days = wait_days


def plan_journey(rng: random.Random, channel: str, propensity: float) -> list[_Step]:
    """The ordered event types of one contact's journey."""
    steps: list[_Step] = []
    campaign_serial = rng.randrange(1, 40)

    def web(event_type: str, props: dict[str, Any] | None = None) -> None:
        steps.append(_Step(event_type, channel if rng.random() < 0.7 else "direct", props))

    def email_sequence(theme: str, length: int, engage: float) -> None:
        campaign_id = f"cmp-{theme}-{campaign_serial:02d}"
        for step in range(1, length + 1):
            props = {"campaign_id": campaign_id, "sequence_step": step}
            steps.append(_Step("email_sent", "email", dict(props)))
            if rng.random() < 0.03:
                roll = rng.random()
                bounce_type = "hard" if roll < 0.45 else "permanent" if roll < 0.6 else "soft"
                steps.append(_Step("email_bounced", "email", {**props, "bounce_type": bounce_type}))
                if bounce_type != "soft":
                    return
                continue
            steps.append(_Step("email_delivered", "email", dict(props)))
            if rng.random() < engage:
                steps.append(_Step("email_opened", "email", dict(props)))
                if rng.random() < 0.35:
                    steps.append(_Step("email_clicked", "email", dict(props)))
                    if rng.random() < 0.2:
                        # A reply pauses the sequence: a person answers it (the queue).
                        steps.append(_Step("email_replied", "email", dict(props)))
                        return
            if rng.random() < 0.01:
                steps.append(_Step("email_complained", "email", dict(props)))
                return
            if rng.random() < 0.025:
                steps.append(_Step("unsubscribed", "email", dict(props)))
                if rng.random() < 0.1:  # back through the preference centre
                    steps.append(_Step("resubscribed", "email", dict(props)))
                return

    def purchase() -> _Step:
        product, price = rng.choice(PRODUCTS)
        props = {"amount": price, "currency": rng.choice(CURRENCIES), "product": product}
        return _Step("purchase", "direct", props)

    def appointment() -> bool:
        """Book a demo; return whether a meeting was held (a no-show may rebook once)."""
        rebooked = False
        while True:
            steps.append(_Step("demo_booked", "direct", {"meeting_type": "discovery"}))
            if rng.random() < 0.06:
                # Rescheduled before the meeting: the outcome belongs to the new booking.
                steps.append(_Step("demo_booked", "direct", {"meeting_type": "rescheduled"}))
            if rng.random() < 0.8:
                steps.append(_Step("appointment_held", "direct"))
                return True
            steps.append(_Step("appointment_no_show", "direct"))
            if rebooked or rng.random() < 0.5:
                return False
            rebooked = True

    def reengagement() -> None:
        """Quiet for months, then re-engagement emails until the contact engages or not."""
        campaign_id = f"cmp-reengage-{campaign_serial:02d}"
        wait = rng.randint(95, 240)
        for step in range(1, rng.randint(2, 5) + 1):
            props = {"campaign_id": campaign_id, "sequence_step": step}
            steps.append(_Step("email_sent", "email", dict(props), wait_days=wait))
            steps.append(_Step("email_delivered", "email", dict(props)))
            if rng.random() < 0.12:
                if rng.random() < 0.25:
                    steps.append(purchase())  # buys straight from the win-back offer
                    return
                steps.append(_Step("email_opened", "email", dict(props)))
                if rng.random() < 0.4:
                    steps.append(_Step("email_clicked", "email", dict(props)))
                return
            wait = rng.randint(3, 28)

    def visit(count: int) -> None:
        for _ in range(count):
            page = rng.choice(PAGES)
            web("view", {"page": page})
            if rng.random() < 0.35:
                web("click", {"page": page, "cta": rng.choice(("hero", "nav", "footer"))})

    # Awareness: how the contact arrives.
    if channel == "webinar":
        if rng.random() < 0.5:
            visit(1)
        steps.append(_Step("webinar_joined", "webinar", {"webinar_id": rng.choice(WEBINARS)}))
    elif channel == "email":
        email_sequence("outbound", rng.randint(1, 3), 0.3 * propensity)
    else:
        visit(rng.randint(1, 4))
        if rng.random() < 0.15:
            web("signup", {"plan": "trial"})

    if rng.random() < 0.02:
        # A walk-in buyer: the first event seen is the purchase, or it follows the visits.
        steps.insert(0 if rng.random() < 0.5 else len(steps), purchase())

    # Nurture: a newsletter sequence for most contacts, a few more visits.
    if rng.random() < 0.75:
        email_sequence(rng.choice(CAMPAIGN_THEMES[:5]), rng.randint(1, 4), 0.45)
    if rng.random() < 0.5:
        visit(rng.randint(1, 3))
    if rng.random() < 0.12:
        steps.append(_Step("intent_signal", "partner", {"topic": "crm software"}))

    # Funnel depth, conditional probabilities scaled by the channel's propensity.
    def chance(base: float) -> bool:
        return rng.random() < min(0.95, base * propensity)

    opted_out = any(s.event_type in ("unsubscribed", "email_complained") for s in steps)
    if chance(0.45) and not opted_out:
        if rng.random() < 0.6:
            steps.append(_Step("download", channel, {"asset": rng.choice(ASSETS)}))
        else:
            steps.append(_Step("webinar_joined", "webinar", {"webinar_id": rng.choice(WEBINARS)}))
        if rng.random() < 0.5:
            web("pricing_viewed", {"page": "/pricing"})
        if rng.random() < 0.06:
            # Sales reaches out before the contact is sales-qualified.
            steps.append(_Step("follow_up", "email", {"owner": "sdr"}))
        if chance(0.4):
            if appointment() and chance(0.6):
                steps.append(_Step("follow_up", "email", {"owner": "ae"}))
                if rng.random() < 0.7:
                    steps.append(
                        _Step("proposal_sent", "email", {"value": rng.randint(20, 400) * 100})
                    )
                if chance(0.45):
                    currency = rng.choice(CURRENCIES)
                    amount = rng.randint(40, 900) * 50
                    steps.append(
                        _Step("deal_closed", "direct", {"amount": amount, "currency": currency})
                    )
        elif rng.random() < 0.08:
            # Self-serve: buys a training seat without talking to sales.
            steps.append(purchase())
    customer = any(s.event_type in ("deal_closed", "purchase") for s in steps)
    if customer:
        if rng.random() < 0.6:
            steps.append(
                _Step("training_completed", "direct", {"cohort": "2025-q" + str(rng.randint(1, 4))})
            )
        for _ in range(rng.randint(0, 4)):
            steps.append(_Step("login", "direct"))
        if rng.random() < 0.25:
            for _ in range(1 if rng.random() < 0.6 else rng.randint(2, 4)):
                steps.append(_Step("referral_given", "referral", {"referred": "colleague"}))
        if rng.random() < 0.3:
            steps.append(purchase())
    elif rng.random() < 0.3:
        visit(rng.randint(1, 2))
    if rng.random() < 0.07:
        steps.append(_Step("job_change", "partner", {"source": "signal-provider"}))
        if rng.random() < 0.5:
            visit(1)
    silenced = any(
        s.event_type in ("unsubscribed", "email_complained")
        or s.properties.get("bounce_type") in ("hard", "permanent")
        for s in steps
    )
    if not customer and not silenced and rng.random() < 0.15:
        reengagement()
    if len(steps) > 1 and rng.random() < OVERRIDE_RATE:
        # A person sets the state by hand, often as the latest word on the contact.
        props = {
            "state": rng.choices(list(OVERRIDE_STATES), list(OVERRIDE_STATES.values()))[0],
            "set_by": rng.choice(OVERRIDE_SETTERS),
        }
        at = len(steps) if rng.random() < 0.5 else rng.randrange(1, len(steps))
        steps.insert(at, _Step("manual_override", "direct", props))
    steps[0].channel = channel  # the first touch is the acquisition channel
    for step in steps:
        if step.event_type in DATE_ONLY_TYPES:
            step.date_only = rng.random() < 0.4
        else:
            step.date_only = rng.random() < 0.01
    return steps


def meeting_slot(rng: random.Random, booked: dt.datetime) -> dt.datetime:
    """A meeting time on a working hour 1-14 days after ``booked``."""
    day = booked.date() + dt.timedelta(days=rng.randint(1, 14))
    return dt.datetime.combine(day, dt.time(rng.randint(8, 16), rng.choice((0, 30))))


def format_iso(rng: random.Random, instant: dt.datetime) -> str:
    """``instant`` (naive UTC) as ISO-8601 with ``Z`` or, sometimes, a UTC offset."""
    minutes = rng.choice(SCHEDULE_OFFSETS)
    if not minutes:
        return instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    sign = "+" if minutes > 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    local = instant + dt.timedelta(minutes=minutes)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{hours:02d}:{mins:02d}"


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months (the last day of a shorter month)."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    days_in_month = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, days_in_month))


def format_time(rng: random.Random, instant: dt.datetime, date_only: bool) -> str:
    """Render ``instant`` (naive UTC) in one of the accepted formats."""
    if date_only:
        return instant.strftime("%Y-%m-%d")
    micro = instant.microsecond
    if micro:
        frac = f"{micro:06d}"
        # Mostly 3 or 6 digits; sometimes as few digits as the value needs (".5").
        frac = "." + (frac.rstrip("0") if rng.random() < 0.2 else frac.removesuffix("000"))
    else:
        frac = ""
    clock = "%H:%M" if instant.second == 0 and not micro and rng.random() < 0.5 else "%H:%M:%S"
    separator, zulu = "T", "Z"
    if rng.random() < 0.01:
        separator, zulu = "t", "z"
    roll = rng.random()
    if roll < 0.70:
        text = instant.strftime(f"%Y-%m-%d{separator}{clock}") + frac + zulu
    elif roll < 0.80:
        minutes = rng.choice((120, 60, 330, -300, -240, -180, 540))
        local = instant + dt.timedelta(minutes=minutes)
        sign = "+" if minutes >= 0 else "-"
        hours, mins = divmod(abs(minutes), 60)
        style = rng.random()
        if style < 0.6:
            offset = f"{sign}{hours:02d}:{mins:02d}"
        elif style < 0.9 or mins:
            offset = f"{sign}{hours:02d}{mins:02d}"
        else:
            offset = f"{sign}{hours:02d}"
        text = local.strftime(f"%Y-%m-%d{separator}{clock}") + frac + offset
    elif roll < 0.93:
        text = instant.strftime(f"%Y-%m-%d{separator}{clock}") + frac
    else:
        text = instant.strftime(f"%Y-%m-%d {clock}") + frac
    if rng.random() < 0.004:
        text = f" {text}\t"  # padded: valid after stripping
    return text
