"""The seed-style pipeline: the baseline every ratio of ``funnel-bench`` is measured against.

A faithful, small replica of the hand-made ETL this project replaces (PRODUCT.md: "a
row-by-row Python+SQL ETL on PostgreSQL"; issue 16 measured it). It reads the events
file line by line in Python, keeps the lines that are JSON objects with a string
``email`` holding an ``@``, a string ``event_type`` and an ISO ``event_time`` (what its
row-by-row validation did), and sends each one to the database as its own ``INSERT``
round trip into a one-column JSON table, in one transaction. Three plain SQL views then
compute the three core reports from the JSON on every read: funnel counts by stage,
effectiveness by first-touch channel and intent by lead source. Nothing is
de-duplicated, nothing is materialised: every read parses every payload again.

The views apply the project's own default rules, read from ``dbt_project.yml`` (intent
weights, stage triggers, the MQL threshold) and ``seeds/funnel_stages.csv``, so both
sides do the same job; the seed's simpler cleaning (no dedupe, no aliases, no identity
stitching, raw channels) means the numbers are close to the marts, not equal. On DuckDB
the same runs through DuckDB's Python API (one ``execute`` per line).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import re
import time
from collections.abc import Iterable
from pathlib import Path

import yaml

from crm_funnel.devtools.bench.warehouses import Session
from crm_funnel.errors import TerminalError

TABLE = "seed_events"
MAX_UTC_OFFSET = dt.timedelta(hours=14)  # Kiribati; PostgreSQL rejects offsets from 16 h
ISO_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?"
)
VIEWS = ("seed_funnel", "seed_channel_effectiveness", "seed_intent_by_source")


@dataclasses.dataclass(frozen=True)
class Rules:
    """The project's default funnel rules, as the seed's views apply them."""

    intent_weights: dict[str, int]
    mql_score_threshold: float
    mql_trigger_events: list[str]
    sql_trigger_events: list[str]
    opportunity_trigger_events: list[str]
    customer_trigger_events: list[str]
    stages: list[tuple[str, int]]

    @classmethod
    def of_project(cls, project_dir: Path) -> Rules:
        try:
            project = yaml.safe_load((project_dir / "dbt_project.yml").read_text("utf-8"))
            with open(project_dir / "seeds" / "funnel_stages.csv", encoding="utf-8") as rows:
                stages = [(r["funnel_stage"], int(r["stage_order"])) for r in csv.DictReader(rows)]
            fields = {f.name for f in dataclasses.fields(cls)} - {"stages"}
            return cls(**{name: project["vars"][name] for name in fields}, stages=stages)
        except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
            raise TerminalError(
                f"cannot read the funnel rules of {project_dir} for the seed-style pipeline: "
                f"{type(exc).__name__}: {exc}"
            ) from None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in_list(column: str, values: Iterable[str]) -> str:
    return f"{column} in ({', '.join(map(_literal, values))})"


def contacts_sql(rules: Rules) -> str:
    """The seed's per-contact CTEs over the JSON (each view repeats them: nothing is stored)."""
    weights = ",\n            ".join(
        f"({_literal(name)}, {int(weight)})" for name, weight in rules.intent_weights.items()
    )
    return f"""
    events as (
        select
            lower(trim(payload ->> 'email')) as email,
            lower(trim(payload ->> 'event_type')) as event_type,
            coalesce(payload ->> 'channel', 'unknown') as channel,
            payload -> 'properties' ->> 'lead_source' as lead_source,
            cast(upper(payload ->> 'event_time') as timestamp with time zone) as event_at
        from {TABLE}
    ),
    weights (event_type, weight) as (
        values
            {weights}
    ),
    scored as (
        select
            events.*,
            coalesce(weights.weight, 0) as weight
        from events
        left join weights on events.event_type = weights.event_type
    ),
    running as (
        select
            *,
            sum(weight) over (
                partition by email order by event_at
                rows between unbounded preceding and current row
            ) as running_score,
            row_number() over (partition by email order by event_at) as touch,
            row_number() over (
                partition by email
                order by case when lead_source is null then 1 else 0 end, event_at
            ) as source_touch
        from scored
    ),
    contacts as (
        select
            email,
            sum(weight) as intent_score,
            max(case when touch = 1 then channel end) as first_touch_channel,
            max(case when source_touch = 1 then lead_source end) as first_lead_source,
            min(case when {_in_list("event_type", rules.mql_trigger_events)}
                or running_score >= {rules.mql_score_threshold} then event_at end) as mql_at,
            min(case when {_in_list("event_type", rules.sql_trigger_events)}
                then event_at end) as sql_at,
            min(case when {_in_list("event_type", rules.customer_trigger_events)}
                then event_at end) as customer_at
        from running
        group by email
    ),
    opportunities as (
        select contacts.email
        from contacts
        inner join running
            on contacts.email = running.email and running.event_at >= contacts.sql_at
        where {_in_list("running.event_type", rules.opportunity_trigger_events)}
        group by contacts.email
    ),
    staged as (
        select
            contacts.*,
            coalesce(first_lead_source, first_touch_channel) as lead_source,
            case
                when customer_at is not null then 5
                when opportunities.email is not null then 4
                when sql_at is not null then 3
                when mql_at is not null then 2
                else 1
            end as stage_order
        from contacts
        left join opportunities on contacts.email = opportunities.email
    )"""


def view_statements(rules: Rules) -> list[str]:
    """``create view`` for the three core reports, as the seed computed them."""
    contacts = contacts_sql(rules)
    stages = ", ".join(f"({_literal(name)}, {order})" for name, order in rules.stages)
    funnel_stages = f"funnel_stages (funnel_stage, stage_order) as (values {stages})"
    return [
        f"""create view seed_funnel as
with {contacts},
    {funnel_stages},
    counts as (
        select funnel_stages.funnel_stage, funnel_stages.stage_order,
            count(staged.email) as contacts_current
        from funnel_stages
        left join staged on funnel_stages.stage_order = staged.stage_order
        group by funnel_stages.funnel_stage, funnel_stages.stage_order
    )
select
    funnel_stage,
    stage_order,
    contacts_current,
    sum(contacts_current) over (order by stage_order desc) as contacts_reached
from counts""",
        f"""create view seed_channel_effectiveness as
with {contacts},
    {funnel_stages},
    channels as (select distinct first_touch_channel from staged),
    counts as (
        select channels.first_touch_channel, funnel_stages.funnel_stage,
            funnel_stages.stage_order, count(staged.email) as contacts_current
        from channels
        cross join funnel_stages
        left join staged
            on channels.first_touch_channel = staged.first_touch_channel
            and funnel_stages.stage_order = staged.stage_order
        group by channels.first_touch_channel, funnel_stages.funnel_stage,
            funnel_stages.stage_order
    )
select
    first_touch_channel,
    funnel_stage,
    stage_order,
    contacts_current,
    sum(contacts_current) over (
        partition by first_touch_channel order by stage_order desc
    ) as contacts_reached
from counts""",
        f"""create view seed_intent_by_source as
with {contacts}
select
    lead_source,
    count(*) as contacts,
    avg(intent_score) as avg_intent_score,
    percentile_cont(0.5) within group (order by intent_score) as median_intent_score
from staged
group by lead_source""",
    ]


def valid_line(line: bytes) -> bool:
    """The seed's row check: a JSON object with an email, an event type and an ISO time."""
    try:
        record = json.loads(line)
        if not isinstance(record, dict):
            return False
        email, event_type, event_time = (
            record.get(k) for k in ("email", "event_type", "event_time")
        )
        if not (isinstance(email, str) and "@" in email and isinstance(event_type, str)):
            return False
        if not (isinstance(event_time, str) and ISO_TIME.fullmatch(event_time)):
            return False
        # a real day and time, as the views cast it, in a real time zone
        offset = dt.datetime.fromisoformat(event_time.upper()).utcoffset()
        return offset is None or abs(offset) <= MAX_UTC_OFFSET
    except ValueError:
        return False


@dataclasses.dataclass(frozen=True)
class SeedRun:
    rows: int
    load_seconds: float
    views_seconds: float


def run_seed_pipeline(session: Session, path: Path, rules: Rules) -> SeedRun:
    """Load ``path`` row by row in one transaction, then create and read the three views.
    The caller drops what it created (``session`` is on a scratch schema or file)."""
    cur = session.cursor
    cur.execute(f"create table {TABLE} (payload {session.json_type})")
    session.commit()
    insert = f"insert into {TABLE} (payload) values ({session.placeholder})"
    rows = 0
    start = time.perf_counter()
    session.begin()
    with open(path, "rb") as lines:
        for line in lines:
            if valid_line(line):
                cur.execute(insert, (line.decode("utf-8"),))
                rows += 1
    session.commit()
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for statement in view_statements(rules):
        cur.execute(statement)
    session.commit()
    for view in VIEWS:
        cur.execute(f"select * from {view}")
        cur.fetchall()
    views_seconds = time.perf_counter() - start
    return SeedRun(rows, load_seconds, views_seconds)
