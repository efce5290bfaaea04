"""Companies, and the contacts the sheets and webhooks know about."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from crm_funnel.devtools.generate.vocabulary import (
    COMPANY_SUFFIX_BY_INDUSTRY,
    COMPANY_WORDS,
    INDUSTRIES,
    TLDS,
)


class Companies:
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


class SheetContact:
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
