"""``funnel-quality``: the cross-build gate, run after every build.

dbt's data tests say what must hold inside one build (keys, ranges, reconciliation).
What they cannot say is how this build compares with the last good one: a feed that
silently lost 40% of its events, or a conversion rate that jumped overnight, still
passes every data test. This gate does that, and only that:

1. it computes a few numbers from the marts (``METRICS``: counts per stage, revenue,
   key rates; no PII column is read) and the age of the build's ``as_of``;
2. it compares them with the metrics of the last *passing* run, stored in the warehouse
   in ``<marts schema>.quality_metrics`` (run time, as_of, metric, value): a count may grow
   but not drop by more than var ``quality_max_drop_pct``; a rate may not move by more
   than var ``quality_max_rate_change_pp`` percentage points; ``as_of`` may not be older
   than var ``quality_max_as_of_age_hours`` (null: not checked). The vars are read from
   ``dbt_project.yml`` (``--project-dir``, ``DBT_PROJECT_DIR`` or the working directory)
   and ``--vars``, which ``funnel-pipeline --vars`` passes on;
3. the checks run as one Great Expectations suite (``cross_build``) in an ephemeral
   context, with Data Docs under ``--docs-dir`` (default ``target/data_docs``);
4. a passing run becomes the new baseline; the first run (no baseline) passes and
   records one.

Output: ``PASS cross_build (...)`` or ``FAIL cross_build (...)`` and under it one line
per failed check (metric, previous, current, change, tolerance). Exit status 0 on pass,
1 on a failed check, 2 (with one ``funnel-quality: error: ...`` line) when the profile,
target, project vars or database are wrong or the marts are not built.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_funnel.errors import FunnelError, TerminalError
from crm_funnel.ops.dbt import parse_vars
from crm_funnel.ops.dbt import read_yaml_mapping as _read_yaml_mapping
from crm_funnel.warehouse.connections import (
    cursor,
    database_errors,
    missing_relation_errors,
    one_line,
    placeholder,
)
from crm_funnel.warehouse.profile import Target, add_target_arguments, load_target

PROG = "funnel-quality"
SUITE = "cross_build"
SUITES = (SUITE,)
DEFAULT_DOCS_DIR = Path("target") / "data_docs"
METRICS_TABLE = "quality_metrics"
AS_OF_AGE = "as_of_age_hours"


@dataclass(frozen=True)
class Metric:
    """One number per build: a ``count`` (may grow, may not drop much) or a ``rate``
    (a share in [0, 1] that may not move much either way)."""

    name: str
    kind: str
    description: str


METRICS: tuple[Metric, ...] = (
    Metric("raw_events", "count", "raw events landed"),
    Metric("activities", "count", "valid, deduplicated events (fct_activities)"),
    Metric("contacts", "count", "contacts, every one a Lead (dim_contacts)"),
    Metric("mqls", "count", "contacts that reached MQL"),
    Metric("sqls", "count", "contacts that reached SQL"),
    Metric("opportunities", "count", "contacts that reached Opportunity"),
    Metric("customers", "count", "contacts that became a Customer"),
    Metric("revenue", "count", "lifetime revenue of all contacts, reporting currency"),
    Metric("quarantine_rate", "rate", "quarantined raw events / raw events"),
    Metric("lead_to_mql_rate", "rate", "MQLs / contacts"),
    Metric("lead_to_customer_rate", "rate", "customers / contacts"),
)

METRICS_SQL = """
with
raw_events as (select count(*) as n from {raw}.events),
quarantined as (select count(*) as n from {marts}.fct_quarantined_events),
activities as (select count(*) as n from {marts}.fct_activities),
contacts as (
    select
        count(*) as contacts,
        count(became_mql_at) as mqls,
        count(became_sql_at) as sqls,
        count(became_opportunity_at) as opportunities,
        count(became_customer_at) as customers,
        coalesce(sum(lifetime_revenue), 0) as revenue,
        max(state_as_of) as as_of
    from {marts}.dim_contacts
)
select
    raw_events.n as raw_events,
    activities.n as activities,
    contacts.contacts,
    contacts.mqls,
    contacts.sqls,
    contacts.opportunities,
    contacts.customers,
    contacts.revenue,
    cast(quarantined.n as double precision) / nullif(raw_events.n, 0) as quarantine_rate,
    cast(contacts.mqls as double precision) / nullif(contacts.contacts, 0) as lead_to_mql_rate,
    cast(contacts.customers as double precision) / nullif(contacts.contacts, 0)
        as lead_to_customer_rate,
    contacts.as_of
from raw_events
cross join quarantined
cross join activities
cross join contacts
"""


# --------------------------------------------------------------------------- the rules


@dataclass(frozen=True)
class Tolerances:
    """The gate's vars, from ``dbt_project.yml`` (their one home)."""

    max_drop_pct: float
    max_rate_change_pp: float
    max_as_of_age_hours: float | None


def read_tolerances(project_dir: Path, vars_text: str | None = None) -> Tolerances:
    """The vars of ``dbt_project.yml``, overridden by ``--vars`` as dbt does."""
    project_file = project_dir / "dbt_project.yml"
    if not project_file.is_file():
        raise TerminalError(
            f"no dbt_project.yml in {project_dir}: run from the crm_funnel project "
            "or pass --project-dir"
        )
    project = _read_yaml_mapping(project_file)
    found = project.get("vars")
    project_vars = {**(found if isinstance(found, Mapping) else {}), **parse_vars(vars_text)}

    def number(name: str, nullable: bool = False) -> Any:
        value = project_vars.get(name)
        if value is None and nullable:
            return None
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or value < 0
            or (nullable and value == 0)  # as var_kinds() says
        ):
            kind = "null or a number > 0" if nullable else "a number >= 0"
            raise TerminalError(f"var {name} = {value!r} must be {kind} ({project_file}, --vars)")
        return float(value)

    return Tolerances(
        max_drop_pct=number("quality_max_drop_pct"),
        max_rate_change_pp=number("quality_max_rate_change_pp"),
        max_as_of_age_hours=number("quality_max_as_of_age_hours", nullable=True),
    )


@dataclass(frozen=True)
class Check:
    """One metric of this build against its baseline value, with its allowed range."""

    metric: str
    previous: float | None
    current: float | None
    low: float | None
    high: float | None
    tolerance: str

    def failure(self) -> str:
        """One line: metric, previous, current, change and tolerance."""
        if self.metric == AS_OF_AGE:
            return f"as_of: {_number(self.current)} hours old; tolerance: {self.tolerance}"
        if self.previous is None or self.current is None:
            change = "n/a"
        elif self.high is not None:  # a rate: the change in percentage points
            change = f"{(self.current - self.previous) * 100:+.1f} pp"
        else:
            change = f"{(self.current - self.previous) / self.previous * 100:+.1f}%"
        return (
            f"{self.metric}: previous {_number(self.previous)}, current "
            f"{_number(self.current)}, change {change}; tolerance: {self.tolerance}"
        )


def _number(value: float | None) -> str:
    if value is None:
        return "null"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"


def plan_checks(
    current: Mapping[str, float | None],
    previous: Mapping[str, float],
    tolerances: Tolerances,
    as_of_age_hours: float | None,
) -> list[Check]:
    """The checks of this run: each metric with a baseline, and the age of ``as_of``."""
    checks = []
    for metric in METRICS:
        before = previous.get(metric.name)
        if before is None:
            continue
        now = current[metric.name]
        if metric.kind == "count":
            drop = tolerances.max_drop_pct
            low, high = before * (1 - drop / 100), None
            tolerance = f"drops at most {_number(drop)}%"
        else:
            step = tolerances.max_rate_change_pp / 100
            low, high = before - step, before + step
            tolerance = f"moves at most {_number(tolerances.max_rate_change_pp)} pp"
        checks.append(Check(metric.name, before, now, low, high, tolerance))
    if tolerances.max_as_of_age_hours is not None:
        limit = tolerances.max_as_of_age_hours
        checks.append(
            Check(AS_OF_AGE, None, as_of_age_hours, None, limit, f"at most {_number(limit)} hours")
        )
    return checks


# --------------------------------------------------------------------------- the warehouse


def _utc(value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return (
        value.astimezone(dt.timezone.utc) if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    )


@dataclass
class Measured:
    values: dict[str, float | None]
    as_of: dt.datetime | None
    baseline: dict[str, float]
    baseline_run_at: dt.datetime | None


def measure(target: Target, schemas: dict[str, str]) -> Measured:
    """This build's metrics and the last passing run's (empty on the first run)."""
    table = f"{schemas['marts']}.{METRICS_TABLE}"
    with cursor(target, read_only=True, application_name=PROG) as cur:
        try:
            cur.execute(METRICS_SQL.format(**schemas))
            names = [column[0] for column in cur.description]
            row = dict(zip(names, cur.fetchone(), strict=True))
        except database_errors(target) as exc:
            message = one_line(exc).rstrip(".!")
            if isinstance(exc, missing_relation_errors(target, columns=True)):
                raise TerminalError(
                    f"{message} ({target.describe()}): run dbt build first "
                    "(or check --target and the --*-schema options)"
                ) from None
            raise TerminalError(f"query failed ({target.describe()}): {message}") from None
        rows: list[Any] = []
        with contextlib.suppress(*missing_relation_errors(target, columns=True)):  # no baseline yet
            cur.execute(
                f"select run_at, metric, value from {table} "
                f"where run_at = (select max(run_at) from {table})"
            )
            rows = cur.fetchall()
        baseline = {metric: float(value) for _, metric, value in rows}
        run_at = rows[0][0] if rows else None
    values = {m.name: None if row[m.name] is None else float(row[m.name]) for m in METRICS}
    return Measured(values, _utc(row["as_of"]), baseline, _utc(run_at))


def record_baseline(
    target: Target, schemas: dict[str, str], measured: Measured, run_at: dt.datetime
) -> None:
    """Store this run's metrics: the baseline of the next run."""
    table = f"{schemas['marts']}.{METRICS_TABLE}"
    mark = placeholder(target)
    naive = dict(run_at=run_at.replace(tzinfo=None), as_of=measured.as_of)
    if naive["as_of"] is not None:
        naive["as_of"] = naive["as_of"].replace(tzinfo=None)
    rows = [
        (naive["run_at"], naive["as_of"], name, value)
        for name, value in measured.values.items()
        if value is not None
    ]
    try:
        with cursor(target, read_only=False, application_name=PROG) as cur:
            cur.execute(
                f"create table if not exists {table} (run_at timestamp not null, "
                "as_of timestamp, metric varchar(64) not null, value double precision not null)"
            )
            cur.executemany(f"insert into {table} values ({mark}, {mark}, {mark}, {mark})", rows)
    except database_errors(target) as exc:
        raise TerminalError(
            f"cannot record the baseline in {table} ({target.describe()}): "
            f"{one_line(exc).rstrip('.!')}"
        ) from None


# --------------------------------------------------------------------------- validating


def _quiet_gx() -> None:
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in ("great_expectations", "py.warnings"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore")


def make_context(docs_dir: Path) -> Any:
    """An ephemeral GX context: in-memory stores, no analytics, Data Docs in ``docs_dir``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        data_docs_sites={
            "crm_funnel": {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def validate(checks: Sequence[Check], docs_dir: Path, run_at: dt.datetime) -> list[Check]:
    """Run the checks as one GX suite, write Data Docs, and return the failed checks."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd
    from great_expectations.core.run_identifier import RunIdentifier

    context = make_context(docs_dir)
    frame = pd.DataFrame([{c.metric: c.current for c in checks}], dtype="float64")
    suite = context.suites.add(
        gx.ExpectationSuite(
            name=SUITE,
            expectations=[
                gxe.ExpectColumnValuesToBeBetween(
                    column=c.metric,
                    min_value=c.low,
                    max_value=c.high,
                    notes=f"{c.metric}: previous {_number(c.previous)}; {c.tolerance}",
                )
                for c in checks
            ],
            meta={"notes": "This build's metrics against the last passing build's."},
        )
    )
    batch = (
        context.data_sources.add_pandas("marts")
        .add_dataframe_asset(SUITE)
        .add_batch_definition_whole_dataframe("metrics")
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=SUITE, data=batch, suite=suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": frame},
        result_format={"result_format": "SUMMARY"},
        run_id=RunIdentifier(run_name=PROG, run_time=run_at),
    )
    context.build_data_docs()
    by_metric = {c.metric: c for c in checks}
    failed = {r.expectation_config.kwargs["column"] for r in result.results if not r.success}
    # A null current value (e.g. no contacts left) is no value in range: it fails too.
    failed |= {c.metric for c in checks if c.current is None}
    return [by_metric[name] for name in by_metric if name in failed]


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Compare this build's metrics (counts per stage, revenue, key rates, the age "
            "of as_of) with the last passing build's, within the tolerances of the "
            "quality_* vars in dbt_project.yml; record them as the next baseline when they "
            "pass. Exit 0 on pass, 1 on a failed check, 2 on a usage or setup error."
        ),
        epilog=(
            "examples:\n"
            "  funnel-quality                      # the default target, after dbt build\n"
            "  funnel-quality --target postgres\n"
            "  funnel-quality --docs-dir /tmp/dd   # write the Data Docs elsewhere\n"
            "  funnel-quality --vars '{quality_max_drop_pct: 30}'"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_arguments(parser)
    parser.add_argument(
        "--docs-dir",
        type=Path,
        default=DEFAULT_DOCS_DIR,
        help=f"where Data Docs HTML is written (default: {DEFAULT_DOCS_DIR})",
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        help="the dbt project whose vars set the tolerances "
        "(default: $DBT_PROJECT_DIR or the working directory)",
    )
    parser.add_argument(
        "--vars",
        help="override vars of dbt_project.yml, as dbt does: '{quality_max_drop_pct: 30}'",
    )
    parser.add_argument(
        "--marts-schema",
        default="marts",
        help="schema of the marts (default: marts); it also holds the baseline table",
    )
    parser.add_argument(
        "--raw-schema",
        default="raw",
        help="schema the loader writes (dbt var raw_schema)",
    )
    return parser


def _prepare_docs_dir(docs_dir: Path) -> Path:
    docs_dir = docs_dir.expanduser().resolve()
    try:
        docs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TerminalError(
            f"cannot create the Data Docs directory {docs_dir}: {exc.strerror}; "
            "pass another --docs-dir"
        ) from None
    if not os.access(docs_dir, os.W_OK):
        raise TerminalError(f"cannot write to {docs_dir}; pass another --docs-dir")
    return docs_dir


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    schemas = {"marts": args.marts_schema, "raw": args.raw_schema}
    project_dir = Path(args.project_dir or os.environ.get("DBT_PROJECT_DIR") or Path.cwd())
    run_at = dt.datetime.now(dt.timezone.utc)
    try:
        target = load_target(args.profiles_dir, args.target)
        tolerances = read_tolerances(project_dir.expanduser(), args.vars)
        measured = measure(target, schemas)
        docs_dir = _prepare_docs_dir(args.docs_dir)
        age = None if measured.as_of is None else (run_at - measured.as_of).total_seconds() / 3600
        checks = plan_checks(measured.values, measured.baseline, tolerances, age)
        _quiet_gx()
        failed = validate(checks, docs_dir, run_at)
        if not failed:
            record_baseline(target, schemas, measured, run_at)
    except FunnelError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if failed:
        print(f"FAIL {SUITE} ({len(failed)} of {len(checks)} checks failed)")
        print("\n".join(f"  {check.failure()}" for check in failed))
        kept = "The baseline stays" if measured.baseline else "No baseline recorded"
        print(f"{kept}. Data Docs: {docs_dir / 'index.html'}")
        return 1
    if measured.baseline_run_at:
        against = f"against the baseline of {measured.baseline_run_at:%Y-%m-%d %H:%M} UTC"
    else:
        against = "first run: no baseline yet"
    print(f"PASS {SUITE} ({len(checks)} checks, {against})")
    print(
        f"Recorded {len(METRICS)} metrics as the new baseline. Data Docs: {docs_dir / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
