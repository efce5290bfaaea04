"""End to end: generate -> `funnel-load` -> `dbt build` -> marts == the Python reference.

Each scenario generates ~3,000 events with dirty records, loads them with the real
`funnel-load` console script, runs the real `dbt build` against a throw-away DuckDB file
or PostgreSQL database, and compares the marts with ``reference.py``: an independent
implementation of the written rules that never reads the SQL. All differences of a
scenario are collected and reported together (contact by contact, row by row).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import os
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
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
)
CONTACT_NUMERIC = (("lifetime_intent_score", 1e-9), ("intent_score", 1e-6))


def compare_contacts(wh: Warehouse, exp: reference.Expected, diffs: Differences) -> None:
    got = {row["email"]: row for row in wh.rows("select * from marts.dim_contacts")}
    for email in sorted(set(got) - set(exp.contacts), key=str):
        diffs.add("dim_contacts", f"unexpected contact {email!r}")
    for email in sorted(set(exp.contacts) - set(got)):
        diffs.add("dim_contacts", f"missing contact {email!r}")
    for email, want in sorted(exp.contacts.items()):
        row = got.get(email)
        if row is None:
            continue
        for column in CONTACT_EXACT:
            if column not in row:
                diffs.add("dim_contacts", f"column {column} missing")
                continue
            value = bool(row[column]) if column == "is_opted_out" else row[column]
            diffs.check(
                f"dim_contacts.{column}",
                value == want[column],
                f"{email}: {column} = {row[column]!r}, expected {want[column]!r}",
            )
        for column, tolerance in CONTACT_NUMERIC:
            diffs.check(
                f"dim_contacts.{column}",
                same_number(row.get(column), want[column], tolerance),
                f"{email}: {column} = {row.get(column)!r}, expected {want[column]!r}",
            )


def compare_activities(wh: Warehouse, exp: reference.Expected, diffs: Differences) -> None:
    rows = wh.rows("select activity_id, event_type, channel, event_at from marts.fct_activities")
    got = {row["activity_id"]: row for row in rows}
    diffs.check("fct_activities", len(rows) == len(got), "activity_id is not unique")
    for key in sorted(set(got) - set(exp.activities_by_key)):
        diffs.add("fct_activities", f"unexpected activity {key}")
    for key in sorted(set(exp.activities_by_key) - set(got)):
        diffs.add("fct_activities", f"missing activity {key}")
    for key, want in sorted(exp.activities_by_key.items()):
        row = got.get(key)
        if row is None:
            continue
        for column in ("event_type", "channel", "event_at"):
            diffs.check(
                f"fct_activities.{column}",
                row[column] == getattr(want, column),
                f"{key}: {column} = {row[column]!r}, expected {getattr(want, column)!r}",
            )


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
    )[0]
    load_errors = wh.scalar("select count(*) from raw.load_errors")
    checks = {
        "raw.events = fct_activities + fct_quarantined_events": (
            raw_events,
            activities + quarantined,
        ),
        "raw.events = expected landed records": (raw_events, exp.landed),
        "fct_activities = expected activities": (activities, exp.activities),
        "fct_quarantined_events = expected quarantined": (
            quarantined,
            sum(exp.quarantined.values()),
        ),
        "raw.loads.duplicates_skipped = expected duplicates": (loads["duplicates"], exp.duplicates),
        "raw.loads.errors = expected load errors": (loads["errors"], exp.load_errors),
        "raw.load_errors rows = expected load errors": (load_errors, exp.load_errors),
        "raw.loads.records_read = lines generated": (loads["records_read"], exp.lines),
        "records_read = activities + quarantined + duplicates + load errors": (
            loads["records_read"],
            activities + quarantined + exp.duplicates + exp.load_errors,
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
    build = run_dbt(ref, "build", work_dir=tmp_path, dbt_vars=overrides, check=False)
    expected = reference.compute(event_files, rules_for(overrides), REPO_ROOT / "seeds")
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
        for compare in (
            compare_reconciliation,
            compare_quarantine,
            compare_activities,
            compare_contacts,
            compare_funnel,
            compare_channels,
            compare_intent,
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
    """funnel-report prints each stage's current and reached counts as the reference has them."""
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


def test_custom_vars_change_the_outcome(event_files: list[Path]) -> None:
    seeds = REPO_ROOT / "seeds"
    default = reference.compute(event_files, rules_for({"as_of": DEFAULT_AS_OF}), seeds)
    custom = reference.compute(event_files, rules_for(_custom_vars()), seeds)
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
        ("2025-03-04T10:11:12.1234567Z", None),
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
