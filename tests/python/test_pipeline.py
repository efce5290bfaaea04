"""``funnel-pipeline`` end to end: the real command on a fresh DuckDB file and a generated inbox.

The summary it prints must equal the database (raw tables, marts) and dbt's artifacts; a
second run skips the files it already loaded; a var that breaks a data test stops the
pipeline at the build step with a non-zero exit and the failed test counted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, ProfileRef, fetch, generate_events
from crm_funnel.ops.dbt import dbt_error, merged_vars_text, parse_vars
from crm_funnel.ops.quality import SUITES
from crm_funnel.ops.summary import Summary as PipelineSummary
from crm_funnel.ops.summary import read_freshness, read_run_results

AS_OF = '{as_of: "2026-07-01T00:00:00Z"}'
BROKEN_RULE = '{as_of: "2026-07-01T00:00:00Z", mql_trigger_events: [dowload]}'


def run_pipeline(
    *args: str | os.PathLike[str], work_dir: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``funnel-pipeline ARGS`` as a real process, dbt's target and logs under work_dir."""
    env = {
        **os.environ,
        "DBT_TARGET_PATH": str(work_dir / "target"),
        "DBT_LOG_PATH": str(work_dir / "logs"),
    }
    return subprocess.run(
        [sys.executable, "-m", "crm_funnel.ops.pipeline", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=timeout,
    )


def summary_of(stdout: str) -> dict[str, str]:
    """The summary block: label -> value."""
    head, _, block = stdout.rpartition("funnel-pipeline summary\n")
    assert head is not None and block, f"no summary in:\n{stdout[-2000:]}"
    rows = {}
    for line in block.splitlines()[1:]:
        label, _, value = line.partition("  ")
        rows[label.strip()] = value.strip()
    return rows


def numbers(text: str, pattern: str) -> list[int]:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return [int(group.replace(",", "")) for group in match.groups()]


def scalar(ref: ProfileRef, sql: str) -> int:
    return int(fetch(ref, sql)[0][0])


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    directory = tmp_path / "inbox"
    directory.mkdir()
    generate_events(directory / "events.ndjson", 1500, 9)
    (directory / "README.txt").write_text("not an event file: ignored\n")
    return directory


def test_pipeline_loads_builds_checks_and_documents(
    tmp_path: Path, duckdb_profile: ProfileRef, inbox: Path
) -> None:
    profile = duckdb_profile.cli_args()
    first = run_pipeline(*profile, "--inbox", inbox, "--vars", AS_OF, work_dir=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    assert first.stderr == ""
    for index, step in enumerate(("load", "freshness", "build", "quality", "docs"), start=1):
        assert f"funnel-pipeline: [{index}/5] {step}: ok (" in first.stdout
    rows = summary_of(first.stdout)

    # the summary equals the database ...
    assert numbers(rows["files"], r"(\d+) loaded, (\d+) skipped .* of (\d+) in") == [1, 0, 1]
    records, new_events, duplicates, load_errors = numbers(
        rows["records"],
        r"([\d,]+) read -> ([\d,]+) new events, ([\d,]+) duplicates, ([\d,]+) load errors",
    )
    assert records == 1500
    assert new_events == scalar(duckdb_profile, "select count(*) from raw.events")
    assert load_errors == scalar(duckdb_profile, "select count(*) from raw.load_errors")
    assert duplicates == scalar(duckdb_profile, "select sum(duplicates_skipped) from raw.loads")
    assert records == new_events + duplicates + load_errors
    quarantined = numbers(rows["quarantined"], r"([\d,]+) events")[0]
    assert quarantined == scalar(
        duckdb_profile, "select count(*) from marts.fct_quarantined_events"
    )
    assert quarantined > 0  # the generator writes dirty records

    # ... and dbt's artifacts
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    data_tests = sum(n["resource_type"] == "test" for n in manifest["nodes"].values())
    models = sum(n["resource_type"] == "model" for n in manifest["nodes"].values())
    passed, warned, failed = numbers(rows["tests"], r"(\d+) passed, (\d+) warned, (\d+) failed")
    assert (passed + warned, failed) == (data_tests, 0)  # no unit tests in production
    assert numbers(rows["models"], r"(\d+) built, (\d+) errored")[0] == models
    assert rows["freshness"].count(" pass") == 4, rows["freshness"]  # 3 raw tables + sheets
    assert rows["quality"] == f"{len(SUITES)} suites passed, 0 failed"
    assert rows["docs"] == str(tmp_path / "target" / "index.html")
    assert (tmp_path / "target" / "index.html").is_file()
    assert (tmp_path / "target" / "catalog.json").is_file()
    assert (tmp_path / "target" / "data_docs" / "index.html").is_file()
    assert rows["result"].startswith("OK in ")

    # Again: the file is skipped by checksum; everything else still runs and passes.
    second = run_pipeline(
        *profile,
        "--inbox",
        inbox,
        "--vars",
        AS_OF,
        "--skip-docs",
        "--quiet",
        "--summary-file",
        tmp_path / "summary.txt",
        work_dir=tmp_path,
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    assert "Running with dbt" not in second.stdout  # --quiet: step lines and summary only
    rows = summary_of(second.stdout)
    assert numbers(rows["files"], r"(\d+) loaded, (\d+) skipped") == [0, 1]
    assert numbers(rows["records"], r"([\d,]+) read -> ([\d,]+) new events") == [0, 0]
    assert numbers(rows["quarantined"], r"([\d,]+) events") == [quarantined]
    assert "docs skipped" in rows["steps"] and rows["docs"] == "not generated"
    assert (tmp_path / "summary.txt").read_text().startswith("funnel-pipeline summary\n")
    assert scalar(duckdb_profile, "select count(*) from raw.loads") == 1

    # A var naming an unknown event type fails a data test: the build step fails, the
    # pipeline stops there, still prints the summary, and says why in one line.
    broken = run_pipeline(
        *profile, "--inbox", inbox, "--vars", BROKEN_RULE, "--quiet", work_dir=tmp_path
    )
    assert broken.returncode == 1, broken.stdout[-3000:]
    rows = summary_of(broken.stdout)
    assert numbers(rows["tests"], r"(\d+) failed")[0] > 0
    assert "build FAILED" in rows["steps"]
    assert "quality not run" in rows["steps"] and "docs not run" in rows["steps"]
    assert rows["result"].startswith("FAILED at step build")
    assert broken.stderr.count("\n") == 1, broken.stderr
    assert broken.stderr.startswith("funnel-pipeline: error: step build failed: 1 test failed")
    assert "assert_rule_vars_name_known_event_types" in broken.stderr
    assert "Traceback" not in broken.stdout + broken.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--inbox", "{tmp}/missing"], "inbox {tmp}/missing does not exist"),
        (["--inbox", "{tmp}/inbox/events.ndjson"], "is not a directory"),
        (["--vars", "{as_of: [1"], "--vars is not valid YAML"),
        (["--vars", "[1, 2]"], "--vars must be a YAML mapping"),
        (["--vars", "{raw_schema: 'raw; drop'}"], "is not a plain SQL identifier"),
        (["--target", "nope"], "target 'nope' not found in profile 'crm_funnel'"),
        (["--profiles-dir", "{tmp}/nowhere"], "no profiles file at"),
        (["--project-dir", "{tmp}"], "no dbt_project.yml in"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    tmp_path: Path, duckdb_profile: ProfileRef, inbox: Path, extra: list[str], message: str
) -> None:
    args = [*duckdb_profile.cli_args(), "--inbox", str(inbox)]
    args += [arg.replace("{tmp}", str(tmp_path)) for arg in extra]
    proc = run_pipeline(*args, work_dir=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""  # nothing ran
    assert proc.stderr.startswith("funnel-pipeline: error: ")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert message.replace("{tmp}", str(tmp_path)) in proc.stderr
    assert not duckdb_profile.conn["path"].exists()


def test_an_empty_inbox_and_an_empty_warehouse_is_one_line_exit_2(
    tmp_path: Path, duckdb_profile: ProfileRef
) -> None:
    (tmp_path / "empty").mkdir()
    proc = run_pipeline(
        *duckdb_profile.cli_args(), "--inbox", tmp_path / "empty", work_dir=tmp_path, timeout=60
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"funnel-pipeline: error: inbox {tmp_path / 'empty'} has no")
    assert "nothing was loaded into DuckDB file" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_unreachable_postgres_is_one_line_exit_2(tmp_path: Path, inbox: Path) -> None:
    from conftest import _free_port, write_profiles

    profiles = write_profiles(
        tmp_path / "pg", "postgres", host="127.0.0.1", port=_free_port(), user="x", dbname="x"
    )
    proc = run_pipeline("--profiles-dir", profiles, "--inbox", inbox, work_dir=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("funnel-pipeline: error: cannot reach PostgreSQL at 127.0.0.1:")
    assert proc.stderr.count("\n") == 1


def test_help_has_examples_and_exit_codes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crm_funnel.ops.pipeline", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0
    for text in ("examples:", "--inbox DIR", "--vars YAML", "--skip-docs", "exit status:"):
        assert text in proc.stdout


# --------------------------------------------------------------------------- parsing


def test_dbt_error_picks_the_message_of_an_error_block() -> None:
    lines = [
        "05:20:43  Registered adapter: duckdb=1.11.1",
        "05:20:44  Encountered an error:",
        "Compilation Error in operation crm_funnel-on-run-start-0 (./dbt_project.yml)",
        "  invalid var: mql_score_threshold = 'abc' must be a number >= 0",
        "  ",
        "  > in macro validate_vars (macros/rules/validate_vars.sql)",
    ]
    assert dbt_error(lines) == (
        "Compilation Error in operation crm_funnel-on-run-start-0 (./dbt_project.yml): "
        "invalid var: mql_score_threshold = 'abc' must be a number >= 0"
    )
    assert dbt_error(["05:20:44  something odd"]) == "something odd"
    assert dbt_error([]) == "no output"


def test_run_results_and_sources_are_counted_by_status() -> None:
    summary = PipelineSummary("ci", "DuckDB", Path("inbox"))
    problems = read_run_results(
        summary,
        {
            "results": [
                {"unique_id": "operation.crm_funnel.hook", "status": "success"},
                {"unique_id": "seed.crm_funnel.event_types", "status": "success"},
                {"unique_id": "model.crm_funnel.fct_quarantined_events", "status": "success"},
                {"unique_id": "model.crm_funnel.dim_contacts", "status": "error", "message": "x"},
                {"unique_id": "test.crm_funnel.unique_a.1", "status": "pass"},
                {"unique_id": "test.crm_funnel.b.2f3a", "status": "fail", "message": "Got 2"},
                {"unique_id": "test.crm_funnel.c.3", "status": "warn"},
                {"unique_id": "unit_test.crm_funnel.m.case", "status": "pass"},
            ]
        },
    )
    assert summary.models == {"success": 1, "error": 1}
    assert summary.quarantined_built and summary.seeds == {"success": 1}
    # data tests only: the pipeline's build leaves dbt's unit tests out
    assert (summary.tests["pass"], summary.tests["warn"], summary.tests_failed) == (1, 1, 1)
    assert summary.data_tests == 3
    assert problems == ["model dim_contacts: x", "test b: Got 2"]
    freshness = read_freshness(
        {
            "results": [
                {
                    "unique_id": "source.crm_funnel.raw.loads",
                    "status": "warn",
                    "max_loaded_at_time_ago_in_s": 7200,
                },
                {"unique_id": "source.crm_funnel.raw.events", "status": "pass"},
            ]
        }
    )
    assert freshness == [("raw.events", "pass", None), ("raw.loads", "warn", 2.0)]
    assert parse_vars(None) == {} and parse_vars("{a: 1}") == {"a": 1}


def test_repeated_vars_are_merged_and_the_later_wins() -> None:
    texts = ["{grant_marts: true, as_of: 2026-01-01}", "{as_of: 2026-07-01, x: [a, b]}"]
    merged: dict[str, object] = {}
    for text in texts:
        merged.update(parse_vars(text))
    assert parse_vars(merged_vars_text(texts, merged)) == {
        "grant_marts": True,
        "as_of": parse_vars("{d: 2026-07-01}")["d"],
        "x": ["a", "b"],
    }
    assert merged_vars_text(texts[:1], parse_vars(texts[0])) == texts[0]  # passed as given
    assert merged_vars_text([], {}) is None
