"""End to end: generate -> `funnel-load` -> `dbt build` -> marts == the Python reference.

Each scenario generates ~3,000 events with dirty records, loads them (and a two-row
contacts sheet) with the real `funnel-load` console script, runs the real `dbt build`
against a throw-away DuckDB file or PostgreSQL database, and compares the marts (the
suppression list included) with ``reference.py``: an independent
implementation of the written rules that never reads the SQL. All differences of a
scenario are collected and reported together (contact by contact, row by row).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import math
import os
import subprocess
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import queue_reference  # noqa: E402
import reference  # noqa: E402
from conftest import REPO_ROOT, ProfileRef, run_dbt  # noqa: E402

BIN = Path(sys.executable).parent
EVENTS = 3000
SEED = 20260701
END = "2026-06-30"
DEFAULT_AS_OF = "2026-07-01T00:00:00Z"
SUBPROCESS_TIMEOUT = 600

PROJECT_VARS: dict[str, Any] = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]


def _custom_vars() -> dict[str, Any]:
    weights = dict(PROJECT_VARS["intent_weights"])
    weights.update(view=5, email_opened=8, pricing_viewed=40, demo_booked=60)
    weights.pop("login", None)  # a type missing from the map scores 0
    return {
        "as_of": "2026-08-15T12:00:00Z",
        "mql_score_threshold": 35,
        "sql_score_threshold": 90,
        "intent_half_life_days": 60,
        "intent_weights": weights,
        "mql_trigger_events": ["download"],
        "unknown_channel": "not set",
        # Lifecycle rules away from their defaults (the edge cases hit both boundaries).
        "reporting_currency": "USD",
        "dormant_after_days": 60,
        "warm_min_opens": 2,
        "reengagement_max_attempts": 2,
        "reengagement_cooldown_days": 10,
        "vip_min_referrals": 2,
        "queue_hot_idle_days": 5,
        "queue_lookback_days": 60,
    }


SCENARIOS = {
    "duckdb-default-vars": ("duckdb", {"as_of": DEFAULT_AS_OF}),
    "duckdb-custom-vars": ("duckdb", _custom_vars()),
    # The same instant as the DuckDB run, written with an offset.
    "postgres-custom-vars": ("postgres", {**_custom_vars(), "as_of": "2026-08-15T14:00:00+02:00"}),
}


def rules_for(overrides: dict[str, Any]) -> dict[str, Any]:
    rules = {**PROJECT_VARS, **overrides}
    rules.setdefault("valid_email_regex", r"^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$")
    return rules


# --------------------------------------------------------------------------- helpers


def run(args: list[str], what: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        env={**os.environ, **(env or {})},
        cwd=REPO_ROOT,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        pytest.fail(f"{what} failed (exit {result.returncode}):\n{tail}", pytrace=False)
    return result.stdout


@pytest.fixture(scope="module")
def event_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three files, loaded in this order (then the first one again).

    ``part-1.ndjson.gz`` holds lines 1-2000 of the generated file and ``part-2.ndjson``
    lines 1501-3000, so 500 lines land twice: duplicates across loads; the third file
    holds the hand-written edge cases of ``edge_case_lines``.
    """
    folder = tmp_path_factory.mktemp("events")
    full = folder / "generated.ndjson"
    run(
        [
            str(BIN / "funnel-generate"),
            "--events",
            str(EVENTS),
            "--seed",
            str(SEED),
            "--end",
            END,
            "--dirty-rate",
            "0.02",
            "--out",
            str(full),
            "--quiet",
        ],
        "funnel-generate",
    )
    lines = full.read_bytes().splitlines(keepends=True)
    first, second = folder / "part-1.ndjson.gz", folder / "part-2.ndjson"
    with gzip.open(first, "wb") as handle:
        handle.writelines(lines[:2000])
    second.write_bytes(b"".join(lines[1500:]))
    edges = folder / "part-3-edge-cases.ndjson"
    edges.write_bytes(b"".join(edge_case_lines()))
    return [first, second, edges]


def _edge(email: Any, event_type: Any, event_time: Any, **extra: Any) -> dict[str, Any]:
    record = {"email": email, "event_type": event_type, "event_time": event_time}
    record.update(extra)
    return record


def lifecycle_edge_records(domain: str) -> list[dict[str, Any]]:
    """Edge cases of the lifecycle engine, the queue and the nurture lists.

    Default vars: as_of 2026-07-01T00:00Z, dormant 90 days, 3 attempts per 14-day window,
    VIP at 25,000 EUR or 3 referrals, hot idle 3 days, lookback 30 days. Custom vars:
    as_of 2026-08-15T12:00Z, dormant 60, 2 attempts per 10-day window, VIP at 25,000 USD
    or 2 referrals, hot idle 5 days, lookback 60 days (records after 2026-07-02 are
    quarantined in the default scenario).
    """

    def edge(name: str, event_type: str, at: str, event_id: str, **properties: Any):
        extra = {"properties": properties} if properties else {}
        return _edge(f"{name}@{domain}", event_type, at, event_id=f"edge-{event_id}", **extra)

    return [
        # Manual overrides: stripped state and set_by; an email_sent does not end it
        # (Hot by override, idle since the email).
        edge("override", "view", "2026-01-10T00:00:00Z", "100"),
        edge(
            "override",
            "manual_override",
            "2026-01-11T00:00:00Z",
            "101",
            state=" Hot ",
            set_by=" ana.ops ",
        ),
        edge("override", "email_sent", "2026-01-15T00:00:00Z", "102"),
        # Invalid states are quarantined (case-sensitive, missing, properties not an object).
        edge("override-bad", "view", "2026-01-10T00:00:00Z", "103"),
        edge("override-bad", "manual_override", "2026-01-11T00:00:00Z", "104", state="hot"),
        edge("override-bad", "manual_override", "2026-01-12T00:00:00Z", "105"),
        _edge(
            f"override-bad@{domain}",
            "manual_override",
            "2026-01-13T00:00:00Z",
            event_id="edge-106",
            properties=["Hot"],
        ),
        # An engagement ends the override (Disqualified -> Hot, exempt from the seed).
        edge("override-end", "download", "2026-02-01T00:00:00Z", "107"),
        edge(
            "override-end",
            "manual_override",
            "2026-02-02T00:00:00Z",
            "108",
            state="Disqualified",
            set_by="bob",
        ),
        edge("override-end", "pricing_viewed", "2026-02-10T00:00:00Z", "109"),
        # An opt-out ends it too.
        edge(
            "override-optout",
            "manual_override",
            "2026-03-01T00:00:00Z",
            "110",
            state="Customer",
            set_by="cara",
        ),
        edge("override-optout", "unsubscribed", "2026-03-05T00:00:00Z", "111"),
        # An engagement at the override's own instant does not end it; the trigger is the
        # override although the view sorts last by activity_id.
        edge("override-same", "view", "2026-03-10T00:00:00Z", "113b"),
        edge("override-same", "manual_override", "2026-03-10T00:00:00Z", "113a", state="Warm"),
        # Suppression: a person-set Unsubscribed is not undone by a view 12 minutes later,
        # nor by an open; only a resubscribe lifts an opt-out (not one at the same instant).
        edge("unsub-view", "email_opened", "2026-05-01T00:00:00Z", "210"),
        edge(
            "unsub-view",
            "manual_override",
            "2026-05-01T10:00:00Z",
            "211",
            state="Unsubscribed",
            set_by="ops",
        ),
        edge("unsub-view", "view", "2026-05-01T10:12:00Z", "212"),
        edge("unsub-open", "download", "2026-05-01T00:00:00Z", "213"),
        edge(
            "unsub-open",
            "manual_override",
            "2026-05-02T00:00:00Z",
            "214",
            state="Unsubscribed",
            set_by="ops",
        ),
        edge("unsub-open", "email_opened", "2026-05-03T00:00:00Z", "215"),
        edge("resub", "email_opened", "2026-05-01T00:00:00Z", "216"),
        edge("resub", "unsubscribed", "2026-05-10T00:00:00Z", "217"),
        edge("resub", "resubscribe", "2026-05-20T00:00:00Z", "218"),
        edge("resub-same", "email_clicked", "2026-05-01T00:00:00Z", "219"),
        edge("resub-same", "unsubscribed", "2026-05-10T00:00:00Z", "220"),
        edge("resub-same", "resubscribed", "2026-05-10T00:00:00Z", "221"),
        # An unsubscribe quarantined only for its timestamp still opts out (at its load
        # time), also for an email with no valid event at all.
        edge("unsub-quarantined", "view", "2026-05-01T00:00:00Z", "222"),
        edge("unsub-quarantined", "unsubscribe", "not a time", "223"),
        _edge(f"unsub-only@{domain}", "unsubscribed", None, event_id="edge-224"),
        # A page view; the contacts sheet (SHEET_CONTACTS) says Unsubscribed.
        edge("sheet-unsub", "view", "2026-04-01T00:00:00Z", "225"),
        # A customer with an earlier hard bounce, and one bounced after buying: both stay
        # customers (undeliverable address); a non-client with a hard bounce is below.
        edge("bounce-buyer", "email_opened", "2026-02-01T00:00:00Z", "226"),
        edge("bounce-buyer", "email_bounced", "2026-02-02T00:00:00Z", "227", bounce_type="hard"),
        edge("bounce-buyer", "purchase", "2026-06-10T00:00:00Z", "228", amount=800),
        edge("buyer-bounced", "purchase", "2026-06-01T00:00:00Z", "229", amount=30000),
        edge("buyer-bounced", "email_bounced", "2026-06-02T00:00:00Z", "230", bounce_type="hard"),
        # A person disqualified a contact: suppressed as disqualified by manual_override.
        edge("disq-manual", "view", "2026-05-01T00:00:00Z", "231"),
        edge(
            "disq-manual",
            "manual_override",
            "2026-05-02T00:00:00Z",
            "232",
            state="Disqualified",
            set_by="ops",
        ),
        # Bounces: only a hard bounce type disqualifies.
        edge("hard-bounce", "email_opened", "2026-05-01T00:00:00Z", "120"),
        edge("hard-bounce", "email_bounced", "2026-05-02T00:00:00Z", "121", bounce_type=" HARD "),
        edge("soft-bounce", "email_opened", "2026-05-01T00:00:00Z", "122"),
        edge("soft-bounce", "email_bounced", "2026-05-02T00:00:00Z", "123", bounce_type="soft"),
        # VIP by revenue in two currencies (15,000 EUR + 12,000 USD); never touched.
        edge("vip-money", "purchase", "2026-04-01T00:00:00Z", "130", amount=15000, currency="eur "),
        edge(
            "vip-money",
            "deal_closed",
            "2026-04-20T00:00:00Z",
            "131",
            amount="12000",
            currency="USD",
        ),
        # Not VIP: an unknown currency and a non-numeric amount count 0; no currency is
        # the reporting currency.
        edge("not-vip", "purchase", "2026-04-01T00:00:00Z", "132", amount=50000, currency="XYZ"),
        edge("not-vip", "purchase", "2026-04-02T00:00:00Z", "133", amount="lots"),
        edge("not-vip", "purchase", "2026-04-03T00:00:00Z", "134", amount=20000),
        # VIP by referrals with the custom vars only (2 of 3).
        edge("referrer", "referral_given", "2026-05-10T00:00:00Z", "135"),
        edge("referrer", "referral_given", "2026-05-20T00:00:00Z", "136"),
        # Customer -> Alumni.
        edge("alumni", "purchase", "2026-02-01T00:00:00Z", "140", amount=500),
        edge("alumni", "training_completed", "2026-03-01T00:00:00Z", "141"),
        # Dormant exactly at as_of (a virtual moment at as_of), one second short, and the
        # custom boundary (60 days before 2026-08-15T12:00Z).
        edge("dormant-edge", "view", "2026-04-02T00:00:00Z", "150"),
        edge("dormant-edge2", "view", "2026-04-02T00:00:01Z", "151"),
        edge("dormant-edge-c", "view", "2026-06-16T12:00:00Z", "152"),
        # Exhaustion: default spell from 2026-03-01, windows 0, 0, 1, 2 -> exhausted at
        # 2026-04-12; custom spell from 2026-01-30, windows 3, 3, 4 -> exhausted 2026-03-21.
        edge("exhaust", "email_opened", "2025-12-01T00:00:00Z", "160"),
        edge("exhaust", "email_sent", "2026-03-02T00:00:00Z", "161"),
        edge("exhaust", "email_sent", "2026-03-03T00:00:00Z", "162"),
        edge("exhaust", "email_sent", "2026-03-16T00:00:00Z", "163"),
        edge("exhaust", "email_sent", "2026-03-30T00:00:00Z", "164"),
        # A click ends the spell (Dormant -> Engaged), then a second spell starts.
        edge("revive", "email_opened", "2025-11-01T00:00:00Z", "170"),
        edge("revive", "email_sent", "2026-02-05T00:00:00Z", "171"),
        edge("revive", "email_clicked", "2026-02-20T00:00:00Z", "172"),
        # Two touches in one window are one attempt (at the first); the cooldown has not
        # passed at the default as_of, it has at the custom one.
        edge("dormant-wait", "email_opened", "2026-03-01T00:00:00Z", "175"),
        edge("dormant-wait", "email_sent", "2026-06-25T00:00:00Z", "176"),
        edge("dormant-wait", "email_sent", "2026-06-26T00:00:00Z", "177"),
        # A reply waiting for an answer, and one answered.
        edge("reply-wait", "email_sent", "2026-06-20T00:00:00Z", "180"),
        edge("reply-wait", "email_replied", "2026-06-25T00:00:00Z", "181"),
        edge("reply-done", "email_replied", "2026-06-25T00:00:00Z", "182"),
        edge("reply-done", "email_sent", "2026-06-26T00:00:00Z", "183"),
        # A complaint, and one handled by a later manual override.
        edge("complain", "email_opened", "2026-06-10T00:00:00Z", "185"),
        edge("complain", "email_complained", "2026-06-20T00:00:00Z", "186"),
        edge("complain-handled", "email_complained", "2026-06-20T00:00:00Z", "187"),
        edge(
            "complain-handled",
            "manual_override",
            "2026-06-21T00:00:00Z",
            "188",
            state="Unsubscribed",
            set_by="ops",
        ),
        # Hot and idle exactly queue_hot_idle_days (default; custom), one second short.
        edge("hot-idle", "pricing_viewed", "2026-06-28T00:00:00Z", "190"),
        edge("hot-fresh", "pricing_viewed", "2026-06-28T00:00:01Z", "191"),
        edge("hot-idle-c", "pricing_viewed", "2026-06-01T00:00:00Z", "192"),
        edge("hot-idle-c", "view", "2026-08-10T12:00:00Z", "193"),
        # A new SQL, and one touched at the same instant.
        edge("new-sql", "view", "2026-06-15T00:00:00Z", "195"),
        edge("new-sql", "demo_booked", "2026-06-20T00:00:00Z", "196"),
        edge("new-sql-touched", "demo_booked", "2026-06-20T10:00:00Z", "197"),
        edge("new-sql-touched", "email_sent", "2026-06-20T10:00:00Z", "198"),
        # A stalled new customer (last onboarding 2026-06-05), one still within 7 days.
        edge("stalled", "purchase", "2026-06-01T00:00:00Z", "200", amount=900, currency="GBP"),
        edge("stalled", "login", "2026-06-05T00:00:00Z", "201"),
        edge("onboarding-ok", "purchase", "2026-06-20T00:00:00Z", "202"),
        edge("onboarding-ok", "login", "2026-06-28T00:00:00Z", "203"),
        # Typed properties: a decimal string, a lower-case currency, dates and times.
        edge(
            "props",
            "deal_closed",
            "2026-05-01T00:00:00Z",
            "205",
            amount="1200.50",
            currency=" gbp",
            contract_end="2026-09-30T00:00:00Z",
        ),
        edge(
            "props",
            "demo_booked",
            "2026-05-02T00:00:00Z",
            "206",
            scheduled_at="2026-07-10T15:00:00+02:00",
            campaign_id=" cmp-x ",
        ),
        edge("props", "demo_booked", "2026-05-03T00:00:00Z", "207", scheduled_at="next week"),
        edge(
            "props",
            "purchase",
            "2026-05-04T00:00:00Z",
            "208",
            amount=100,
            currency="USD",
            contract_end="2026-02-30",
        ),
    ]


# The contacts sheet every scenario loads (`funnel-load --kind contacts`) before the build.
SHEET_HEADER = ["Full Name", "Email", "Channel of Origin", "Lead Status", "Date Added"]
SHEET_CONTACTS = [
    ["Sheet Unsub", " Sheet-Unsub@Edge-Case.io ", "Webinar", " Unsubscribed ", "2026-03-01"],
    ["Sheet Lead", "sheet-lead@edge-case.io", "Partner", "New", "2026-04-15"],
]


def sheet_reference_rows(wh: Warehouse) -> list[dict[str, Any]]:
    """SHEET_CONTACTS as the reference reads them, with their load time from the warehouse."""
    (loaded_at,) = {row["loaded_at"] for row in wh.rows("select loaded_at from raw.sheet_rows")}
    return [
        {
            "email": email,
            "channel_of_origin": channel,
            "lead_status": status,
            "added_at": dt.datetime.fromisoformat(added),
            "loaded_at": loaded_at,
        }
        for _, email, channel, status, added in SHEET_CONTACTS
    ]


def edge_case_lines() -> list[bytes]:
    """Hand-written records at the edges of the rules (a third load in every scenario).

    Boundaries of both scenarios' as_of are included: default as_of 2026-07-01T00:00Z
    (latest valid 2026-07-02T00:00Z), custom as_of 2026-08-15T12:00Z (latest valid
    2026-08-16T12:00Z).
    """
    domain = "edge-case.io"
    records: list[Any] = [
        # Time range: min_event_date is inclusive, so is as_of + future_tolerance_hours.
        _edge(f"range@{domain}", "view", "2000-01-01T00:00:00Z", event_id="edge-01"),
        _edge(f"range@{domain}", "view", "1999-12-31T23:59:59.999999Z", event_id="edge-02"),
        _edge(f"range@{domain}", "click", "2000-01-01T00:59:59+01:00", event_id="edge-03"),
        _edge(f"range@{domain}", "click", "2026-07-02T00:00:00Z", event_id="edge-04"),
        _edge(f"range@{domain}", "click", "2026-07-02T00:00:00.000001Z", event_id="edge-05"),
        _edge(f"range@{domain}", "download", "2026-08-16T12:00:00Z", event_id="edge-06"),
        _edge(f"range@{domain}", "view", "2026-08-16T14:00:00.000001+02:00", event_id="edge-07"),
        # Queue actions and logged interactions: what each must say (an outbound
        # interaction is a touch, an inbound one is not).
        *(
            _edge(
                f"queue@{domain}",
                event_type,
                "2026-05-01T10:00:00Z",
                event_id=key,
                properties=props,
            )
            for key, event_type, props in (
                ("edge-q1", "queue_item_resolved", {"outcome": "replied"}),
                ("edge-q2", "queue_item_snoozed", {"queue_item_id": "x", "until": "monday"}),
                ("edge-q3", "queue_item_escalated", {"queue_item_id": "x", "to": " "}),
                ("edge-q4", "interaction_logged", {"direction": "sideways"}),
                (
                    "edge-q5",
                    "interaction_logged",
                    {"direction": "inbound", "interaction_channel": "fax"},
                ),
                ("edge-q6", "interaction_logged", {"direction": "outbound", "outcome": "maybe"}),
                (
                    "edge-q7",
                    "interaction_logged",
                    {"direction": "outbound", "initiated_by": "robot"},
                ),
                ("edge-q8", "interaction_logged", {"direction": "Inbound", "outcome": "replied"}),
                (
                    "edge-q9",
                    "interaction_logged",
                    {"direction": "outbound", "interaction_channel": "Call"},
                ),
            )
        ),  # fmt: skip
        # Timestamp syntax and calendar.
        _edge(f"times@{domain}", "view", "2025-03-04 10:11:12Z", event_id="edge-10"),
        _edge(f"times@{domain}", "view", "2025-03-04T10:11+0530", event_id="edge-11"),
        _edge(f"times@{domain}", "view", "2025-03-05T10:11:12+14:00", event_id="edge-12"),
        _edge(f"times@{domain}", "view", "2025-03-05T10:11:12-12:00", event_id="edge-13"),
        _edge(f"times@{domain}", "view", "2025-03-07T10:11:12+18:59", event_id="edge-14"),
        _edge(f"times@{domain}", "view", "2024-02-29T00:00:00Z", event_id="edge-15"),
        _edge(f"times@{domain}", "view", "2000-02-29", event_id="edge-16"),
        _edge(f"times@{domain}", "view", "2025-03-08T09:00:00.5-03", event_id="edge-17"),
        _edge(f"times@{domain}", "view", "2100-02-29T00:00:00Z", event_id="edge-18"),
        _edge(f"times@{domain}", "view", "2025-03-04T24:00:00Z", event_id="edge-19"),
        _edge(f"times@{domain}", "view", "2025-03-04T10:11:12,5Z", event_id="edge-20"),
        _edge(f"times@{domain}", "view", "2025-03-04T10:11:12.1234567Z", event_id="edge-21"),
        _edge(f"times@{domain}", "view", "2025-03-04T10:11:12+19:00", event_id="edge-22"),
        _edge(f"times@{domain}", "view", "2025-03-04T10:11:12+05:60", event_id="edge-23"),
        _edge(f"times@{domain}", "view", 20250304, event_id="edge-24"),
        _edge(f"times@{domain}", "view", "\t2025-03-09T10:00:00Z\r\n", event_id="edge-25"),
        _edge(f"times@{domain}", "view", " \t ", event_id="edge-26"),
        # Emails: only space, tab, CR, LF and FF are stripped.
        _edge(
            f"\fEdge.FF@{domain.upper()}\r\n", "view", "2025-04-01T00:00:00Z", event_id="edge-30"
        ),
        _edge(f"edge.ff@{domain}", "click", "2025-04-01T00:00:01Z", event_id="edge-31"),
        _edge(f"\u00a0nbsp@{domain}", "view", "2025-04-01T00:00:00Z", event_id="edge-32"),
        _edge(f"a+b%c_d-e@{domain}", "view", "2025-04-02T00:00:00Z", event_id="edge-33"),
        _edge("x@y.c", "view", "2025-04-02T00:00:00Z", event_id="edge-34"),
        _edge("x@edge..io", "view", "2025-04-02T00:00:00Z", event_id="edge-35"),
        _edge(12.0, "view", "2025-04-02T00:00:00Z", event_id="edge-36"),
        _edge(" \t ", "view", "2025-04-02T00:00:00Z", event_id="edge-37"),
        # Event types: aliases with inner spaces, non-string values, reason order.
        _edge(f"types@{domain}", " Page Viewed ", "2025-05-01T00:00:00Z", event_id="edge-40"),
        _edge(f"types@{domain}", "SIGNED UP", "2025-05-01T00:00:01Z", event_id="edge-41"),
        _edge(f"types@{domain}", 5, "2025-05-01T00:00:02Z", event_id="edge-42"),
        _edge(f"types@{domain}", "\t", "not a time", event_id="edge-43"),
        _edge("bad-email", "no_such_type", None, event_id="edge-44"),
        _edge(f"types@{domain}", "no_such_type", "garbage", event_id="edge-45"),
        # Event keys: whitespace ids, booleans and floats hash, int 777 == "777".
        _edge(f"keys@{domain}", "view", "2025-06-01T00:00:00Z", event_id=" "),
        _edge(f"keys@{domain}", "view", "2025-06-01T00:00:01Z", event_id=True),
        _edge(f"keys@{domain}", "view", "2025-06-01T00:00:02Z", event_id=1.5),
        _edge(f"keys@{domain}", "view", "2025-06-01T00:00:03Z", event_id=777),
        _edge(f"keys@{domain}", "click", "2025-06-01T00:00:04Z", event_id="777"),
        _edge(f"keys@{domain}", "view", "2025-06-01T00:00:05Z", event_id=10**30),
        _edge(f"keys@{domain}", "view", "2025-06-01T00:00:06Z"),
        _edge(f"keys@{domain}", "view", "2025-06-01T00:00:06Z"),
        _edge(f"keys@{domain}", "view", "2025-06-01T00:00:07Z", event_id=""),
        # Lead source: the earliest non-empty string wins; numbers and blanks do not count.
        _edge(
            f"source@{domain}",
            "view",
            "2025-07-01T00:00:00Z",
            event_id="edge-50",
            channel="LinkedIn",
            properties={"lead_source": 5},
        ),
        _edge(
            f"source@{domain}",
            "view",
            "2025-07-01T00:00:01Z",
            event_id="edge-51",
            channel="email",
            properties={"lead_source": "   "},
        ),
        _edge(
            f"source@{domain}",
            "view",
            "2025-07-01T00:00:02Z",
            event_id="edge-52",
            channel="email",
            properties={"lead_source": " Webinar\t"},
        ),
        _edge(
            f"source@{domain}",
            "view",
            "2025-07-01T00:00:03Z",
            event_id="edge-53",
            properties={"lead_source": "partner"},
        ),
        _edge(
            f"nosource@{domain}",
            "view",
            "2025-07-02T00:00:00Z",
            event_id="edge-54",
            channel="  ",
            properties=["lead_source", "x"],
        ),
        # Company / industry: the latest non-blank value of each, independently.
        _edge(
            f"company@{domain}",
            "view",
            "2025-08-01T00:00:00Z",
            event_id="edge-60",
            company="Old Co",
            industry="Retail",
        ),
        _edge(
            f"company@{domain}",
            "view",
            "2025-08-02T00:00:00Z",
            event_id="edge-61",
            company="  Caf\u00e9 Soci\u00e9t\u00e9 ",
            industry="   ",
        ),
        _edge(f"company@{domain}", "view", "2025-08-03T00:00:00Z", event_id="edge-62", company=""),
        # Stages: a score crossing on a follow_up (custom vars: 40+40+10 = 90 = SQL and
        # Opportunity at the same instant); a lone purchase; an opt-out before activity.
        _edge(f"tie@{domain}", "pricing_viewed", "2025-09-01T00:00:00Z", event_id="edge-70"),
        _edge(f"tie@{domain}", "pricing_viewed", "2025-09-01T00:10:00Z", event_id="edge-71"),
        _edge(f"tie@{domain}", "follow_up", "2025-09-01T00:20:00Z", event_id="edge-72"),
        _edge(f"buyer@{domain}", "order_completed", "2025-09-02T00:00:00Z", event_id="edge-73"),
        _edge(f"optout@{domain}", "spam_complaint", "2025-09-03T00:00:00Z", event_id="edge-74"),
        _edge(f"optout@{domain}", "demo_booked", "2025-09-04T00:00:00Z", event_id="edge-75"),
        _edge(f"login@{domain}", "login", "2025-09-05T00:00:00Z", event_id="edge-76"),
        _edge(f"login@{domain}", "logged_in", "2025-09-05T00:00:01Z", event_id="edge-77"),
        _edge(f"login@{domain}", "login", "2025-09-05T00:00:02Z", event_id="edge-78"),
        _edge(f"login@{domain}", "login", "2025-09-05T00:00:03Z", event_id="edge-79"),
        *lifecycle_edge_records(domain),
        # Valid JSON escapes the databases treat specially: \u0000 in a property is an
        # activity on both targets; a lone surrogate cannot be UTF-8, so it is a load error.
        _edge(
            f"nul@{domain}",
            "view",
            "2025-09-06T00:00:00Z",
            event_id="edge-80",
            properties={"note": "a\u0000b"},
        ),
        b'{"email": "lone@edge-case.io", "event_type": "view", "event_time": "2025-01-01",'
        b' "note": "\\ud800"}',
        # Not records: blank line, CRLF, NaN, invalid UTF-8, a JSON scalar.
        b"",
        b'{"email": "nan@edge-case.io", "event_type": "view", "event_time": "2025-01-01",'
        b' "properties": {"amount": NaN}}',
        b"\xff\xfe not utf-8",
        b"true",
    ]
    lines = []
    for record in records:
        if isinstance(record, bytes):
            lines.append(record + b"\n")
        else:
            lines.append(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
    lines[1] = lines[1].replace(b"\n", b"\r\n")  # one CRLF line
    return lines


def _plain(value: Any) -> Any:
    """Database values as plain Python: naive UTC datetimes, floats for decimals."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, Decimal):
        return float(value)
    return value


class Warehouse:
    def __init__(self, kind: str, connection: Any) -> None:
        self.kind = kind
        self.connection = connection

    def rows(self, sql: str) -> list[dict[str, Any]]:
        cursor = self.connection.cursor()
        cursor.execute(sql)
        names = [column[0] for column in cursor.description]
        out = [
            {name: _plain(value) for name, value in zip(names, row, strict=True)}
            for row in cursor.fetchall()
        ]
        cursor.close()
        return out

    def scalar(self, sql: str) -> Any:
        return next(iter(self.rows(sql)[0].values()))


class Differences:
    """Collects every mismatch of a scenario, so one run reports them all."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.by_area: Counter = Counter()

    def add(self, area: str, message: str) -> None:
        self.by_area[area] += 1
        self.items.append(f"[{area}] {message}")

    def check(self, area: str, ok: bool, message: str) -> None:
        if not ok:
            self.add(area, message)

    def report(self, limit: int = 80) -> str:
        head = ", ".join(f"{area}: {n}" for area, n in self.by_area.most_common())
        shown = "\n".join(self.items[:limit])
        more = f"\n... and {len(self.items) - limit} more" if len(self.items) > limit else ""
        return f"{len(self.items)} differences ({head}):\n{shown}{more}"


def same_number(actual: Any, expected: Any, tolerance: float) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    return math.isclose(float(actual), float(expected), rel_tol=tolerance, abs_tol=tolerance)


# --------------------------------------------------------------------------- comparisons


def compare_funnel(wh: Warehouse, exp: reference.Expected, diffs: Differences) -> None:
    actual = wh.rows("select * from marts.rpt_funnel order by stage_order")
    got = {row["funnel_stage"]: row for row in actual}
    diffs.check(
        "rpt_funnel",
        len(actual) == len(exp.rpt_funnel),
        f"{len(actual)} rows, expected {len(exp.rpt_funnel)}",
    )
    for want in exp.rpt_funnel:
        row = got.get(want["funnel_stage"])
        if row is None:
            diffs.add("rpt_funnel", f"stage {want['funnel_stage']} missing")
            continue
        for column in ("stage_order", "contacts_current", "contacts_reached"):
            diffs.check(
                "rpt_funnel",
                row[column] == want[column],
                f"{want['funnel_stage']}.{column} = {row[column]}, expected {want[column]}",
            )
        for column in ("conversion_to_next", "drop_off_rate"):
            diffs.check(
                "rpt_funnel",
                same_number(row[column], want[column], 1e-9),
                f"{want['funnel_stage']}.{column} = {row[column]}, expected {want[column]}",
            )


def compare_channels(wh: Warehouse, exp: reference.Expected, diffs: Differences) -> None:
    actual = wh.rows("select * from marts.rpt_channel_effectiveness")
    got = {(row["first_touch_channel"], row["funnel_stage"]): row for row in actual}
    want_rows = {
        (row["first_touch_channel"], row["funnel_stage"]): row
        for row in exp.rpt_channel_effectiveness
    }
    for key in sorted(set(got) - set(want_rows), key=str):
        diffs.add("rpt_channel_effectiveness", f"unexpected row {key}")
    for key, want in sorted(want_rows.items()):
        row = got.get(key)
        if row is None:
            diffs.add("rpt_channel_effectiveness", f"missing row {key}")
            continue
        for column in ("stage_order", "contacts_current", "contacts_reached"):
            diffs.check(
                "rpt_channel_effectiveness",
                row[column] == want[column],
                f"{key}.{column} = {row[column]}, expected {want[column]}",
            )
        for column in ("conversion_to_next", "conversion_from_lead"):
            diffs.check(
                "rpt_channel_effectiveness",
                same_number(row[column], want[column], 1e-9),
                f"{key}.{column} = {row[column]}, expected {want[column]}",
            )


def compare_intent(wh: Warehouse, exp: reference.Expected, diffs: Differences) -> None:
    got = {row["lead_source"]: row for row in wh.rows("select * from marts.rpt_intent_by_source")}
    want_rows = {row["lead_source"]: row for row in exp.rpt_intent_by_source}
    for source in sorted(set(got) - set(want_rows), key=str):
        diffs.add("rpt_intent_by_source", f"unexpected lead_source {source!r}")
    for source, want in sorted(want_rows.items()):
        row = got.get(source)
        if row is None:
            diffs.add("rpt_intent_by_source", f"missing lead_source {source!r}")
            continue
        diffs.check(
            "rpt_intent_by_source",
            row["contacts"] == want["contacts"],
            f"{source}.contacts = {row['contacts']}, expected {want['contacts']}",
        )
        for column in ("avg_intent_score", "median_intent_score"):
            diffs.check(
                "rpt_intent_by_source",
                same_number(row[column], want[column], 1e-6),
                f"{source}.{column} = {row[column]}, expected {want[column]}",
            )


def compare_rows(
    diffs: Differences,
    area: str,
    got: dict[Any, dict[str, Any]],
    want: dict[Any, dict[str, Any]],
    exact: tuple[str, ...],
    numeric: tuple[tuple[str, float], ...] = (),
) -> None:
    """Rows keyed alike: the same keys, and per key the same values in the given columns."""
    for key in sorted(set(got) - set(want), key=str):
        diffs.add(area, f"unexpected row {key}")
    for key in sorted(set(want) - set(got), key=str):
        diffs.add(area, f"missing row {key}")
    columns = [*exact, *(column for column, _ in numeric)]
    present = next(iter(got.values()), {})
    missing = [column for column in columns if got and column not in present]
    for column in missing:
        diffs.add(area, f"column {column} missing")
    tolerances = dict(numeric)
    for key, expected in sorted(want.items(), key=lambda item: str(item[0])):
        row = got.get(key)
        if row is None:
            continue
        for column in columns:
            if column in missing:
                continue
            actual, wanted = row[column], expected[column]
            if isinstance(wanted, bool) and actual is not None:
                actual = bool(actual)
            ok = (
                same_number(actual, wanted, tolerances[column])
                if column in tolerances
                else actual == wanted
            )
            diffs.check(
                f"{area}.{column}", ok, f"{key}: {column} = {actual!r}, expected {wanted!r}"
            )


def _keyed(rows: list[dict[str, Any]], *key: str) -> dict[Any, dict[str, Any]]:
    """Rows by their key columns (one column: the value; several: a tuple)."""
    return {(row[key[0]] if len(key) == 1 else tuple(row[k] for k in key)): row for row in rows}


CONTACT_EXACT = (
    "contact_id",
    "company",
    "industry",
    "first_touch_channel",
    "lead_source",
    "first_activity_at",
    "last_activity_at",
    "last_engagement_at",
    "events_total",
    "funnel_stage",
    "stage_order",
    "became_lead_at",
    "became_mql_at",
    "became_sql_at",
    "became_opportunity_at",
    "became_customer_at",
    "nurture_track",
    "is_opted_out",
    "is_email_deliverable",
    "suppression_reason",
    # lifecycle
    "lifecycle_state",
    "lifecycle_state_since",
    "lifecycle_funnel",
    "is_manual_override",
    "referrals_given",
    "last_outbound_touch_at",
    "last_signal_at",
    "dormant_since",
    "reengagement_attempts",
    "last_reengagement_attempt_at",
    "state_as_of",
)
CONTACT_NUMERIC = (
    ("lifetime_intent_score", 1e-9),
    ("intent_score", 1e-6),
    ("lifetime_revenue", 1e-6),
)
ACTIVITY_EXACT = (
    "event_type",
    "channel",
    "event_at",
    "currency",
    "bounce_type",
    "override_state",
    "override_set_by",
    "campaign_id",
    "contract_end_date",
    "scheduled_at",
)
ACTIVITY_NUMERIC = (("amount", 1e-9), ("amount_reporting", 1e-6))
TRANSITION_EXACT = (
    "from_state",
    "to_state",
    "transitioned_at",
    "trigger",
    "trigger_activity_id",
    "is_manual_override",
    "set_by",
)
QUEUE_EXACT = (
    "queue_item_id",
    "priority",
    "owner_department",
    "detected_at",
    "due_at",
    "orchestrator",
    "work_bucket",
)
NURTURE_EXACT = ("nurture_track", "cadence_days", "due_at", "days_overdue")
SUPPRESSION_EXACT = (
    "contact_id",
    "reason",
    "source",
    "suppressed_since",
    "is_email_deliverable",
    "is_email_only",
)


def compare_contacts(wh: Warehouse, exp: reference.Expected, diffs: Differences) -> None:
    got = _keyed(wh.rows("select * from marts.dim_contacts"), "email")
    compare_rows(diffs, "dim_contacts", got, exp.contacts, CONTACT_EXACT, CONTACT_NUMERIC)


def compare_activities(wh: Warehouse, exp: reference.Expected, diffs: Differences) -> None:
    rows = wh.rows("select * from marts.fct_activities")
    got = _keyed(rows, "activity_id")
    diffs.check("fct_activities", len(rows) == len(got), "activity_id is not unique")
    want = {key: vars(activity) for key, activity in exp.activities_by_key.items()}
    compare_rows(diffs, "fct_activities", got, want, ACTIVITY_EXACT, ACTIVITY_NUMERIC)


def compare_transitions(wh: Warehouse, exp: reference.Expected, diffs: Differences) -> None:
    rows = wh.rows(
        "select contacts.email, transitions.* from marts.fct_lifecycle_transitions as transitions"
        " left join marts.dim_contacts as contacts"
        " on transitions.contact_id = contacts.contact_id"
    )
    got = _keyed(rows, "email", "transition_number")
    diffs.check("fct_lifecycle_transitions", len(rows) == len(got), "key is not unique")
    compare_rows(diffs, "fct_lifecycle_transitions", got, exp.transitions, TRANSITION_EXACT)


def compare_queue(wh: Warehouse, exp: reference.Expected, diffs: Differences) -> None:
    rows = wh.rows("select * from marts.rpt_orchestrator_queue")
    got = _keyed(rows, "email", "queue_type")
    diffs.check("rpt_orchestrator_queue", len(rows) == len(got), "key is not unique")
    compare_rows(diffs, "rpt_orchestrator_queue", got, exp.queue, QUEUE_EXACT)


def compare_nurture(wh: Warehouse, exp: reference.Expected, diffs: Differences) -> None:
    rows = wh.rows("select * from marts.rpt_nurture_lists")
    got = _keyed(rows, "email")
    diffs.check("rpt_nurture_lists", len(rows) == len(got), "email is not unique")
    compare_rows(diffs, "rpt_nurture_lists", got, exp.nurture, NURTURE_EXACT)


def compare_suppression(wh: Warehouse, exp: reference.Expected, diffs: Differences) -> None:
    rows = wh.rows("select * from marts.rpt_suppression_list")
    got = _keyed(rows, "email")
    diffs.check("rpt_suppression_list", len(rows) == len(got), "email is not unique")
    compare_rows(diffs, "rpt_suppression_list", got, exp.suppression, SUPPRESSION_EXACT)


def compare_quarantine(wh: Warehouse, exp: reference.Expected, diffs: Differences) -> None:
    rows = wh.rows("select event_key, rejection_reason from marts.fct_quarantined_events")
    counts = Counter(row["rejection_reason"] for row in rows)
    diffs.check(
        "quarantine",
        counts == exp.quarantined,
        f"counts by reason {dict(sorted(counts.items()))}, "
        f"expected {dict(sorted(exp.quarantined.items()))}",
    )
    got = {row["event_key"]: row["rejection_reason"] for row in rows}
    for key, reason in sorted(exp.quarantined_keys.items()):
        if got.get(key) != reason:
            diffs.add("quarantine", f"{key}: reason {got.get(key)!r}, expected {reason!r}")
    for key in sorted(set(got) - set(exp.quarantined_keys)):
        diffs.add("quarantine", f"{key}: quarantined as {got[key]!r}, expected an activity")


def compare_reconciliation(wh: Warehouse, exp: reference.Expected, diffs: Differences) -> None:
    raw_events = wh.scalar("select count(*) from raw.events")
    activities = wh.scalar("select count(*) from marts.fct_activities")
    quarantined = wh.scalar("select count(*) from marts.fct_quarantined_events")
    loads = wh.rows(
        "select sum(records_read) as records_read, sum(events_loaded) as events_loaded,"
        " sum(duplicates_skipped) as duplicates, sum(errors) as errors from raw.loads"
        " where source_format not like 'sheet:%'"
    )[0]
    load_errors = wh.scalar("select count(*) from raw.load_errors")
    events = activities - exp.sheet_imports  # contacts-sheet imports are not raw events
    checks = {
        "raw.events = fct_activities + fct_quarantined_events - sheet imports": (
            raw_events,
            events + quarantined,
        ),
        "raw.events = expected landed records": (raw_events, exp.landed),
        "fct_activities = expected activities": (activities, exp.activities),
        "fct_quarantined_events = expected quarantined": (
            quarantined,
            sum(exp.quarantined.values()),
        ),
        "raw.loads.duplicates_skipped = expected duplicates": (loads["duplicates"], exp.duplicates),
        "raw.loads.errors = expected load errors": (loads["errors"], exp.load_errors),
        "raw.load_errors rows = distinct bad lines": (load_errors, len(exp.load_error_lines)),
        "raw.loads.records_read = lines generated": (loads["records_read"], exp.lines),
        "records_read = events + quarantined + duplicates + load errors": (
            loads["records_read"],
            events + quarantined + exp.duplicates + exp.load_errors,
        ),
    }
    for name, (actual, expected) in checks.items():
        diffs.check("reconciliation", actual == expected, f"{name}: {actual} != {expected}")


# --------------------------------------------------------------------------- scenarios


def _connect(ref: ProfileRef) -> Warehouse:
    kind, pg = ref.kind, ref.conn
    if kind == "duckdb":
        import duckdb

        return Warehouse(kind, duckdb.connect(pg["path"], read_only=True))
    import psycopg2

    connection = psycopg2.connect(
        host=pg["host"], port=pg["port"], user=pg["user"], dbname=pg["dbname"]
    )
    connection.autocommit = True
    return Warehouse(kind, connection)


def run_scenario(
    name: str,
    event_files: list[Path],
    tmp_path: Path,
    ref: ProfileRef,
) -> None:
    kind, overrides = SCENARIOS[name]
    assert kind == ref.kind
    profiles_dir, target = ref
    # Load both files, then the first again: re-loading the same bytes changes nothing.
    for path in [*event_files, event_files[0]]:
        run(
            [
                str(BIN / "funnel-load"),
                str(path),
                "--profiles-dir",
                str(profiles_dir),
                "--target",
                target,
                "--quiet",
            ],
            f"funnel-load {path.name}",
        )
    sheet = tmp_path / "contacts-sheet.csv"
    with open(sheet, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([SHEET_HEADER, *SHEET_CONTACTS])
    run(
        [
            str(BIN / "funnel-load"),
            str(sheet),
            "--kind",
            "contacts",
            "--profiles-dir",
            str(profiles_dir),
            "--target",
            target,
            "--quiet",
        ],
        "funnel-load --kind contacts",
    )
    build = run_dbt(ref, "build", work_dir=tmp_path, dbt_vars=overrides, check=False)
    diffs = Differences()
    if build.returncode != 0:
        failures = [
            line
            for line in build.stdout.splitlines()
            if "ERROR" in line or "FAIL" in line or "Error" in line
        ]
        diffs.add("dbt build", f"exit {build.returncode}: " + " | ".join(failures[-15:]))
    warehouse = _connect(ref)
    try:
        loaded_at = {
            row["event_key"]: row["loaded_at"]
            for row in warehouse.rows("select event_key, loaded_at from raw.events")
        }
        expected = reference.compute(
            event_files,
            rules_for(overrides),
            REPO_ROOT / "seeds",
            loaded_at=loaded_at,
            sheet_rows=sheet_reference_rows(warehouse),
        )
        for compare in (
            compare_reconciliation,
            compare_quarantine,
            compare_activities,
            compare_contacts,
            compare_funnel,
            compare_channels,
            compare_intent,
            compare_transitions,
            compare_queue,
            compare_nurture,
            compare_suppression,
        ):
            try:
                compare(warehouse, expected, diffs)
            except Exception as exc:  # a missing table or column: report and go on
                diffs.add(compare.__name__, f"{type(exc).__name__}: {' '.join(str(exc).split())}")
                if kind == "postgres":
                    warehouse.connection.rollback()
    finally:
        warehouse.connection.close()
    compare_report(profiles_dir, target, expected, diffs)
    if diffs.items:
        pytest.fail(f"{name}: {diffs.report()}", pytrace=False)


def compare_report(
    profiles_dir: Path, target: str, exp: reference.Expected, diffs: Differences
) -> None:
    """funnel-report prints each stage's current and reached counts, and the queue's items
    per type, as the reference has them."""
    report = subprocess.run(
        [str(BIN / "funnel-report"), "--profiles-dir", str(profiles_dir), "--target", target],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    diffs.check("funnel-report", report.returncode == 0, f"exit {report.returncode}")
    lines = report.stdout.splitlines()
    for want in exp.rpt_funnel:
        fields = [
            want["funnel_stage"],
            f"{want['contacts_current']:,}",
            f"{want['contacts_reached']:,}",
        ]
        diffs.check(
            "funnel-report",
            any(line.split()[:3] == fields for line in lines if line.strip()),
            f"no line starting {fields}",
        )
    # the queue summary: one line per priority, queue type and department, with its count
    per_type = Counter((item["priority"], item["queue_type"]) for item in exp.queue.values())
    for (priority, queue_type), items in per_type.items():
        diffs.check(
            "funnel-report",
            any(
                line.split()[:2] == [str(priority), queue_type] and line.split()[-2] == f"{items:,}"
                for line in lines
            ),
            f"no queue line for priority {priority} {queue_type} with {items:,} items",
        )


# ``duckdb_profile`` / ``postgres_profile`` / ``pg_database`` come from conftest.py: a fresh
# DuckDB file or PostgreSQL database per test, and a profiles.yml with target ``ci``.


def test_duckdb_default_vars(
    event_files: list[Path], tmp_path: Path, duckdb_profile: ProfileRef
) -> None:
    run_scenario("duckdb-default-vars", event_files, tmp_path, duckdb_profile)


def test_duckdb_custom_vars(
    event_files: list[Path], tmp_path: Path, duckdb_profile: ProfileRef
) -> None:
    run_scenario("duckdb-custom-vars", event_files, tmp_path, duckdb_profile)


def test_postgres_custom_vars(
    event_files: list[Path], tmp_path: Path, postgres_profile: ProfileRef
) -> None:
    run_scenario("postgres-custom-vars", event_files, tmp_path, postgres_profile)


# --------------------------------------------------------------------------- the reference


# A load time for the reference-only tests (the scenarios read the real ones).
LOAD_TIME = dt.datetime(2026, 9, 1)


def reference_only(event_files: list[Path], overrides: dict[str, Any]) -> reference.Expected:
    """The reference on the scenario files and SHEET_CONTACTS, everything loaded at LOAD_TIME."""
    sheet_rows = [
        {
            "email": email,
            "channel_of_origin": channel,
            "lead_status": status,
            "added_at": dt.datetime.fromisoformat(added),
            "loaded_at": LOAD_TIME,
        }
        for _, email, channel, status, added in SHEET_CONTACTS
    ]
    return reference.compute(
        event_files,
        rules_for(overrides),
        REPO_ROOT / "seeds",
        loaded_at=defaultdict(lambda: LOAD_TIME),
        sheet_rows=sheet_rows,
    )


def test_custom_vars_change_the_outcome(event_files: list[Path]) -> None:
    seeds = REPO_ROOT / "seeds"
    default = reference_only(event_files, {"as_of": DEFAULT_AS_OF})
    custom = reference_only(event_files, _custom_vars())
    assert default.rpt_funnel != custom.rpt_funnel
    changed = [
        email
        for email, contact in default.contacts.items()
        if contact["funnel_stage"] != custom.contacts[email]["funnel_stage"]
    ]
    assert len(changed) > 10
    assert any(c["intent_score"] != c["lifetime_intent_score"] for c in custom.contacts.values())
    assert "not set" in {c["first_touch_channel"] for c in custom.contacts.values()} | {
        a.channel for a in custom.activities_by_key.values()
    }
    # Every stage and every quarantine reason is exercised by the generated data.
    assert all(row["contacts_current"] > 0 for row in default.rpt_funnel)
    assert set(default.quarantined) == set(reference.REASONS)
    assert default.duplicates > 0 and default.load_errors > 0
    # Every lifecycle state and queue type is reached; the lifecycle vars move states.
    lifecycle_seeds = reference.Seeds.load(seeds)
    for expected in (default, custom):
        states = {contact["lifecycle_state"] for contact in expected.contacts.values()}
        assert states == set(lifecycle_seeds.states)
        assert {queue_type for _, queue_type in expected.queue} == set(lifecycle_seeds.playbook)
        triggers = {t["trigger"] for t in expected.transitions.values()}
        assert {"inactivity", "manual_override"} <= triggers
    moved = [
        email
        for email, contact in default.contacts.items()
        if contact["lifecycle_state"] != custom.contacts[email]["lifecycle_state"]
    ]
    assert len(moved) > 10


@pytest.mark.parametrize("scenario", ["duckdb-default-vars", "duckdb-custom-vars"])
def test_reference_suppression_edges(event_files: list[Path], scenario: str) -> None:
    """The edge records of the suppression and bounce rules reach the outcome a user needs
    (hand-written here, so the reference itself is checked), for both scenarios' vars."""
    exp = reference_only(event_files, SCENARIOS[scenario][1])
    seeds = reference.Seeds.load(REPO_ROOT / "seeds")

    def contact(name: str) -> dict[str, Any]:
        return exp.contacts[f"{name}@edge-case.io"]

    def suppressed(name: str) -> tuple[str, str] | None:
        row = exp.suppression.get(f"{name}@edge-case.io")
        return (row["reason"], row["source"]) if row else None

    # Opt-outs stick: a view 12 minutes after a person-set Unsubscribed, or an open.
    for name in ("unsub-view", "unsub-open"):
        assert suppressed(name) == ("unsubscribed", "manual_override")
        assert contact(name)["lifecycle_state"] == "Unsubscribed"
        assert contact(name)["nurture_track"] == "None" and contact(name)["is_opted_out"]
    assert suppressed("resub") is None and not contact("resub")["is_opted_out"]
    assert contact("resub")["lifecycle_state"] not in ("Unsubscribed", "Disqualified")
    assert suppressed("resub-same") == ("unsubscribed", "event")
    assert contact("resub-same")["lifecycle_state"] == "Unsubscribed"
    # Quarantined for its timestamp, and the contacts sheet: suppressed from the load.
    assert suppressed("unsub-quarantined") == ("unsubscribed", "quarantined_event")
    assert suppressed("unsub-only") == ("unsubscribed", "quarantined_event")
    assert "unsub-only@edge-case.io" not in exp.contacts
    assert suppressed("sheet-unsub") == ("unsubscribed", "contacts_sheet")
    for name in ("unsub-quarantined", "unsub-only", "sheet-unsub"):
        assert exp.suppression[f"{name}@edge-case.io"]["suppressed_since"] == LOAD_TIME
    assert suppressed("sheet-lead") is None
    assert "sheet-lead@edge-case.io" in exp.nurture  # the sheet alone does not suppress
    # Customers stay customers; a non-client with a hard bounce is Disqualified.
    assert contact("bounce-buyer")["lifecycle_state"] == "Customer"
    assert contact("buyer-bounced")["lifecycle_state"] in ("Customer", "VIP")
    for name in ("bounce-buyer", "buyer-bounced"):
        assert not contact(name)["is_email_deliverable"]
        assert exp.suppression[f"{name}@edge-case.io"]["is_email_only"]
        assert suppressed(name) == ("hard_bounce", "event")
    assert contact("hard-bounce")["lifecycle_state"] == "Disqualified"
    assert suppressed("hard-bounce") == ("hard_bounce", "event")
    assert not exp.suppression["hard-bounce@edge-case.io"]["is_email_only"]
    assert suppressed("disq-manual") == ("disqualified", "manual_override")
    # Nothing suppressed is nurtured or gets a marketing queue item; clients keep theirs.
    assert not set(exp.suppression) & set(exp.nurture)
    assert not [
        key
        for key in exp.queue
        if key[0] in exp.suppression and key[1] in seeds.marketing_queue_types
    ]
    assert any(key[0] == "buyer-bounced@edge-case.io" for key in exp.queue)
    assert not any(
        c["lifecycle_state"] == "Disqualified" and c["became_customer_at"]
        for c in exp.contacts.values()
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-04", dt.datetime(2025, 3, 4)),
        ("2025-03-04T10:11:12Z", dt.datetime(2025, 3, 4, 10, 11, 12)),
        ("2025-03-04t10:11z", dt.datetime(2025, 3, 4, 10, 11)),
        (" 2025-03-04 10:11:12.5 ", dt.datetime(2025, 3, 4, 10, 11, 12, 500000)),
        ("2025-03-04T10:11:12.123456+02:00", dt.datetime(2025, 3, 4, 8, 11, 12, 123456)),
        ("2025-03-04T10:11:12-0500", dt.datetime(2025, 3, 4, 15, 11, 12)),
        ("2025-03-04T00:30:00+01", dt.datetime(2025, 3, 3, 23, 30)),
        ("2024-02-29T12:00:00Z", dt.datetime(2024, 2, 29, 12)),
        ("2025-02-29T12:00:00Z", None),
        ("2025-02-30T10:00:00Z", None),
        ("2025-03-04T25:00:00Z", None),
        ("2025-03-04T10:11:60Z", None),
        ("2025-03-04T10:11:12+19:00", None),
        ("2025-03-04T10:11:12.1234567Z", dt.datetime(2025, 3, 4, 10, 11, 12, 123456)),
        ("2025-03-04T10:11:12.1234567890Z", None),
        ("2025-03-04Z", None),
        ("2025-03-04T10", None),
        ("yesterday", None),
    ],
)
def test_reference_time_rules(text: str, expected: dt.datetime | None) -> None:
    assert reference.parse_event_time(text) == expected


def test_reference_stage_rules() -> None:
    seeds = reference.Seeds.load(REPO_ROOT / "seeds")
    rules = rules_for({"as_of": DEFAULT_AS_OF})
    at = dt.datetime(2025, 1, 1)

    def activity(event_type: str, day: int) -> reference.Activity:
        return reference.Activity(
            "k", "a@b.co", event_type, "email", at + dt.timedelta(days=day), {}, None, None
        )

    # A follow-up before the demo does not make an opportunity; a purchase implies all.
    row = reference.contact_row(
        "a@b.co",
        [activity("follow_up", 1), activity("email_opened", 0), activity("demo_booked", 2)],
        rules,
        seeds,
        at,
    )
    assert row["funnel_stage"] == "SQL" and row["became_mql_at"] == at + dt.timedelta(days=2)
    assert row["became_opportunity_at"] is None
    row = reference.contact_row(
        "a@b.co", [activity("purchase", 3), activity("unsubscribed", 4)], rules, seeds, at
    )
    assert row["funnel_stage"] == "Customer" and row["nurture_track"] == "None"
    assert row["became_mql_at"] == row["became_sql_at"] == row["became_customer_at"]
    assert row["lead_source"] == "email" and row["became_lead_at"] == at + dt.timedelta(days=3)


def test_reference_lifecycle_rules() -> None:
    """The reference's replay on hand-made activities; expectations worked out by hand.

    Default vars: dormant after 90 days, at most 3 attempts per 14-day window, Warm
    from a download, VIP from 25,000 of revenue.
    """
    seeds = reference.Seeds.load(REPO_ROOT / "seeds")
    rules = rules_for({"as_of": DEFAULT_AS_OF})
    start = dt.datetime(2025, 1, 1)

    def day(n: float) -> dt.datetime:
        return start + dt.timedelta(days=n)

    def activity(key: str, event_type: str, n: float, **typed: Any) -> reference.Activity:
        return reference.Activity(
            key, "a@b.co", event_type, "email", day(n), {}, None, None, **typed
        )

    acts = [
        activity("k01", "email_opened", 0),  # Engaged
        activity("k02", "download", 1),  # Warm; last engagement until day 100
        activity("k03", "manual_override", 2, override_state="Hot", override_set_by="ana"),
        activity("k04", "email_sent", 3),  # not an engagement: the override stays
        # (day 91: a spell starts, but the override still holds: no transition)
        activity("k05", "view", 100),  # an engagement ends the override: Warm again
        # spell from day 190; windows 0, 0, 1, 2 -> the 3rd attempt is in window 2,
        # exhausted at day 190 + 3 * 14 = 232
        activity("k06", "email_sent", 191),
        activity("k07", "email_sent", 195),
        activity("k08", "email_sent", 205),
        activity("k09", "email_sent", 220),
    ]
    row = reference.contact_row("a@b.co", acts, rules, seeds, day(240))
    got = [
        (
            t["from_state"],
            t["to_state"],
            t["transitioned_at"],
            t["trigger"],
            t["trigger_activity_id"],
        )
        for t in row["transitions"]
    ]
    assert got == [
        (None, "Engaged", day(0), "email_opened", "k01"),
        ("Engaged", "Warm", day(1), "download", "k02"),
        ("Warm", "Hot", day(2), "manual_override", "k03"),
        ("Hot", "Warm", day(100), "view", "k05"),
        ("Warm", "Dormant", day(190), "inactivity", None),
        ("Dormant", "Disqualified", day(232), "inactivity", None),
    ]
    assert [t["set_by"] for t in row["transitions"]] == [None, None, "ana", None, None, None]
    assert [t["transition_number"] for t in row["transitions"]] == [1, 2, 3, 4, 5, 6]
    assert row["lifecycle_state"] == "Disqualified" and row["lifecycle_state_since"] == day(232)
    assert row["dormant_since"] == day(190) and row["reengagement_attempts"] == 3
    assert row["last_reengagement_attempt_at"] == day(220) == row["last_outbound_touch_at"]
    assert row["nurture_track"] == "None" and row["lifecycle_funnel"] is None
    assert not row["is_manual_override"]
    assert reference.queue_items(row, acts, rules, seeds, day(240)) == []
    # Half a day into the spell: Dormant, no attempt yet, so re-engagement is due now.
    row = reference.contact_row("a@b.co", acts, rules, seeds, day(190.5))
    assert row["lifecycle_state"] == "Dormant" and row["lifecycle_funnel"] == "Re-engagement"
    (item,) = reference.queue_items(row, acts, rules, seeds, day(190.5))
    assert item["queue_type"] == "reengagement" and item["detected_at"] == day(190)
    assert item["due_in_days"] == seeds.playbook["reengagement"]["due_in_days"]
    # Day 200: the touches of days 191 and 195 share window 0, one attempt (at day 191),
    # whose cooldown ends on day 205: nothing to do yet.
    row = reference.contact_row("a@b.co", acts, rules, seeds, day(200))
    assert row["reengagement_attempts"] == 1 and row["last_reengagement_attempt_at"] == day(191)
    assert reference.queue_items(row, acts, rules, seeds, day(200)) == []

    # VIP by revenue: 20,000 + 5,000 (reporting currency) reaches 25,000 on day 20; never
    # touched, so the VIP item is detected 14 days after becoming VIP.
    usd = reference.typed_properties({"amount": "1000", "currency": " usd"}, rules, seeds)
    assert usd["currency"] == "USD" and usd["amount"] == 1000.0
    assert usd["amount_reporting"] == pytest.approx(
        1000 * seeds.fx_rates["USD"] / seeds.fx_rates["EUR"]
    )
    vip = [
        activity("v1", "purchase", 10, amount=20000.0, amount_reporting=20000.0),
        activity("v2", "deal_closed", 20, amount=5000.0, amount_reporting=5000.0),
    ]
    row = reference.contact_row("a@b.co", vip, rules, seeds, day(40))
    assert [t["to_state"] for t in row["transitions"]] == ["Customer", "VIP"]
    assert row["lifetime_revenue"] == 25000.0 and row["lifecycle_state_since"] == day(20)
    (item,) = reference.queue_items(row, vip, rules, seeds, day(40))
    assert item["queue_type"] == "vip_untouched" and item["detected_at"] == day(34)

    # Least open work first, in (priority, due_at, id) order, ties to the first name:
    # i2 (priority 1), then i3 (due in 1 day), i1, i4; a department without
    # orchestrators leaves its item unassigned.
    keys = [("i1", 2, 2), ("i2", 1, 5), ("i3", 2, 1), ("i4", 2, 2)]
    items = [
        {
            "queue_item_id": key,
            "contact_id": key,
            "queue_type": "x",
            "owner_department": dept,
            "priority": p,
            "due_in_days": d,
            "detected_at": day(1),
        }
        for dept, (key, p, d) in [*(("Sales", k) for k in keys), ("Nobody", ("i5", 1, 1))]
    ]
    sales = seeds.orchestrators["Sales"]
    assert sales == sorted(sales) and len(sales) == 3
    people = [{"orchestrator": n, "department": "Sales", "is_active": True} for n in sales]
    state = queue_reference.assign(items, {}, people, {}, [], day(2))
    assert [state[key]["orchestrator"] for key in ("i2", "i3", "i1", "i4", "i5")] == [
        sales[0],
        sales[1],
        sales[2],
        sales[0],
        None,
    ]
