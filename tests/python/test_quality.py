"""`funnel-quality`: the cross-build gate on the marts, on DuckDB and PostgreSQL.

Each backend test generates a small data set (events plus the contacts, spend and
campaigns sheets), loads it with the real `funnel-load`, runs the real `dbt build` into a
fresh DuckDB file / PostgreSQL database, and runs `funnel-quality`: the first run records
a baseline, the next compares with it. Then it breaks the marts on purpose (40% of the
activities gone, a jump in customers) and checks that the gate exits 1 naming each
metric with its numbers, keeps the old baseline, and passes again after a rebuild. The
dbt data tests that took over the old Great Expectations suites run on the same build.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import MODELS_ONLY, REPO_ROOT, ProfileRef, execute, fetch, generate_events, run_dbt
from crm_funnel.ops.quality import METRICS, SUITE

BIN = Path(sys.executable).parent
AS_OF = {"as_of": "2026-07-01T00:00:00Z"}
SHEETS = ("contacts", "spend", "campaigns")
TIMEOUT = 300


def run(args: list[str], timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )


def run_ok(args: list[str], what: str) -> str:
    result = run(args)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        pytest.fail(f"{what} failed (exit {result.returncode}):\n{tail}", pytrace=False)
    return result.stdout


def funnel_quality(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "crm_funnel.ops.quality", *map(str, args)], timeout=120)


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Events, and beside them the contacts, spend and campaigns sheets of the same contacts."""
    directory = tmp_path_factory.mktemp("quality_events")
    return generate_events(directory / "events.ndjson", 1500, 7, "--sheets", str(directory))


def load_and_build(profile: ProfileRef, events: Path, tmp_path: Path) -> None:
    load = [sys.executable, "-m", "crm_funnel.ingest.cli", *profile.cli_args(), "--quiet"]
    run_ok([*load, str(events)], "funnel-load")
    for kind in SHEETS:
        run_ok([*load, "--kind", kind, str(events.with_name(f"{kind}.csv"))], f"load {kind}")
    run_dbt(profile, "build", "--quiet", *MODELS_ONLY, work_dir=tmp_path, dbt_vars=AS_OF)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("funnel-quality: error: ")
    return lines[0]


MOVED_DATA_TESTS = ("assert_marts_count_each_contact_once", "assert_mart_measures_in_range")


def baselines(profile: ProfileRef) -> list[tuple[Any, ...]]:
    """(run_at, number of metrics) of each recorded baseline, oldest first."""
    return fetch(
        profile,
        "select run_at, count(*) from marts.quality_metrics group by run_at order by run_at",
    )


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_quality_gate_compares_each_build_with_the_last_good_one(
    backend: str, events_file: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    profile: ProfileRef = request.getfixturevalue(f"{backend}_profile")
    load_and_build(profile, events_file, tmp_path)
    docs = tmp_path / "data_docs"

    # The first run has nothing to compare with: it passes and records a baseline.
    first = funnel_quality(*profile.cli_args(), "--docs-dir", docs)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stderr == ""  # no GX progress bars or warnings
    assert f"PASS {SUITE} (0 checks, first run: no baseline yet)" in first.stdout
    assert len(baselines(profile)) == 1
    assert (docs / "index.html").is_file()
    assert SUITE in (docs / "index.html").read_text(encoding="utf-8")

    # The same build again: every metric is checked against the baseline and passes.
    second = funnel_quality(*profile.cli_args(), "--docs-dir", docs)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"PASS {SUITE} ({len(METRICS)} checks, against the baseline of " in second.stdout
    assert len(baselines(profile)) == 2

    # The moved dbt data tests pass on the clean build.
    run_dbt(
        profile, "test", "--quiet", "--select", *MOVED_DATA_TESTS, work_dir=tmp_path, dbt_vars=AS_OF
    )

    # A silent loss of 40% of the activities, and a jump in customers.
    activities = fetch(profile, "select count(*) from marts.fct_activities")[0][0]
    contacts, customers = fetch(
        profile, "select count(*), count(became_customer_at) from marts.dim_contacts"
    )[0]
    kept = activities - activities * 4 // 10
    execute(
        profile,
        "delete from marts.fct_activities where activity_id not in (select activity_id from "
        f"(select activity_id from marts.fct_activities order by activity_id limit {kept}) k)",
        # consistent within the build (stage dates in order, stage Customer): only a
        # comparison with the last build sees it
        "update marts.dim_contacts set became_customer_at = coalesce(became_opportunity_at, "
        "became_sql_at, became_mql_at, became_lead_at), funnel_stage = 'Customer', "
        "stage_order = 5 "
        "where became_customer_at is null and contact_id in (select contact_id from "
        f"(select contact_id from marts.dim_contacts order by contact_id limit {contacts // 4}) "
        "c)",
    )
    new_customers = fetch(profile, "select count(became_customer_at) from marts.dim_contacts")
    bad = funnel_quality(*profile.cli_args(), "--docs-dir", docs)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr
    out = bad.stdout
    assert f"FAIL {SUITE} (2 of {len(METRICS)} checks failed)" in out
    assert (
        f"  activities: previous {activities}, current {kept}, change -40.0%; "
        "tolerance: drops at most 20%\n" in out
    )
    before, after = customers / contacts * 100, new_customers[0][0] / contacts * 100
    assert re.search(
        r"  lead_to_customer_rate: previous [0-9.]+, current [0-9.]+, "
        rf"change \+{after - before:.1f} pp; tolerance: moves at most 10 pp\n",
        out,
    ), out
    assert "The baseline stays." in out
    assert len(baselines(profile)) == 2  # a failed run is no baseline
    # After a full rebuild of the two marts the gate passes against the last good baseline.
    run_dbt(
        profile,
        "run",
        "--quiet",
        "--full-refresh",
        "--select",
        "fct_activities",
        "dim_contacts",
        work_dir=tmp_path,
        dbt_vars=AS_OF,
    )
    rebuilt = funnel_quality(*profile.cli_args(), "--docs-dir", docs)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert f"PASS {SUITE} ({len(METRICS)} checks" in rebuilt.stdout
    assert len(baselines(profile)) == 3

    # What holds within one build is dbt's: the data tests that took over from the old
    # suites catch a contact missing from a mart and a campaign that ends before it starts.
    execute(
        profile,
        "delete from marts.rpt_contact_360 "
        "where contact_id = (select min(contact_id) from marts.rpt_contact_360)",
        "update marts.rpt_campaign_performance "
        "set last_activity_at = first_activity_at - interval '1 day' where "
        "campaign_performance_id = "
        "(select min(campaign_performance_id) from marts.rpt_campaign_performance)",
    )
    failing = run_dbt(
        profile,
        "test",
        "--select",
        *MOVED_DATA_TESTS,
        work_dir=tmp_path,
        dbt_vars=AS_OF,
        check=False,
    )
    assert failing.returncode == 1, failing.stdout
    for name in MOVED_DATA_TESTS:
        assert re.search(rf"FAIL 1 +{name} ", failing.stdout), failing.stdout


def test_stale_as_of_fails_the_gate(duckdb_profile: ProfileRef, tmp_path: Path) -> None:
    """With var quality_max_as_of_age_hours set, a build whose as_of is older fails."""
    three_days_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)
    execute(
        duckdb_profile,
        "create schema raw",
        "create schema marts",
        "create table raw.events (event_key varchar)",
        "create table marts.fct_quarantined_events (event_key varchar)",
        "create table marts.fct_activities (activity_id varchar)",
        "create table marts.dim_contacts (contact_id varchar, became_mql_at timestamp, "
        "became_sql_at timestamp, became_opportunity_at timestamp, "
        "became_customer_at timestamp, lifetime_revenue double, state_as_of timestamp)",
        "insert into marts.dim_contacts values ('c1', null, null, null, null, 0, "
        f"timestamp '{three_days_ago:%Y-%m-%d %H:%M:%S}')",
    )
    args = [*duckdb_profile.cli_args(), "--docs-dir", tmp_path / "docs"]
    stale = funnel_quality(*args, "--vars", "{quality_max_as_of_age_hours: 48}")
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert f"FAIL {SUITE} (1 of 1 checks failed)" in stale.stdout
    assert re.search(
        r"  as_of: 7[0-9]\.[0-9]+ hours old; tolerance: at most 48 hours\n", stale.stdout
    )
    assert "No baseline recorded." in stale.stdout
    # With the project's default (null: not checked), the same build passes.
    assert funnel_quality(*args).returncode == 0
    # A bad tolerance, or no project to read them from, is one line, not a traceback.
    line = one_line_error(funnel_quality(*args, "--vars", "{quality_max_drop_pct: lots}"))
    assert "var quality_max_drop_pct = 'lots' must be a number >= 0" in line
    line = one_line_error(funnel_quality(*args, "--project-dir", tmp_path))
    assert f"no dbt_project.yml in {tmp_path}" in line


def test_bad_target_is_one_line(duckdb_profile: ProfileRef) -> None:
    line = one_line_error(
        funnel_quality("--profiles-dir", duckdb_profile.profiles_dir, "--target", "nope")
    )
    assert "target 'nope' not found" in line


def test_marts_not_built_is_one_line(duckdb_profile: ProfileRef, tmp_path: Path) -> None:
    args: list[Any] = [*duckdb_profile.cli_args(), "--docs-dir", tmp_path / "docs"]
    line = one_line_error(funnel_quality(*args))  # no database file yet
    assert "does not exist" in line and "run dbt build first" in line
    execute(duckdb_profile, "create schema raw", "create table raw.events (event_key varchar)")
    line = one_line_error(funnel_quality(*args))  # a database without marts
    assert "fct_quarantined_events" in line and "run dbt build first" in line
    assert not (tmp_path / "docs" / "index.html").exists()
