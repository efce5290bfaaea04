"""The ``--sheets`` files: contacts sheet, spend, campaigns (and the webhook and queue files)."""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
from typing import Any

from crm_funnel.devtools.generate.people import Companies, SheetContact
from crm_funnel.devtools.generate.queue import QueueRecorder
from crm_funnel.devtools.generate.vocabulary import (
    CHANNELS,
    FIRST_NAMES,
    LAST_NAMES,
    MALFORMED_EMAILS,
)
from crm_funnel.devtools.generate.webhooks import resend_lines, segment_lines

# What --sheets DIR writes besides the events (README, "Spreadsheet inputs"):
SHEET_SHARE = 0.30  # event contacts that are also in the contacts sheet
SHEET_ONLY_SHARE = 0.05  # sheet-only contacts (no events), relative to the event contacts
WEBHOOK_SHARE = 0.10  # event contacts that also appear in resend.ndjson / segment.ndjson
SHEET_FILES = (
    "contacts.csv",
    "spend.csv",
    "campaigns.csv",
    "resend.ndjson",
    "segment.ndjson",
    "queue.ndjson",
)
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
        self.contacts: dict[int, SheetContact] = {}
        self.seen: set[int] = set()  # contact numbers with at least one event in the file
        self.campaigns: dict[str, tuple[dt.datetime, dt.datetime]] = {}
        self.queue = QueueRecorder(seed, self.end_limit)

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
        self.queue.contact(number, email, events)
        rng = self._rng("contact", number)
        in_sheet = rng.random() < SHEET_SHARE
        in_webhooks = rng.random() < WEBHOOK_SHARE
        if in_sheet or in_webhooks:
            self.contacts[number] = SheetContact(
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
        """Write the six files to ``directory``; return rows (lines) per file."""
        seen = [c for _, c in sorted(self.contacts.items()) if c.seen]
        sampled = [c for c in seen if c.in_webhooks]
        resend, broadcasts = resend_lines(sampled, self._rng, self.start, self.end_limit)
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
        segment = segment_lines(sampled, self._rng, self.end_limit)
        queue = self.queue.lines(self.seen)
        for name, lines in (
            ("resend.ndjson", resend),
            ("segment.ndjson", segment),
            ("queue.ndjson", queue),
        ):
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

    def _contacts_rows(self, contacts: list[SheetContact]) -> list[list[str]]:
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
        companies = Companies(self.seed, 500)
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
