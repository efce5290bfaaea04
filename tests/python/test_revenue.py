"""Revenue analytics end to end: CAC/LTV, cohorts, velocity, funnel over time, forecast.

``test_revenue_marts`` generates events and a channel spend sheet, loads them with the real
``funnel-load`` (events, then ``--kind spend``), runs the real dbt (seeds, the models the
revenue marts need, then the revenue marts' data and unit tests) on DuckDB and on
PostgreSQL, and compares every row of the five revenue marts with an independent
pure-Python computation from the same files: the contacts' stage times come from
``reference.py`` (the written funnel rules, never the SQL), and the per-channel, cohort,
velocity, plan and forecast arithmetic is written here again from the marts' documented
definitions.

``test_forecast_backtest`` checks that the pipeline forecast is useful: it builds the
warehouse at past ``as_of`` dates (events after them are quarantined as future, so the
build sees only the past), reads the 90-day forecast, and counts in the generated NDJSON
how many of the contacts open at ``as_of`` really became customers in the next 90 days.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import json
import math
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference  # noqa: E402
from conftest import (  # noqa: E402
    REPO_ROOT,
    ProfileRef,
    fetch,
    generate_events,
    run_dbt,
    run_funnel_load,
)

PROJECT_VARS: dict[str, Any] = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]
SEEDS_DIR = REPO_ROOT / "seeds"

EVENTS = 4000
SEED = 20260515
# Mid-month and mid-day: events up to 24 hours later are still valid (future tolerance)
# but after as_of, so the marts must leave them out.
AS_OF = "2026-05-15T12:00:00Z"
E2E_VARS = {"as_of": AS_OF, "reporting_currency": "USD", "forecast_min_history_contacts": 15}

BACKTEST_EVENTS = 60000
BACKTEST_SEED = 42
BACKTEST_AS_OF = ("2025-12-01T00:00:00Z", "2026-03-01T00:00:00Z")
BACKTEST_HORIZON = 90
# Measured on generated data (seeds 7 and 42, as_of monthly 2025-09 .. 2026-03): 0 to 28%
# under at 90 days, -10% on average, over 25 to 40 real conversions per as_of.
BACKTEST_TOLERANCE_EACH = 0.35
BACKTEST_TOLERANCE_TOTAL = 0.20

ALL_CHANNELS = "(all channels)"
STAGE_COLUMNS = {
    "Lead": "became_lead_at",
    "MQL": "became_mql_at",
    "SQL": "became_sql_at",
    "Opportunity": "became_opportunity_at",
    "Customer": "became_customer_at",
}
DAYS_PER_MONTH = 30.4375


# --------------------------------------------------------------------------- helpers


def rules_for(overrides: dict[str, Any]) -> dict[str, Any]:
    return {**PROJECT_VARS, **overrides}


def month_start(value: dt.date | dt.datetime) -> dt.date:
    return dt.date(value.year, value.month, 1)


def week_start(value: dt.date | dt.datetime) -> dt.date:
    day = value if type(value) is dt.date else value.date()
    return day - dt.timedelta(days=day.weekday())


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def months_between(first: dt.date, second: dt.date) -> int:
    return (second.year - first.year) * 12 + second.month - first.month


def whole_seconds(value: dt.datetime) -> int:
    """Seconds since the epoch of a naive UTC time, the fraction dropped (SQL datediff)."""
    return calendar.timegm(value.timetuple())


def days_between(first: dt.datetime, second: dt.datetime) -> float:
    """Fractional days as the marts count them: second boundaries crossed / 86400."""
    return (whole_seconds(second) - whole_seconds(first)) / 86400


def calendar_days(first: dt.datetime, second: dt.datetime) -> int:
    """Date boundaries crossed (SQL datediff in days)."""
    return (second.date() - first.date()).days


def percentile(values: list[float], fraction: float) -> float | None:
    """Continuous percentile, linear interpolation (percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def same(actual: Any, expected: Any, tolerance: float = 1e-6) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(expected, (int, float, Decimal)) and not isinstance(expected, bool):
        actual_f, expected_f = float(actual), float(expected)
        return abs(actual_f - expected_f) <= tolerance * max(1.0, abs(expected_f))
    return actual == expected


def compare(
    name: str,
    actual: dict[tuple, dict[str, Any]],
    expected: dict[tuple, dict[str, Any]],
    tolerances: dict[str, float] | None = None,
) -> list[str]:
    """Differences between two {key: {column: value}} tables."""
    diffs = []
    for key in sorted(set(expected) - set(actual), key=repr):
        diffs.append(f"{name} {key}: missing from the mart (expected {expected[key]})")
    for key in sorted(set(actual) - set(expected), key=repr):
        diffs.append(f"{name} {key}: unexpected row {actual[key]}")
    for key in sorted(set(actual) & set(expected), key=repr):
        for column, value in expected[key].items():
            tolerance = (tolerances or {}).get(column, 1e-6)
            if not same(actual[key][column], value, tolerance):
                diffs.append(
                    f"{name} {key} {column}: mart {actual[key][column]!r}, expected {value!r}"
                )
    return diffs


def mart_rows(
    ref: ProfileRef, table: str, key: tuple[str, ...], columns: tuple[str, ...]
) -> dict[tuple, dict[str, Any]]:
    rows = fetch(ref, f"select {', '.join(key + columns)} from marts.{table}")
    out: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        row_key = tuple(row[: len(key)])
        assert row_key not in out, f"{table}: duplicate key {row_key}"
        out[row_key] = dict(zip(columns, row[len(key) :], strict=True))
    return out


# --------------------------------------------------------------------------- inputs


def write_spend_csv(path: Path) -> list[dict[str, Any]]:
    """A channel spend sheet: weekly rows for paid channels in three currencies, a
    channel no contact came from (tv), spend before the first lead, spend after as_of
    and channel names in another case with spaces around them."""
    rows: list[dict[str, Any]] = []
    currencies = ("EUR", "USD", "GBP")
    channels = ("paid_search", " LinkedIn ", "webinar", "partner", "tv")
    day = dt.date(2024, 12, 2)
    serial = 0
    while day <= dt.date(2026, 6, 29):
        for index, channel in enumerate(channels):
            if (serial + index) % 3 == 0 and channel.strip() == "partner":
                continue  # weeks without partner spend: months with leads and no spend
            amount = Decimal(100 + (serial * 37 + index * 53) % 900) + Decimal("0.25")
            rows.append(
                {
                    "date": day.isoformat(),
                    "channel": channel,
                    "spend": str(amount),
                    "currency": currencies[(serial + index) % 3],
                }
            )
        day += dt.timedelta(days=7)
        serial += 1
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["date", "channel", "spend", "currency"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def funnel_targets() -> list[dict[str, Any]]:
    with open(SEEDS_DIR / "funnel_targets.csv", newline="", encoding="utf-8") as handle:
        return [
            {
                "month": dt.date.fromisoformat(row["target_month"]),
                "stage": row["funnel_stage"],
                "target": int(row["target_contacts"]),
            }
            for row in csv.DictReader(handle)
        ]


# --------------------------------------------------------------------------- the expected marts


class World:
    """The contacts' stage entries up to as_of, from the reference, and what the marts read."""

    def __init__(self, expected: reference.Expected, rules: dict[str, Any], seeds: reference.Seeds):
        self.as_of = reference.parse_as_of(rules["as_of"])
        self.rules = rules
        self.seeds = seeds
        self.stages = seeds.stages
        self.order = seeds.stage_order
        self.contacts = expected.contacts
        self.activities = list(expected.activities_by_key.values())
        # (email, stage) -> entered_at, only entries up to as_of
        self.entries: dict[tuple[str, str], dt.datetime] = {}
        for email, contact in self.contacts.items():
            for stage in self.stages:
                entered = contact[STAGE_COLUMNS[stage]]
                if entered is not None and entered <= self.as_of:
                    self.entries[email, stage] = entered

    def channel(self, email: str) -> str:
        return self.contacts[email]["first_touch_channel"]

    def entered(self, email: str, stage: str) -> dt.datetime | None:
        return self.entries.get((email, stage))


def expected_funnel_over_time(world: World) -> dict[tuple, dict[str, Any]]:
    as_of = world.as_of
    counts: Counter = Counter()
    for (_, stage), entered in world.entries.items():
        counts["week", week_start(entered), stage] += 1
        counts["month", month_start(entered), stage] += 1
    targets = {
        (row["month"], row["stage"]): row["target"]
        for row in funnel_targets()
        if row["month"] <= month_start(as_of)
    }
    out = {}
    for grain, first_of, step in (
        ("week", week_start, lambda day: day + dt.timedelta(days=7)),
        ("month", month_start, lambda day: add_months(day, 1)),
    ):
        starts = [period for (g, period, _) in counts if g == grain]
        if grain == "month":
            starts += [month for (month, _) in targets]
        period = min(starts)
        while period <= first_of(as_of):
            following = step(period)
            for stage in world.stages:
                new = counts.get((grain, period, stage), 0)
                target = targets.get((period, stage)) if grain == "month" else None
                out[grain, period, stage] = {
                    "stage_order": world.order[stage],
                    "new_contacts": new,
                    "target_contacts": target,
                    "target_variance": None if target is None else new - target,
                    "target_attainment": ratio(new, target),
                    "is_complete_period": dt.datetime.combine(following, dt.time()) <= as_of,
                }
            period = following
    return out


def expected_cohorts(world: World) -> dict[tuple, dict[str, Any]]:
    first = world.stages[0]
    cohorts: dict[dt.date, list[str]] = defaultdict(list)
    for (email, stage), entered in world.entries.items():
        if stage == first:
            cohorts[month_start(entered)].append(email)
    out = {}
    for cohort, members in cohorts.items():
        for offset in range(months_between(cohort, month_start(world.as_of)) + 1):
            end_of_offset = add_months(cohort, offset + 1)
            for stage in world.stages[1:]:
                reached = sum(
                    1
                    for email in members
                    if (entered := world.entered(email, stage)) is not None
                    and month_start(entered) < end_of_offset
                )
                out[cohort, offset, stage] = {
                    "stage_order": world.order[stage],
                    "cohort_size": len(members),
                    "contacts_reached": reached,
                    "share_reached": reached / len(members),
                    "is_complete_period": dt.datetime.combine(end_of_offset, dt.time())
                    <= world.as_of,
                }
    return out


def expected_velocity(world: World) -> dict[tuple, dict[str, Any]]:
    stages = world.stages
    steps = [(stages[i], stages[i + 1]) for i in range(len(stages) - 1)]
    steps.append((stages[0], stages[-1]))
    # A contact passed a step when it entered the two stages at distinct instants; at the
    # same instant it skipped (or was back-filled into) one of them: None, not 0 days.
    seconds: dict[tuple, list[int | None]] = defaultdict(list)
    for email in world.contacts:
        for from_stage, to_stage in steps:
            start, end = world.entered(email, from_stage), world.entered(email, to_stage)
            if start is None or end is None:
                continue
            passed = whole_seconds(end) - whole_seconds(start) if end > start else None
            seconds[world.channel(email), False, from_stage, to_stage].append(passed)
            seconds[ALL_CHANNELS, True, from_stage, to_stage].append(passed)
    out = {}
    for key, steps_seconds in seconds.items():
        passed = [value for value in steps_seconds if value is not None]
        days = [value / 86400 for value in passed]
        out[key] = {
            "from_stage_order": world.order[key[2]],
            "to_stage_order": world.order[key[3]],
            "contacts": len(passed),
            "skipped_contacts": len(steps_seconds) - len(passed),
            # the mean of whole seconds, in days: exact, so it is compared to the last
            # digit (two builds of the same data must agree byte for byte)
            "avg_days": sum(passed) / len(passed) / 86400 if passed else None,
            "median_days": percentile(days, 0.5),
            "p75_days": percentile(days, 0.75),
        }
    return out


def expected_channel_cac_ltv(
    world: World, spend_rows: list[dict[str, Any]]
) -> dict[tuple, dict[str, Any]]:
    as_of = world.as_of
    reporting = str(world.rules["reporting_currency"]).upper()
    fx = world.seeds.fx_rates
    spend: dict[tuple, float] = defaultdict(float)
    for row in spend_rows:
        day = dt.date.fromisoformat(row["date"])
        if day > as_of.date():
            continue
        converted = float(row["spend"]) * fx[row["currency"]] / fx[reporting]
        channel = world.seeds.channel_group(row["channel"].strip().lower())
        spend[channel, month_start(day)] += converted
    stage_counts: Counter = Counter()
    new_customers: dict[tuple, list[str]] = defaultdict(list)
    cohort: Counter = Counter()
    for (email, stage), entered in world.entries.items():
        channel = world.channel(email)
        stage_counts[channel, month_start(entered), stage] += 1
        if stage == "Customer":
            new_customers[channel, month_start(entered)].append(email)
        cohort[channel, month_start(world.entered(email, "Lead")), stage] += 1
    revenue: dict[tuple, float] = defaultdict(float)
    for activity in world.activities:
        if world.seeds.has("revenue", activity.event_type) and activity.event_at <= as_of:
            channel = world.channel(activity.email)
            revenue[channel, month_start(activity.event_at)] += activity.amount_reporting or 0.0
    keys = set(spend) | {(c, m) for (c, m, _) in stage_counts} | set(revenue)
    out = {}
    for key in keys:
        customers = new_customers.get(key, [])
        lifetime = sum(world.contacts[email]["lifetime_revenue"] for email in customers)
        months = sum(
            max(1.0, days_between(world.entered(email, "Customer"), as_of) / DAYS_PER_MONTH)
            for email in customers
        )
        key_spend = spend.get(key)
        leads = stage_counts.get((*key, "Lead"), 0)
        cac = ratio(key_spend, len(customers))
        ltv = ratio(lifetime, len(customers)) if customers else None
        monthly = ratio(lifetime, months) if customers else None
        out[key] = {
            "spend": key_spend,
            "leads": leads,
            "mqls": stage_counts.get((*key, "MQL"), 0),
            "sqls": stage_counts.get((*key, "SQL"), 0),
            "customers": len(customers),
            "revenue": revenue.get(key, 0.0),
            "cost_per_lead": ratio(key_spend, leads),
            "cac": cac,
            "ltv": ltv,
            "ltv_to_cac": ratio(ltv, cac),
            "monthly_revenue_per_customer": monthly,
            "payback_months": ratio(cac, monthly),
            "lead_to_mql_rate": ratio(cohort.get((*key, "MQL"), 0), cohort.get((*key, "Lead"), 0)),
            "mql_to_sql_rate": ratio(cohort.get((*key, "SQL"), 0), cohort.get((*key, "MQL"), 0)),
            "sql_to_customer_rate": ratio(
                cohort.get((*key, "Customer"), 0), cohort.get((*key, "SQL"), 0)
            ),
        }
    return out


def expected_forecast(world: World) -> dict[tuple, dict[str, Any]]:
    as_of, stages = world.as_of, world.stages
    last = stages[-1]
    minimum = int(world.rules["forecast_min_history_contacts"])
    window_start = as_of - dt.timedelta(days=int(world.rules["forecast_history_days"]))
    # (stage, scope) -> days to customer (None: not a customer by as_of)
    history: dict[tuple, list[int | None]] = defaultdict(list)
    revenue: dict[str, list[float]] = defaultdict(list)
    for email, contact in world.contacts.items():
        channel = world.channel(email)
        customer_at = contact["became_customer_at"]
        for stage in stages:
            entered = world.entered(email, stage)
            if entered is None or not window_start <= entered < as_of:
                continue
            if stage == last:
                revenue[channel].append(contact["lifetime_revenue"])
                revenue[ALL_CHANNELS].append(contact["lifetime_revenue"])
                continue
            days = (
                calendar_days(entered, customer_at)
                if customer_at and customer_at <= as_of
                else None
            )
            history[stage, channel].append(days)
            history[stage, ALL_CHANNELS].append(days)
    open_days: dict[tuple, list[int]] = defaultdict(list)
    for email in world.contacts:
        reached = [stage for stage in stages if world.entered(email, stage) is not None]
        if not reached or reached[-1] == last:
            continue
        stage = reached[-1]
        open_days[stage, world.channel(email)].append(
            calendar_days(world.entered(email, stage), as_of)
        )
    out = {}
    for (stage, channel), ages in open_days.items():
        own = len(history.get((stage, channel), [])) >= minimum
        past = history.get((stage, channel if own else ALL_CHANNELS), [])
        converted = [days for days in past if days is not None]
        own_revenue = len(revenue.get(channel, [])) >= minimum
        amounts = revenue.get(channel if own_revenue else ALL_CHANNELS, [])
        average = sum(amounts) / len(amounts) if amounts else None
        for horizon in world.rules["forecast_horizons_days"]:
            expected = 0.0
            # The mart rounds each (days in stage) group's expectation to 6 decimals.
            for age, contacts in Counter(ages).items():
                later = sum(1 for days in converted if age < days <= age + horizon)
                still_open = len(past) - sum(1 for days in converted if days <= age)
                expected += round(contacts * later / still_open, 6) if still_open else 0.0
            out[stage, channel, horizon] = {
                "open_contacts": len(ages),
                "history_contacts": len(past),
                "history_customers": len(converted),
                "conversion_rate": ratio(len(converted), len(past)),
                "median_days_to_customer": percentile([float(d) for d in converted], 0.5),
                "expected_customers": expected,
                "avg_customer_revenue": average,
                "expected_revenue": None if average is None else expected * average,
                "is_pooled_history": not own,
                "is_pooled_revenue": not own_revenue,
            }
    return out


# --------------------------------------------------------------------------- tests


def edge_records() -> list[dict[str, Any]]:
    """Contacts at the as_of cut (2026-05-15T12:00Z; valid until 24 hours later)."""

    def event(
        name: str, event_type: str, at: str, channel: str = "paid_search", **properties: Any
    ) -> dict[str, Any]:
        record = {
            "email": f"{name}@revenue-edge.io",
            "event_type": event_type,
            "event_time": at,
            "channel": channel,
            "event_id": f"revenue-edge-{name}-{event_type}",
        }
        if properties:
            record["properties"] = properties
        return record

    return [
        # Became a lead after as_of: in no revenue mart.
        event("late-lead", "view", "2026-05-15T18:00:00Z"),
        # MQL a second before as_of, bought a second after: open MQL, no customer, no revenue.
        event("cut-buyer", "view", "2026-05-10T00:00:00Z"),
        event("cut-buyer", "download", "2026-05-15T11:59:59Z"),
        event("cut-buyer", "purchase", "2026-05-15T12:00:01Z", amount=500, currency="EUR"),
        # A walk-in buyer: every stage at the same instant (skipped steps, never 0 days).
        event("walk-in", "purchase", "2026-04-02T10:00:00.5Z", amount=990, currency="GBP"),
        # Booked a demo (SQL), then bought without a proposal: Opportunity skipped
        # (back-filled at the purchase), so Opportunity -> Customer is a skip, not 0 days.
        event("skipped-opportunity", "view", "2026-03-01T09:00:00Z", channel="trade_show"),
        event("skipped-opportunity", "demo_booked", "2026-03-03T09:00:00Z", channel="trade_show"),
        event("skipped-opportunity", "purchase", "2026-03-20T15:30:00Z", channel="trade_show"),
        # Became SQL two hours after as_of (valid: within the future tolerance): an SQL
        # hand-over in the queue, detected at as_of, never in the future.
        event("sql-after-cut", "view", "2026-05-12T08:00:00Z"),
        event("sql-after-cut", "demo_booked", "2026-05-15T14:00:00Z"),
    ]


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = generate_events(tmp_path_factory.mktemp("revenue") / "events.ndjson", EVENTS, SEED)
    with open(path, "a", encoding="utf-8") as handle:
        for record in edge_records():
            handle.write(json.dumps(record) + "\n")
    return path


REVENUE_MODELS = ("path:models/marts/revenue", "path:models/intermediate/revenue")
# The queue is built here too: the data has events after as_of (within the future
# tolerance), and its tests (detected_at <= as_of) must hold on them.
QUEUE = "rpt_orchestrator_queue"


def test_revenue_marts(warehouse_profile: ProfileRef, events_file: Path, tmp_path: Path) -> None:
    ref = warehouse_profile
    spend_file = tmp_path / "spend.csv"
    spend_rows = write_spend_csv(spend_file)
    for args in ((events_file,), ("--kind", "spend", spend_file)):
        loaded = run_funnel_load(*ref.cli_args(), "--quiet", *args)
        assert loaded.returncode == 0, loaded.stderr
    run_dbt(ref, "seed", work_dir=tmp_path, dbt_vars=E2E_VARS)
    upstream = [f"+{selector}" for selector in (*REVENUE_MODELS, QUEUE)]
    run_dbt(ref, "run", "--select", *upstream, work_dir=tmp_path, dbt_vars=E2E_VARS)
    # The revenue marts' and the queue's data tests, on this warehouse (not the tests that
    # also read a model this selection does not build).
    run_dbt(
        ref,
        "test",
        "--select",
        *REVENUE_MODELS,
        QUEUE,
        work_dir=tmp_path,
        dbt_vars=E2E_VARS,
    )

    rules = rules_for(E2E_VARS)
    loaded_at = {  # an opt-out quarantined for its timestamp counts from its load (naive UTC)
        key: at.astimezone(dt.timezone.utc).replace(tzinfo=None) if at.tzinfo else at
        for key, at in fetch(ref, "select event_key, loaded_at from raw.events")
    }
    expected = reference.compute([events_file], rules, SEEDS_DIR, loaded_at=loaded_at)
    world = World(expected, rules, reference.Seeds.load(SEEDS_DIR))
    diffs: list[str] = []

    funnel = expected_funnel_over_time(world)
    diffs += compare(
        "rpt_funnel_over_time",
        mart_rows(
            ref,
            "rpt_funnel_over_time",
            ("grain", "period_start", "funnel_stage"),
            tuple(next(iter(funnel.values()))),
        ),
        funnel,
    )
    cohorts = expected_cohorts(world)
    diffs += compare(
        "rpt_cohorts",
        mart_rows(
            ref,
            "rpt_cohorts",
            ("cohort_month", "months_since_signup", "funnel_stage"),
            tuple(next(iter(cohorts.values()))),
        ),
        cohorts,
    )
    velocity = expected_velocity(world)
    diffs += compare(
        "rpt_stage_velocity",
        mart_rows(
            ref,
            "rpt_stage_velocity",
            ("first_touch_channel", "is_all_channels", "from_stage", "to_stage"),
            tuple(next(iter(velocity.values()))),
        ),
        velocity,
        {"avg_days": 0.0},
    )
    economics = expected_channel_cac_ltv(world, spend_rows)
    money = {
        column: 1e-5
        for column in (
            "spend",
            "revenue",
            "cost_per_lead",
            "cac",
            "ltv",
            "monthly_revenue_per_customer",
        )
    }
    diffs += compare(
        "rpt_channel_cac_ltv",
        mart_rows(
            ref,
            "rpt_channel_cac_ltv",
            ("channel", "calendar_month"),
            tuple(next(iter(economics.values()))),
        ),
        economics,
        {**money, "ltv_to_cac": 1e-5, "payback_months": 1e-5},
    )
    forecast = expected_forecast(world)
    diffs += compare(
        "rpt_pipeline_forecast",
        mart_rows(
            ref,
            "rpt_pipeline_forecast",
            ("funnel_stage", "first_touch_channel", "horizon_days"),
            tuple(next(iter(forecast.values()))),
        ),
        forecast,
        {"expected_customers": 1e-5, "avg_customer_revenue": 1e-5, "expected_revenue": 1e-4},
    )
    queue_columns = ("priority", "detected_at", "due_at")
    diffs += compare(
        QUEUE,
        mart_rows(ref, QUEUE, ("email", "queue_type"), queue_columns),
        {key: {c: item[c] for c in queue_columns} for key, item in expected.queue.items()},
    )
    assert not diffs, f"{len(diffs)} differences:\n" + "\n".join(diffs[:40])

    # The data covers what the definitions are about (so the comparisons mean something).
    assert any(row["spend"] is not None and row["leads"] == 0 for row in economics.values())
    assert any(row["spend"] is None and row["leads"] > 0 for row in economics.values())
    assert any(row["cac"] is not None and row["ltv"] is not None for row in economics.values())
    assert any(row["skipped_contacts"] and row["contacts"] for row in velocity.values())
    assert any(row["skipped_contacts"] and not row["contacts"] for row in velocity.values())
    skipper = world.contacts["skipped-opportunity@revenue-edge.io"]
    assert (
        skipper["became_opportunity_at"] == skipper["became_customer_at"] > skipper["became_sql_at"]
    ), "the skipped-Opportunity edge case no longer skips Opportunity"
    assert any(row["target_contacts"] is not None for row in funnel.values())
    assert any(row["is_pooled_history"] for row in forecast.values())
    assert any(not row["is_pooled_history"] for row in forecast.values())
    assert expected.queue["sql-after-cut@revenue-edge.io", "sql_handover"]["detected_at"] == (
        world.as_of
    )
    assert any(
        contact[column] is not None and contact[column] > world.as_of
        for contact in world.contacts.values()
        for column in STAGE_COLUMNS.values()
    ), "no stage reached after as_of (within the future tolerance): the as_of cut is untested"


def first_times(
    path: Path, rules: dict[str, Any]
) -> tuple[dict[str, dt.datetime], dict[str, dt.datetime]]:
    """Per contact (email), the first valid event and the first customer event, from the file."""
    seeds = reference.Seeds.load(SEEDS_DIR)
    accept_all = dt.datetime(2100, 1, 1)
    customer_types = set(rules["customer_trigger_events"])
    seen: set[str] = set()
    first: dict[str, dt.datetime] = {}
    customer: dict[str, dt.datetime] = {}
    with open(path, "rb") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            key = reference.event_key(record)
            if key in seen:
                continue
            seen.add(key)
            activity = reference.classify(record, key, rules, seeds, accept_all)
            if isinstance(activity, str):
                continue
            email, at = activity.email, activity.event_at
            if email not in first or at < first[email]:
                first[email] = at
            if activity.event_type in customer_types and (
                email not in customer or at < customer[email]
            ):
                customer[email] = at
    return first, customer


def test_forecast_backtest(duckdb_profile: ProfileRef, tmp_path: Path) -> None:
    events = generate_events(tmp_path / "backtest.ndjson", BACKTEST_EVENTS, BACKTEST_SEED)
    loaded = run_funnel_load(*duckdb_profile.cli_args(), "--quiet", events)
    assert loaded.returncode == 0, loaded.stderr
    first, customer = first_times(events, rules_for({}))

    totals = {"forecast": 0.0, "actual": 0}

    def backtest_vars(as_of_text: str) -> dict[str, Any]:
        return {"as_of": as_of_text, "future_tolerance_hours": 0}

    # the first run's vars, so that run reads this parse (dbt's partial parsing)
    run_dbt(duckdb_profile, "seed", work_dir=tmp_path, dbt_vars=backtest_vars(BACKTEST_AS_OF[0]))
    for as_of_text in BACKTEST_AS_OF:
        dbt_vars = backtest_vars(as_of_text)
        run_dbt(
            duckdb_profile,
            "run",
            "--full-refresh",
            "--select",
            "+rpt_pipeline_forecast",
            work_dir=tmp_path,
            dbt_vars=dbt_vars,
        )
        [(forecast, open_contacts)] = fetch(
            duckdb_profile,
            "select sum(expected_customers), sum(open_contacts) from marts.rpt_pipeline_forecast"
            " where horizon_days = ?",
            [BACKTEST_HORIZON],
        )
        as_of = reference.parse_as_of(as_of_text)
        until = as_of + dt.timedelta(days=BACKTEST_HORIZON)
        still_open = [
            email
            for email, at in first.items()
            if at <= as_of and not (email in customer and customer[email] <= as_of)
        ]
        actual = sum(1 for email in still_open if email in customer and customer[email] <= until)
        error = (float(forecast) - actual) / actual
        print(
            f"backtest as_of {as_of_text}: {len(still_open)} open, forecast "
            f"{float(forecast):.1f} customers in {BACKTEST_HORIZON} days, actual {actual}, "
            f"error {error:+.1%}"
        )
        assert open_contacts == len(still_open)
        assert abs(error) <= BACKTEST_TOLERANCE_EACH, f"as_of {as_of_text}: error {error:+.1%}"
        totals["forecast"] += float(forecast)
        totals["actual"] += actual
    total_error = (totals["forecast"] - totals["actual"]) / totals["actual"]
    print(
        f"backtest total: forecast {totals['forecast']:.1f}, actual {totals['actual']}, "
        f"error {total_error:+.1%}"
    )
    assert abs(total_error) <= BACKTEST_TOLERANCE_TOTAL
