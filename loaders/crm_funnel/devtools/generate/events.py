"""Generate realistic, seeded, deterministic native CRM events as NDJSON.

``funnel-generate`` writes ``--events`` lines of native events (see PRODUCT.md, "Data in")
for demos, tests and benchmarks. The same arguments always produce the same bytes, and
memory does not grow with ``--events``: contacts are generated in small batches whose
events are ordered by time and written straight away.

Realism, in short:

* about one contact per 12 events; contacts work at companies that have an industry;
* eight acquisition channels with different conversion propensities;
* journeys that move through the funnel: web visits and email sequences, content and
  webinars, pricing, demos, sales follow-ups and proposals, deals and purchases (with an
  amount and a currency), training, referrals, logins, plus opt-outs, bounces,
  complaints and third-party signals (job changes, intent);
* the lifecycle (lifecycle.md): a booked demo carries ``scheduled_at`` (1-14 days later)
  and is later held or missed (``appointment_held`` / ``appointment_no_show``; some are
  rebooked, a few rescheduled before the meeting); a closed deal carries
  ``contract_end`` (6-24 months later); some customers refer 2-4 colleagues; some
  contacts go quiet for months, then get re-engagement emails a few days to weeks apart
  and a few of them engage again (some buy straight away); a few walk-in buyers purchase
  first; bounces are ``hard``, ``permanent`` or ``soft``; about 0.5% of contacts get a
  ``manual_override`` (``state``, ``set_by``) by a person;
* a contact's events have strictly increasing instants, at least one second apart,
  rendered in a mix of timestamp formats (``Z``, offsets, naive, date-only, fractional);
* ``--dirty-rate`` of the lines are dirty, cycling through every kind in ``DIRTY_KINDS``
  (so each kind is present once ``events * dirty_rate >= len(DIRTY_KINDS)``, e.g. with
  the default rate from 2,000 events on).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import hashlib
import json
import math
import os
import random
import sys
import uuid
from collections.abc import Iterator
from typing import IO, Any

PROG = "funnel-generate"

DEFAULT_START = "2025-01-01"
DEFAULT_END = "2026-06-30"
DEFAULT_DIRTY_RATE = 0.02
DEFAULT_SEED = 42
# Contacts generated (then ordered by time) per batch; bounds the memory used.
BATCH_CONTACTS = 200

# Every kind of dirty record, in the order they are first used. The first three stay
# valid after normalisation; the others are quarantined, duplicates or load errors.
DIRTY_KINDS = (
    "email_whitespace_case",  # valid: same contact after strip + lower
    "event_type_alias_case",  # valid: an alias or odd case of a known type
    "missing_channel",  # valid: channel becomes the unknown channel
    "missing_email",
    "empty_email",
    "malformed_email",
    "non_string_email",
    "unknown_event_type",
    "missing_event_type",
    "missing_event_time",
    "unparseable_event_time",
    "impossible_event_time",
    "out_of_range_event_time",
    "invalid_override_state",  # a manual_override whose state is not a lifecycle state
    "duplicate_line",
    "invalid_json",
    "non_object_json",
)

# channel: (share of new contacts, conversion propensity)
CHANNELS = {
    "organic_search": (0.22, 1.0),
    "paid_search": (0.17, 0.75),
    "linkedin": (0.14, 0.9),
    "referral": (0.08, 1.8),
    "webinar": (0.10, 1.35),
    "email": (0.13, 0.55),
    "direct": (0.10, 1.1),
    "partner": (0.06, 1.5),
}
LEAD_SOURCE_BY_CHANNEL = {
    "organic_search": ["organic"],
    "paid_search": ["paid"],
    "linkedin": ["paid", "organic"],
    "referral": ["referral"],
    "webinar": ["event"],
    "email": ["outbound", "paid"],
    "direct": ["organic", "referral"],
    "partner": ["partner"],
}
INDUSTRIES = (
    "SaaS",
    "Fintech",
    "Healthcare",
    "Education",
    "Retail",
    "Manufacturing",
    "Consulting",
    "Logistics",
    "Media",
    "Non-profit",
)
FIRST_NAMES = (
    "ana", "ben", "carla", "david", "elena", "farid", "grace", "hugo", "ines", "jonas",
    "kate", "liam", "maria", "nadia", "omar", "paula", "quentin", "rosa", "sam", "tariq",
    "ursula", "victor", "wei", "xenia", "yusuf", "zoe", "aiko", "bruno", "chloe", "diego",
    "emma", "felix", "gita", "hannah", "ivan", "julia", "kofi", "lena", "marco", "nina",
    "oscar", "priya", "rafael", "sofia", "tom", "uma", "vera", "will", "yara", "zainab",
)  # fmt: skip
LAST_NAMES = (
    "silva", "smith", "garcia", "mueller", "rossi", "dubois", "kowalski", "nguyen", "khan",
    "okafor", "jensen", "novak", "schmidt", "tanaka", "costa", "murphy", "fischer", "lopez",
    "martin", "ivanova", "haddad", "berg", "moreau", "santos", "weber", "clarke", "sato",
    "petrov", "ali", "horvat", "lindqvist", "oconnor", "bianchi", "yilmaz", "kim", "chen",
)  # fmt: skip
COMPANY_WORDS = (
    "Northwind", "Bluepeak", "Cedar", "Orbit", "Lumen", "Quarry", "Harbor", "Vertex",
    "Mosaic", "Summit", "Pioneer", "Falcon", "Evergreen", "Atlas", "Nimbus", "Copper",
    "Granite", "Juniper", "Kestrel", "Meridian", "Nova", "Oakridge", "Polar", "Redwood",
    "Saffron", "Tidal", "Umbra", "Willow", "Zenith", "Amber", "Brightline", "Crescent",
    "Müller", "Société", "Ångström", "Fjord", "Helios", "Ironclad", "Lakeside", "Maple",
)  # fmt: skip
COMPANY_SUFFIX_BY_INDUSTRY = {
    "SaaS": ("Software", "Cloud", "Labs", "Analytics", "Systems"),
    "Fintech": ("Pay", "Capital", "Finance", "Ledger"),
    "Healthcare": ("Health", "Clinics", "Medical", "Care"),
    "Education": ("Academy", "Learning", "Institute", "School"),
    "Retail": ("Stores", "Market", "Outfitters", "Goods"),
    "Manufacturing": ("Industries", "Maschinenbau GmbH", "Works", "Fabrication"),
    "Consulting": ("Consulting", "Partners", "Advisory", "Group"),
    "Logistics": ("Logistics", "Freight", "Shipping"),
    "Media": ("Media", "Studios", "Publishing"),
    "Non-profit": ("Foundation", "Trust", "Alliance"),
}
TLDS = (".com", ".com", ".com", ".io", ".co", ".de", ".fr", ".co.uk", ".org", ".net")
LOCAL_PATTERNS = ("{f}.{l}{n}", "{f}{n}", "{fi}{l}{n}", "{f}_{l}{n}", "{f}-{l}.{n}")
PAGES = (
    "/", "/blog/lead-scoring-101", "/blog/funnel-metrics", "/features", "/customers",
    "/integrations", "/docs/getting-started", "/about", "/careers", "/blog/nurture-cadence",
)  # fmt: skip
ASSETS = ("ebook-b2b-funnel", "whitepaper-intent-data", "template-lead-scoring", "report-2025")
WEBINARS = ("wbn-funnel-basics", "wbn-scoring-deep-dive", "wbn-sales-handover", "wbn-q4-trends")
PRODUCTS = (("starter-training", 490), ("pro-training", 1490), ("team-seat-pack", 2990))
CURRENCIES = ("EUR", "EUR", "USD", "USD", "GBP")
CAMPAIGN_THEMES = ("welcome", "nurture", "reengage", "webinar-invite", "product-news", "outbound")

# Lifecycle states a manual_override may set (seeds/lifecycle_states.csv), and how
# often people pick each: mostly Hot, Disqualified and VIP.
OVERRIDE_STATES = {
    "Hot": 30,
    "Disqualified": 30,
    "VIP": 20,
    "Unsubscribed": 3,
    "Alumni": 3,
    "Customer": 3,
    "Dormant": 3,
    "Warm": 3,
    "Engaged": 3,
    "Cold": 2,
}
# Spellings a person may type that are not a state (the ``invalid_override_state`` kind).
INVALID_OVERRIDE_STATES = ("hot", "vip", "Lost", "Nurture", "Closed Won", "Disqualifed", "")
OVERRIDE_SETTERS = ("Amara Okafor", "Jonas Weber", "Lucia Ferreira", "Priya Raman", "Tom Becker")
OVERRIDE_RATE = 0.005
# Contract lengths of a closed deal, in months.
CONTRACT_MONTHS = (6, 12, 12, 12, 18, 24)
# Offsets (minutes) a meeting time may be written in; most are written in UTC.
SCHEDULE_OFFSETS = (0, 0, 0, 0, 60, 120, -300, 330)
APPOINTMENT_OUTCOMES = frozenset({"appointment_held", "appointment_no_show"})

# Event types whose events often carry only a date (spreadsheets, third-party signals).
DATE_ONLY_TYPES = frozenset({"job_change", "intent_signal", "training_completed"})

# Type aliases and odd spellings used by the ``event_type_alias_case`` dirty kind
# (every value maps to a known type through seeds/event_type_aliases.csv or lower/strip).
ALIAS_SPELLINGS = {
    "view": ("Page_View", "pageview", "  VIEW ", "Page Viewed"),
    "click": ("Link_Click", "CLICK", "clicked"),
    "download": ("  DOWNLOAD ", "whitepaper_download", "Content_Downloaded"),
    "webinar_joined": ("Webinar_Attended", "event_attended"),
    "demo_booked": ("Meeting_Booked", "call_booked", "Demo_Requested"),
    "email_opened": ("email_open", "Email_Opened"),
    "email_clicked": ("email_click", "EMAIL_CLICKED"),
    "email_sent": ("Email_Sent", "\temail_sent\n"),
    "email_delivered": ("EMAIL_DELIVERED",),
    "purchase": ("order_completed", "Purchase"),
    "signup": ("Signed_Up", "trial_started"),
    "login": ("logged_in", "Login"),
    "follow_up": ("followup", "Follow_Up"),
    "proposal_sent": ("quote_sent",),
    "deal_closed": ("closed_won", "Deal_Closed"),
    "pricing_viewed": ("pricing_page_viewed", "Pricing_Viewed"),
    "unsubscribed": ("unsubscribe",),
}
UNKNOWN_EVENT_TYPES = ("page_scrolled", "coupon_redeemed", "chat_started", "viewd", "foo")
UNPARSEABLE_TIMES = (
    "yesterday",
    "03/04/2025 10:00",
    "2025-03-04T10:00:00 PST",
    "2025/03/04",
    "20250304T100000Z",
    "not a date",
    "2025-03-04T10",
    "2025-03-04T10:00:00.1234567890Z",
)
IMPOSSIBLE_TIMES = (
    "2025-02-30T10:00:00Z",
    "2025-03-04T25:00:00Z",
    "2025-13-01T09:00:00Z",
    "2025-04-31",
    "2025-06-15T12:60:00Z",
    "2025-02-29T08:00:00Z",
    "2025-06-30T23:59:60Z",
    "2025-03-04T10:00:00+19:00",
)
OUT_OF_RANGE_TIMES = (
    "1970-01-01T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "2000-01-01T00:30:00+01:00",  # 1999-12-31 23:30 UTC: the offset counts
    "1970-06-15T12:00:00Z",
    "2099-01-01T00:00:00Z",
    "2087-12-31T23:59:59+01:00",
)
MALFORMED_EMAILS = (
    "ana.silva@northwind",
    "no-at-sign.example.com",
    "two@@signs.com",
    "spaces in@example.com",
    "trailing.dot@example.",
    "unicode.ü@example.com",
    "@example.com",
)
INVALID_JSON_LINES = (
    '{"email": "broken@example.com", "event_type": "view"',
    "not json at all",
    "{'email': 'single@quotes.com'}",
    '{"email": "x@example.com", "event_type": }',
)
NON_OBJECT_LINES = ("[1, 2]", '"x"', "42", '["view", "x@example.com"]', "null")

EPOCH = dt.datetime(1970, 1, 1)


class UsageError(Exception):
    """A user mistake: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2025-01-31, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Write realistic native CRM events (NDJSON) for demos, tests and benchmarks. "
            "The same arguments always produce the same bytes; memory does not grow "
            "with --events."
        ),
        epilog=(
            "examples:\n"
            "  funnel-generate --events 5000 --seed 7 --out data/sample/events.ndjson\n"
            "  funnel-generate --events 10000000 --seed 1 --out big.ndjson.gz\n"
            "  funnel-generate --events 3000 --dirty-rate 0 --out - | head\n"
            "  funnel-generate --events 2000 --start 2024-01-01 --end 2024-12-31 --out e.ndjson\n"
            "  funnel-generate --events 5000 --out data/sample/events.ndjson --sheets data/sample\n"
            "\n"
            f"dirty kinds (cycled, one every 1/--dirty-rate lines): {', '.join(DIRTY_KINDS)}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--events", type=_positive_int, required=True, metavar="N", help="lines to write"
    )
    parser.add_argument(
        "--seed", type=_seed, default=DEFAULT_SEED, metavar="S", help="random seed (default 42)"
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="output file; gzip when it ends with .gz; '-' writes to stdout",
    )
    parser.add_argument(
        "--dirty-rate",
        type=_rate,
        default=DEFAULT_DIRTY_RATE,
        metavar="R",
        help="share of dirty lines, 0..1 (default 0.02)",
    )
    parser.add_argument(
        "--start",
        type=_date,
        default=dt.date.fromisoformat(DEFAULT_START),
        metavar="DATE",
        help=f"first day of activity, UTC (default {DEFAULT_START})",
    )
    parser.add_argument(
        "--end",
        type=_date,
        default=dt.date.fromisoformat(DEFAULT_END),
        metavar="DATE",
        help=f"last day of activity, UTC, inclusive (default {DEFAULT_END})",
    )
    parser.add_argument(
        "--sheets",
        metavar="DIR",
        help="also write, into DIR (created if missing), the spreadsheet and webhook "
        "inputs of the same contacts: " + ", ".join(SHEET_FILES),
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the summary line")
    return parser


# --------------------------------------------------------------------------- companies


class _Companies:
    """A virtual pool of companies, derived from (seed, index) so it needs no memory."""

    def __init__(self, seed: int, size: int) -> None:
        self.seed = seed
        self.size = size
        self._cache: dict[int, tuple[str, str, str]] = {}

    def get(self, index: int) -> tuple[str, str, str]:
        """Return (name, industry, email domain) of company ``index``."""
        found = self._cache.get(index)
        if found is not None:
            return found
        rng = random.Random(f"{self.seed}:company:{index}")
        industry = rng.choice(INDUSTRIES)
        word = rng.choice(COMPANY_WORDS)
        suffix = rng.choice(COMPANY_SUFFIX_BY_INDUSTRY[industry])
        name = f"{word} {suffix}"  # names repeat across companies; domains do not
        slug = "".join(
            ch for ch in _ascii_fold(f"{word}{suffix.split()[0]}").lower() if ch.isalnum()
        )
        domain = f"{slug}{index}{rng.choice(TLDS)}"
        value = (name, industry, domain)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[index] = value
        return value

    def pick(self, rng: random.Random) -> int:
        # Skewed: a few companies have many contacts, most have one or two.
        return min(self.size - 1, int(self.size * rng.random() ** 2.2))


def _ascii_fold(text: str) -> str:
    table = {"ü": "ue", "é": "e", "Å": "A", "ö": "o", "ä": "a"}
    return "".join(table.get(ch, ch) for ch in text)


# --------------------------------------------------------------------------- journeys


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


def _plan_journey(rng: random.Random, channel: str, propensity: float) -> list[_Step]:
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


def _meeting_slot(rng: random.Random, booked: dt.datetime) -> dt.datetime:
    """A meeting time on a working hour 1-14 days after ``booked``."""
    day = booked.date() + dt.timedelta(days=rng.randint(1, 14))
    return dt.datetime.combine(day, dt.time(rng.randint(8, 16), rng.choice((0, 30))))


def _format_iso(rng: random.Random, instant: dt.datetime) -> str:
    """``instant`` (naive UTC) as ISO-8601 with ``Z`` or, sometimes, a UTC offset."""
    minutes = rng.choice(SCHEDULE_OFFSETS)
    if not minutes:
        return instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    sign = "+" if minutes > 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    local = instant + dt.timedelta(minutes=minutes)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{hours:02d}:{mins:02d}"


def _add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months (the last day of a shorter month)."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    days_in_month = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, days_in_month))


def _format_time(rng: random.Random, instant: dt.datetime, date_only: bool) -> str:
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


# --------------------------------------------------------------------------- generator


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
        self.companies = _Companies(seed, max(30, events // 40))
        self.contacts = 0
        self.dirty_written = 0
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
        steps = _plan_journey(rng, channel, propensity)

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
                meeting = _meeting_slot(rng, instant)
                step.properties["scheduled_at"] = _format_iso(rng, meeting)
            elif step.event_type == "deal_closed":
                months = rng.choice(CONTRACT_MONTHS)
                step.properties["contract_end"] = _add_months(instant.date(), months).isoformat()
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
            record["event_time"] = _format_time(rng, instant, step.date_only)
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
        self._kinds: list[str] = []
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


# --------------------------------------------------------------------------- --sheets

# What --sheets DIR writes besides the events (README, "Spreadsheet inputs"):
SHEET_SHARE = 0.30  # event contacts that are also in the contacts sheet
SHEET_ONLY_SHARE = 0.05  # sheet-only contacts (no events), relative to the event contacts
WEBHOOK_SHARE = 0.10  # event contacts that also appear in resend.ndjson / segment.ndjson
SHEET_FILES = ("contacts.csv", "spend.csv", "campaigns.csv", "resend.ndjson", "segment.ndjson")
CONTACT_HEADER = (
    "Full Name", "Email", "Phone", "Company", "Role", "Industry", "Country", "Timezone",
    "Channel of origin", "Lead status", "Tags", "Notes", "Date added", "Assigned orchestrator",
)  # fmt: skip
SPEND_HEADER = ("Date", "Channel", "Spend", "Currency")
CAMPAIGN_HEADER = (
    "Campaign ID", "Name", "Goal", "Channel", "Status", "Start date", "End date",
    "Target segment", "Owner",
)  # fmt: skip
# seeds/orchestrators.csv (name: department)
ORCHESTRATORS = {
    "Amara Okafor": "Sales",
    "Jonas Weber": "Sales",
    "Lucia Ferreira": "Sales",
    "Priya Raman": "Customer Success",
    "Tom Becker": "Customer Success",
    "Sofia Rossi": "Marketing",
    "Noah Kim": "Operations",
}
COUNTRIES = (
    ("Germany", "Europe/Berlin", "+49"),
    ("France", "Europe/Paris", "+33"),
    ("United Kingdom", "Europe/London", "+44"),
    ("United States", "America/New_York", "+1"),
    ("Spain", "Europe/Madrid", "+34"),
    ("Netherlands", "Europe/Amsterdam", "+31"),
    ("Portugal", "Europe/Lisbon", "+351"),
    ("India", "Asia/Kolkata", "+91"),
)
ROLES = (
    "Founder", "CEO", "Head of Marketing", "Marketing Manager", "Growth Lead", "Sales Manager",
    "Operations Manager", "CTO", "HR Director", "Training Coordinator",
)  # fmt: skip
SHEET_TAGS = ("", "", "", "newsletter", "webinar, newsletter", "vip", "event-2025", "partner intro")
SHEET_NOTES = (
    'Met at "SaaS Summit", asked about pricing',
    "Prefers WhatsApp\nCall after 3pm",
    "Referred by a customer",
    "Wants a demo for the whole team; budget in Q3",
)
BAD_SHEET_DATES = ("31/02/2026", "2025-13-01", "yesterday", "03/04/2025", "2025-02-30")
# Daily spend per acquisition channel: (typical daily amount, currency). Direct and
# referral traffic cost nothing.
SPEND_CHANNELS = {
    "paid_search": (180.0, "EUR"),
    "linkedin": (120.0, "USD"),
    "webinar": (60.0, "EUR"),
    "email": (25.0, "EUR"),
    "partner": (70.0, "GBP"),
    "organic_search": (40.0, "EUR"),
}
# campaign theme: (name, goal, target segment); cmp-broadcast-* are the Resend broadcasts
CAMPAIGN_THEMES_INFO = {
    "welcome": ("Welcome series", "Activate new sign-ups", "New leads"),
    "nurture": ("Nurture track", "Move leads to MQL", "Leads"),
    "reengage": ("Win-back", "Re-engage dormant contacts", "Dormant contacts"),
    "webinar-invite": ("Webinar invitation", "Webinar registrations", "Leads and MQLs"),
    "product-news": ("Product news", "Product adoption", "Customers and MQLs"),
    "outbound": ("Outbound sequence", "Book discovery calls", "ICP accounts"),
    "broadcast": ("Monthly broadcast", "Stay top of mind", "All contactable"),
}
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


class _SheetContact:
    """What the sheets and webhooks need to know about one sampled event contact."""

    __slots__ = (
        "number", "email", "first", "last", "company", "industry", "channel", "first_at",
        "types", "purchases", "campaigns", "in_sheet", "in_webhooks", "seen",
    )  # fmt: skip

    def __init__(
        self,
        number: int,
        email: str,
        first: str,
        last: str,
        company: str,
        industry: str,
        channel: str,
        events: list[tuple[dt.datetime, int, dict[str, Any]]],
        in_sheet: bool,
        in_webhooks: bool,
    ) -> None:
        self.number = number
        self.email = email
        self.first = first
        self.last = last
        self.company = company
        self.industry = industry
        self.channel = channel
        self.first_at = events[0][0]
        self.types = frozenset(record["event_type"] for _, _, record in events)
        self.purchases = [
            (record["properties"]["amount"], record["properties"]["currency"])
            for _, _, record in events
            if record["event_type"] in ("purchase", "deal_closed")
        ]
        self.campaigns = sorted(
            {
                record["properties"]["campaign_id"]
                for _, _, record in events
                if "campaign_id" in record.get("properties", {})
            }
        )
        self.in_sheet = in_sheet
        self.in_webhooks = in_webhooks
        self.seen = False

    @property
    def full_name(self) -> str:
        return f"{self.first.title()} {self.last.title()}"


def _iso_ms(instant: dt.datetime) -> str:
    """``2025-03-04T10:00:00.123Z`` (the timestamp style of Resend and Segment)."""
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class SheetRecorder:
    """Collects contacts and campaigns while the events are written; ``write`` makes the
    ``--sheets`` files. Uses its own random streams (never the events' one), so the
    events are byte-identical with or without ``--sheets``.

    Memory grows with the sampled contacts (about 40% of the contacts, one per 12 events).
    """

    def __init__(self, seed: int, start: dt.date, end: dt.date) -> None:
        self.seed = seed
        self.start = dt.datetime.combine(start, dt.time())
        self.end_limit = dt.datetime.combine(end, dt.time()) + dt.timedelta(days=1, seconds=-1)
        self.contacts: dict[int, _SheetContact] = {}
        self.seen: set[int] = set()  # contact numbers with at least one event in the file
        self.campaigns: dict[str, tuple[dt.datetime, dt.datetime]] = {}

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(["crm-funnel-sheets", str(self.seed), *map(str, parts)]))

    # -- while the events are generated
    def contact(
        self,
        number: int,
        email: str,
        first: str,
        last: str,
        company: str,
        industry: str,
        channel: str,
        events: list[tuple[dt.datetime, int, dict[str, Any]]],
    ) -> None:
        rng = self._rng("contact", number)
        in_sheet = rng.random() < SHEET_SHARE
        in_webhooks = rng.random() < WEBHOOK_SHARE
        if in_sheet or in_webhooks:
            self.contacts[number] = _SheetContact(
                number,
                email,
                first,
                last,
                company,
                industry,
                channel,
                events,
                in_sheet,
                in_webhooks,
            )

    def written(self, number: int, instant: dt.datetime, campaign: Any) -> None:
        self.seen.add(number)
        found = self.contacts.get(number)
        if found is not None:
            found.seen = True
        if isinstance(campaign, str) and campaign:
            first, last = self.campaigns.get(campaign, (instant, instant))
            self.campaigns[campaign] = (min(first, instant), max(last, instant))

    # -- afterwards
    def write(self, directory: str) -> dict[str, int]:
        """Write the five files to ``directory``; return rows (lines) per file."""
        seen = [c for _, c in sorted(self.contacts.items()) if c.seen]
        sampled = [c for c in seen if c.in_webhooks]
        resend, broadcasts = self._resend(sampled)
        for campaign, (first, last) in broadcasts.items():
            known = self.campaigns.get(campaign, (first, last))
            self.campaigns[campaign] = (min(known[0], first), max(known[1], last))
        files = {
            "contacts.csv": self._contacts_rows([c for c in seen if c.in_sheet]),
            "spend.csv": self._spend_rows(),
            "campaigns.csv": self._campaign_rows(),
        }
        counts: dict[str, int] = {}
        headers = {
            "contacts.csv": CONTACT_HEADER,
            "spend.csv": SPEND_HEADER,
            "campaigns.csv": CAMPAIGN_HEADER,
        }
        for name, rows in files.items():
            # the contacts sheet as Excel saves "CSV UTF-8": a BOM and CRLF line ends
            excel = name == "contacts.csv"
            with open(
                os.path.join(directory, name),
                "w",
                encoding="utf-8-sig" if excel else "utf-8",
                newline="",
            ) as fh:
                writer = csv.writer(fh, lineterminator="\r\n" if excel else "\n")
                writer.writerow(headers[name])
                writer.writerows(rows)
            counts[name] = len(rows)
        for name, lines in (("resend.ndjson", resend), ("segment.ndjson", self._segment(sampled))):
            with open(os.path.join(directory, name), "w", encoding="utf-8", newline="") as fh:
                fh.write("".join(line + "\n" for line in lines))
            counts[name] = len(lines)
        return counts

    def _owner(self, rng: random.Random, status: str) -> str:
        if rng.random() < 0.15:
            return ""
        if status == "Customer":
            department = "Customer Success"
        elif status == "Qualified":
            department = "Sales"
        else:
            department = rng.choice(("Marketing", "Sales", "Sales"))
        return rng.choice([name for name, dep in ORCHESTRATORS.items() if dep == department])

    @staticmethod
    def _lead_status(types: frozenset[str]) -> str:
        if types & {"deal_closed", "purchase"}:
            return "Customer"
        if types & {"unsubscribed", "email_complained"}:
            return "Unsubscribed"
        if "demo_booked" in types:
            return "Qualified"
        if types & {"download", "webinar_joined", "email_replied", "pricing_viewed"}:
            return "Engaged"
        if types & {"email_opened", "email_clicked"}:
            return "Contacted"
        return "New"

    def _person_row(
        self,
        rng: random.Random,
        full_name: str,
        email: str,
        company: str,
        industry: str,
        channel: str,
        status: str,
        added: dt.datetime,
    ) -> list[str]:
        country, timezone, prefix = rng.choice(COUNTRIES)
        phone = (
            ""
            if rng.random() < 0.2
            else f"{prefix} {rng.randint(100, 999)} {rng.randint(100000, 9999999)}"
        )
        roll = rng.random()
        if roll < 0.07:
            email = rng.choice((email.title(), email.upper()))
        elif roll < 0.1:
            email = f" {email} "
        if rng.random() < 0.2:
            channel = rng.choice((channel.title(), channel.upper(), f" {channel}"))
        date_added = added.date().isoformat()
        if rng.random() < 0.15:
            date_added = added.strftime(rng.choice(("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M")))
        return [
            full_name,
            email,
            phone,
            company,
            rng.choice(ROLES),
            industry,
            country,
            timezone,
            channel,
            status,
            rng.choice(SHEET_TAGS),
            rng.choice(SHEET_NOTES) if rng.random() < 0.12 else "",
            date_added,
            self._owner(rng, status),
        ]

    def _contacts_rows(self, contacts: list[_SheetContact]) -> list[list[str]]:
        rows: list[tuple[dt.datetime, int, list[str]]] = []
        for c in contacts:
            rng = self._rng("sheet-row", c.number)
            # added to the sheet 1-45 days before the first event
            added = dt.datetime.combine(
                c.first_at.date() - dt.timedelta(days=rng.randint(1, 45)),
                dt.time(rng.randint(8, 18), rng.randint(0, 59)),
            )
            row = self._person_row(
                rng,
                c.full_name,
                c.email,
                c.company,
                c.industry,
                c.channel,
                self._lead_status(c.types),
                added,
            )
            rows.append((added, c.number, row))
        rng = self._rng("sheet-only")
        span = int((self.end_limit - self.start).total_seconds())
        companies = _Companies(self.seed, 500)
        only = round(SHEET_ONLY_SHARE * len(self.seen))
        dirty = 2 + len(contacts) // 400
        for index in range(only + 2 * dirty):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            company, industry, domain = companies.get(rng.randrange(500))
            email = f"{first}.{last}.s{index + 1}@{domain}"
            added = self.start + dt.timedelta(seconds=rng.randrange(span))
            channel = rng.choices(list(CHANNELS), [share for share, _ in CHANNELS.values()])[0]
            status = rng.choice(("New", "New", "Contacted"))
            row = self._person_row(
                rng,
                f"{first.title()} {last.title()}",
                email,
                company,
                industry,
                channel,
                status,
                added,
            )
            if index >= only + dirty:
                row[12] = rng.choice(BAD_SHEET_DATES)  # a date nobody can parse for sure
            elif index >= only:
                row[1] = rng.choice(MALFORMED_EMAILS)
            rows.append((added, -index, row))
        rows.sort(key=lambda item: (item[0], item[1]))
        return [row for _, _, row in rows]

    def _spend_rows(self) -> list[list[str]]:
        rng = self._rng("spend")
        rows: list[list[str]] = []
        day = self.start.date()
        while day <= self.end_limit.date():
            weekend = day.weekday() >= 5
            for channel, (base, currency) in SPEND_CHANNELS.items():
                amount = base * (0.55 if weekend else 1.0) * rng.lognormvariate(0, 0.25)
                rows.append([day.isoformat(), channel, f"{amount:.2f}", currency])
            day += dt.timedelta(days=1)
        # a couple of bad rows: a decimal comma, an impossible date, an unknown currency
        bad = [
            [rows[len(rows) // 3][0], "linkedin", "1.234,56", "USD"],
            ["2025-02-30", "paid_search", "150.00", "EUR"],
            [rows[2 * len(rows) // 3][0], "partner", "80.00", "EURO"],
        ]
        for row in bad:
            rows.insert(rng.randrange(len(rows) + 1), row)
        return rows

    def _campaign_rows(self) -> list[list[str]]:
        rows = []
        recent = self.end_limit - dt.timedelta(days=30)
        for campaign in sorted(self.campaigns):
            first, last = self.campaigns[campaign]
            rng = self._rng("campaign", campaign)
            theme, _, serial = campaign.removeprefix("cmp-").rpartition("-")
            name, goal, segment = CAMPAIGN_THEMES_INFO.get(
                theme, (theme.replace("-", " ").title(), "", "")
            )
            starts = first.date() - dt.timedelta(days=rng.randint(0, 3))
            if last >= recent:
                status, ends = "active", ""
            else:
                status = "paused" if rng.random() < 0.05 else "completed"
                ends = (last.date() + dt.timedelta(days=rng.randint(0, 7))).isoformat()
            owner = (
                "Sofia Rossi"
                if theme != "outbound"
                else rng.choice(("Amara Okafor", "Jonas Weber"))
            )
            rows.append(
                [
                    campaign,
                    f"{name} {serial}",
                    goal,
                    "email",
                    status,
                    starts.isoformat(),
                    ends,
                    segment,
                    owner,
                ]
            )
        return rows

    def _resend(
        self, contacts: list[_SheetContact]
    ) -> tuple[list[str], dict[str, tuple[dt.datetime, dt.datetime]]]:
        """Resend webhook payloads of the monthly broadcasts to the sampled contacts."""
        span = self.end_limit - self.start
        sends = [
            (
                f"cmp-broadcast-{index + 1:02d}",
                self.start + span * (index + 0.5) / BROADCASTS,
                _uuid(self._rng("broadcast", index)),
            )
            for index in range(BROADCASTS)
        ]
        used: dict[str, tuple[dt.datetime, dt.datetime]] = {}
        events: list[tuple[dt.datetime, str, int, dict[str, Any]]] = []
        for c in contacts:
            rng = self._rng("resend", c.number)
            eligible = [send for send in sends if send[1] >= c.first_at]
            for campaign, when, broadcast_id in rng.sample(eligible, min(len(eligible), 2)):
                at = when.replace(hour=9, minute=0, second=0, microsecond=0)
                at += dt.timedelta(seconds=rng.randint(0, 3600), milliseconds=rng.randint(0, 999))
                for step in (1, 2):
                    opened = self._resend_email(rng, c, campaign, broadcast_id, step, at, events)
                    if opened or step == 2 or rng.random() < 0.5:
                        break
                    at += dt.timedelta(days=3)  # a follow-up to those who did not open
        events = [event for event in events if event[0] <= self.end_limit]
        for at, _, _, payload in events:
            campaign = self._tag(payload, "campaign_id")
            first, last = used.get(campaign, (at, at))
            used[campaign] = (min(first, at), max(last, at))
        events.sort(key=lambda event: (event[0], event[1], event[2]))
        lines = [json.dumps(payload, ensure_ascii=False) for _, _, _, payload in events]
        return lines, used

    @staticmethod
    def _tag(payload: dict[str, Any], name: str) -> str:
        tags = payload["data"]["tags"]
        if isinstance(tags, dict):
            return str(tags[name])
        return next(str(tag["value"]) for tag in tags if tag["name"] == name)

    def _resend_email(
        self,
        rng: random.Random,
        c: _SheetContact,
        campaign: str,
        broadcast_id: str,
        step: int,
        at: dt.datetime,
        events: list[tuple[dt.datetime, str, int, dict[str, Any]]],
    ) -> bool:
        """The webhook events of one email; return whether it was opened."""
        email_id = _uuid(rng)
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
                "created_at": _iso_ms(at),
                "email_id": email_id,
                "from": "Crm Funnel <news@crm-funnel.example>",
                "to": [to],
                "subject": subject,
                "tags": tags,
                **extra,
            }
            payload = {"type": f"email.{kind}", "created_at": _iso_ms(when), "data": data}
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
                    "timestamp": _iso_ms(clicked),
                    "userAgent": rng.choice(USER_AGENTS),
                },
            )
        return True

    def _segment(self, contacts: list[_SheetContact]) -> list[str]:
        """Segment-spec identify and track calls for the sampled contacts."""
        calls: list[tuple[dt.datetime, str, dict[str, Any]]] = []
        for c in contacts:
            self._segment_contact(c, calls)
        calls = [item for item in calls if item[0] <= self.end_limit]
        calls.sort(key=lambda item: (item[0], item[1]))
        return [json.dumps(payload, ensure_ascii=False) for _, _, payload in calls]

    def _segment_contact(
        self, c: _SheetContact, calls: list[tuple[dt.datetime, str, dict[str, Any]]]
    ) -> None:
        rng = self._rng("segment", c.number)
        user_id = f"usr_{hashlib.md5(c.email.encode()).hexdigest()[:12]}"
        anonymous_id = _uuid(rng)
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
                    "timestamp": _iso_ms(when),
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
                {"email_id": _uuid(rng), "campaign_id": cmp_id, "email_subject": "Hello"},
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


def _open_output(path: str) -> tuple[IO[bytes], IO[bytes] | None]:
    """Return (stream to write, underlying file to close or None for stdout)."""
    if path == "-":
        return sys.stdout.buffer, None
    raw = open(path, "wb")  # noqa: SIM115 - closed by the caller
    if path.endswith(".gz"):
        # mtime=0 and no file name in the header: same arguments, same bytes.
        return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6), raw
    return raw, raw


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.end < args.start:
            raise UsageError(f"--end {args.end} is before --start {args.start}")
        sheets = None
        if args.sheets is not None:
            try:
                os.makedirs(args.sheets, exist_ok=True)
            except OSError as exc:
                raise UsageError(
                    f"cannot create --sheets {args.sheets}: {exc.strerror or exc}"
                ) from None
            if not os.access(args.sheets, os.W_OK):
                raise UsageError(f"cannot write into --sheets {args.sheets}: permission denied")
            sheets = SheetRecorder(args.seed, args.start, args.end)
        try:
            out, raw = _open_output(args.out)
        except OSError as exc:
            raise UsageError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        try:
            generator = generate(
                out, args.events, args.seed, args.dirty_rate, args.start, args.end, sheets
            )
        finally:
            if raw is None:
                out.flush()
            else:
                out.close()
                raw.close()
        sheet_counts = sheets.write(args.sheets) if sheets is not None else None
    except BrokenPipeError:
        # `funnel-generate --out - | head`: the reader left; that is not an error.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = exc.filename or args.out
        print(f"{PROG}: error: cannot write {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(
            f"{PROG}: wrote {args.events} lines ({generator.dirty_written} dirty) to {args.out}",
            file=sys.stderr,
        )
        if sheet_counts is not None:
            files = ", ".join(f"{name} ({n:,})" for name, n in sheet_counts.items())
            print(f"{PROG}: wrote {files} to {args.sheets}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
