"""The same project on Apache Spark: dbt-spark ``method: session`` on a local pyspark.

Sample events are landed with ``python -m crm_funnel.ops.spark_load`` (the real loader, then
Spark's DataFrame writer, as parquet tables), and ``dbt build`` of every seed and model
(the snapshot is off on Spark, see snapshots/_snapshots.yml; the data tests judge the
data, and run on DuckDB and PostgreSQL in the other tests) runs on
the ``spark`` target of profiles.yml.example itself. The same events are then built on
DuckDB, and the marts must agree: the funnel report, the lifecycle state counts, the
number of lifecycle transitions, the contact 360's ordered lists and the queue (its stable
item ids, owners and buckets).

Needs Java 17 (``java`` on PATH or JAVA_HOME) and pyspark (the ``spark`` extra).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    DBT,
    MODELS_ONLY,
    REPO_ROOT,
    ProfileRef,
    fetch,
    generate_events,
    run_dbt,
    run_funnel_load,
)

# One xdist worker runs this module: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("spark")

AS_OF = {"as_of": "2026-07-01T00:00:00Z"}
EVENTS = 2000

# Each check: one query, run as is on Spark and on DuckDB; rows are compared sorted.
CHECKS = {
    "rpt_funnel": "select funnel_stage, stage_order, contacts_current, contacts_reached,"
    " conversion_to_next, drop_off_rate from marts.rpt_funnel",
    "lifecycle_state_counts": "select lifecycle_state, count(*) from marts.dim_contacts"
    " group by lifecycle_state",
    "lifecycle_transitions": "select count(*), count(distinct contact_id)"
    " from marts.fct_lifecycle_transitions",
    "contact_360_lists": "select contact_id, event_type_counts, last_interactions, campaigns"
    " from marts.rpt_contact_360",
    "attribution": "select attribution_model, conversion_type, count(*), round(sum(credit), 6)"
    " from marts.rpt_attribution group by attribution_model, conversion_type",
    "campaigns": "select campaign_id, sequence_step, is_campaign_total, sent_contacts,"
    " meeting_conversions from marts.rpt_campaign_performance",
    "funnel_over_time": "select grain, period_start, funnel_stage, new_contacts, target_contacts"
    " from marts.rpt_funnel_over_time",
    "cohorts": "select cohort_month, months_since_signup, funnel_stage, contacts_reached"
    " from marts.rpt_cohorts",
    "queue": "select queue_item_id, queue_type, orchestrator, assigned_by, work_bucket"
    " from marts.rpt_orchestrator_queue",
    "queue_health": "select orchestrator, sum(open_items), sum(due_today_items),"
    " sum(overdue_items), sum(resolved_items) from marts.rpt_queue_health group by orchestrator",
}

# Run in a separate process after dbt has finished (the Derby metastore is single-user).
SPARK_QUERIES = """
import json, sys
from crm_funnel.warehouse.spark import spark_parameters, spark_session
spark = spark_session(spark_parameters(sys.argv[1], "spark"))
checks = json.loads(sys.argv[2])
out = {name: [list(row) for row in spark.sql(sql).collect()] for name, sql in checks.items()}
print(json.dumps(out, default=str))
spark.stop()
"""


def _java_available() -> bool:
    java_home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (java_home and Path(java_home, "bin", "java").exists()))


def _plain(value: Any) -> Any:
    """Decimals and floats as rounded floats, everything else as text (None stays)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return None if math.isnan(number) else round(number, 9)


def _rows(rows: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(_plain(v) for v in row) for row in rows),
        key=lambda row: [(v is None, str(v)) for v in row],
    )


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_events(tmp_path_factory.mktemp("spark_events") / "ev.ndjson", EVENTS, 7)


def test_spark_build_matches_duckdb(
    tmp_path: Path, events_file: Path, duckdb_profile: ProfileRef
) -> None:
    assert _java_available(), "the Spark target needs Java 17: apt-get install openjdk-17-jre"
    profiles_dir = tmp_path / "spark_profiles"
    profiles_dir.mkdir()
    shutil.copy(REPO_ROOT / "profiles.yml.example", profiles_dir / "profiles.yml")
    env = {**os.environ, "CRM_FUNNEL_SPARK_DIR": str(tmp_path / "spark")}

    land = subprocess.run(
        [sys.executable, "-m", "crm_funnel.ops.spark_load", "--profiles-dir", str(profiles_dir)]
        + ["--quiet", str(events_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert land.returncode == 0, land.stderr[-3000:]
    assert "raw.events: " in land.stdout, land.stdout

    build = subprocess.run(
        [str(DBT), "build", "--project-dir", str(REPO_ROOT), "--profiles-dir", str(profiles_dir)]
        + ["--target", "spark", "--vars", json.dumps(AS_OF)]
        + ["--exclude-resource-type", "unit_test", *MODELS_ONLY]
        + ["--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=3600,
    )
    summary = [line for line in build.stdout.splitlines() if "Done. PASS=" in line]
    assert build.returncode == 0 and summary and " ERROR=0 " in summary[-1], "\n".join(
        build.stdout.splitlines()[-40:]
    )

    queried = subprocess.run(
        [sys.executable, "-c", SPARK_QUERIES, str(profiles_dir), json.dumps(CHECKS)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=600,
    )
    assert queried.returncode == 0, queried.stderr[-3000:]
    on_spark = json.loads(queried.stdout.strip().splitlines()[-1])

    loaded = run_funnel_load(*duckdb_profile.cli_args(), "--quiet", events_file)
    assert loaded.returncode == 0, loaded.stderr
    for command in ("seed", "run"):
        run_dbt(duckdb_profile, command, work_dir=tmp_path / "duckdb", dbt_vars=AS_OF)

    for name, sql in CHECKS.items():
        expected = _rows(fetch(duckdb_profile, sql))
        assert expected, f"{name}: the DuckDB build has no rows"
        assert _rows(on_spark[name]) == expected, f"{name} differs between Spark and DuckDB"


def test_spark_load_refuses_a_target_that_is_not_spark(
    events_file: Path, duckdb_profile: ProfileRef
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crm_funnel.ops.spark_load", *duckdb_profile.cli_args()]
        + [str(events_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "is not a Spark target with method: session" in proc.stderr
