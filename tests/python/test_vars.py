"""Var validation (macros/rules/validate_vars.sql, the on-run-start hook): a bad or unknown
var stops the run before anything is built, with one ``invalid var: ...`` line.

Cheap on purpose: each case runs the real ``dbt seed`` of one small seed on a fresh DuckDB
file and checks the message, the exit code and that the seed's table was not created. The
known names come from ``dbt_project.yml``: the "did you mean" suggestions are checked
against it here, and a copy of the project with a misspelled var under ``vars:
crm_funnel:`` and a new var without a kind proves the hook reads the project's vars.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DBT, REPO_ROOT, ProfileRef, fetch, run_dbt

PROJECT_VARS: dict[str, Any] = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]
SEED = ("seed", "--select", "funnel_stages")

CASES = [
    # (vars, the problems the invalid-var line lists, in its order)
    (
        {"mql_score_treshold": 30},
        ["unknown var 'mql_score_treshold' in --vars (did you mean 'mql_score_threshold'?)"],
    ),
    (
        {"queue_hot_idle_days": "abc", "totally_made_up": 1},
        [
            "unknown var 'totally_made_up' in --vars (the known vars are in dbt_project.yml)",
            "queue_hot_idle_days = 'abc' must be a whole number >= 0",
        ],
    ),
    (
        {
            "engagement_window_days": [7, 0],
            "grant_marts": 1,
            "mql_trigger_events": "download",
            "raw_schema": "raw; drop",
            "vip_min_lifetime_revenue": -1,
            "dormant_after_days": 2.5,
            "sql_score_threshold": 0,
            "reporting_currency": " ",
        },
        [
            "dormant_after_days = '2.5' must be a whole number >= 1",
            "engagement_window_days = '[7, 0]' must be a non-empty list of whole numbers of"
            " days >= 1",
            "grant_marts = '1' must be true or false",
            "mql_trigger_events = 'download' must be a list of names",
            "raw_schema = 'raw; drop' must be a plain SQL identifier (letters, digits, _)",
            "reporting_currency = ' ' must be a non-empty text",
            "sql_score_threshold = '0' must be null or a number > 0",
            "vip_min_lifetime_revenue = '-1' must be a number >= 0",
        ],
    ),
    (  # shapes that models loop over while dbt reads the project
        {
            "engagement_window_days": 5,
            "attribution_position_weights": {"first": 1},
            "intent_weights": [1],
            "forecast_horizons_days": "x",
        },
        [
            "attribution_position_weights = '{'first': 1}' must be {first, middle, last}:"
            " numbers >= 0 that sum to 1",
            "engagement_window_days = '5' must be a non-empty list of whole numbers of days >= 1",
            "forecast_horizons_days = 'x' must be a non-empty list of whole numbers of days >= 1",
            "intent_weights = '[1]' must be a map of event type to points (numbers)",
        ],
    ),
]


def invalid_var_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if "invalid var: " in line]
    assert len(lines) == 1, output[-3000:]
    return lines[0]


def seed_exists(ref: ProfileRef) -> bool:
    return bool(
        fetch(
            ref,
            "select count(*) from information_schema.tables where table_name = 'funnel_stages'",
        )[0][0]
    )


def assert_stopped(
    ref: ProfileRef, work_dir: Path, dbt_vars: dict[str, Any], problems: list[str]
) -> None:
    """The run stops with one invalid-var line listing the problems; nothing is built."""
    for problem in problems:  # the suggestions and kinds name real vars
        assert problem.split(" ")[0] in PROJECT_VARS or "unknown var" in problem
    proc = run_dbt(ref, *SEED, work_dir=work_dir, dbt_vars=dbt_vars, check=False)
    assert proc.returncode == 2
    assert invalid_var_line(proc.stdout) == "invalid var: " + "; ".join(problems)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not seed_exists(ref)


@pytest.mark.parametrize("dbt_vars, problems", CASES, ids=["misspelled", "abc", "types", "shapes"])
def test_bad_vars_stop_the_run_with_one_line(
    duckdb_profile: ProfileRef, tmp_path: Path, dbt_vars: dict[str, Any], problems: list[str]
) -> None:
    assert_stopped(duckdb_profile, tmp_path, dbt_vars, problems)


def test_bad_vars_stop_the_run_on_postgres_too(
    postgres_profile: ProfileRef, tmp_path: Path
) -> None:
    """The check runs before any SQL, the same on every target: one case on PostgreSQL."""
    dbt_vars, problems = CASES[1]
    assert_stopped(postgres_profile, tmp_path, dbt_vars, problems)


def test_valid_vars_pass(duckdb_profile: ProfileRef, tmp_path: Path) -> None:
    """The defaults, and overrides of several kinds (dates, nulls, lists, maps), pass."""
    dbt_vars = {
        "as_of": "2026-07-01",
        "sql_score_threshold": 90,
        "engagement_window_days": [1, 30],
        "attribution_position_weights": {"first": 0.5, "middle": 0, "last": 0.5},
        "grant_marts": False,
    }
    run_dbt(duckdb_profile, *SEED, work_dir=tmp_path, dbt_vars=dbt_vars)
    assert seed_exists(duckdb_profile)


def test_project_vars_are_the_known_names(duckdb_profile: ProfileRef, tmp_path: Path) -> None:
    """In a copy of the project: a misspelled var under ``vars: crm_funnel:`` is unknown, and
    a new var in ``vars:`` that validate_vars has no kind for is an error too."""
    project = tmp_path / "project"
    for part in ("macros", "models", "seeds", "snapshots", "tests/data_tests"):
        shutil.copytree(REPO_ROOT / part, project / part)
    config = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())
    config["vars"]["brand_new_rule_days"] = 3
    config["vars"]["crm_funnel"] = {"warm_min_clcks": 4}
    (project / "dbt_project.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = subprocess.run(
        [str(DBT), *SEED, "--project-dir", str(project), *duckdb_profile.cli_args()],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=project,
    )
    assert proc.returncode == 2
    assert invalid_var_line(proc.stdout) == (
        "invalid var: unknown var 'warm_min_clcks' in dbt_project.yml vars.crm_funnel"
        " (did you mean 'warm_min_clicks'?); brand_new_rule_days has no kind in"
        " macros/rules/validate_vars.sql (add one)"
    )
    assert not seed_exists(duckdb_profile)
