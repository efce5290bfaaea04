"""`funnel-quality`: the Great Expectations gate on the marts, on DuckDB and PostgreSQL.

Each backend test generates a small data set (events plus the contacts, spend and
campaigns sheets), loads it with the real `funnel-load`, runs the real `dbt build` into a
fresh DuckDB file / PostgreSQL database, checks that every suite passes and that Data Docs
are written, then breaks the marts on purpose and checks that `funnel-quality` exits 1 and
names each failing suite, column and expectation.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import MODELS_ONLY, REPO_ROOT, ProfileRef, execute, fetch, generate_events, run_dbt
from crm_funnel.ops.quality import SUITES

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


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_quality_gate_passes_then_catches_broken_marts(
    backend: str, events_file: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    profile: ProfileRef = request.getfixturevalue(f"{backend}_profile")
    load_and_build(profile, events_file, tmp_path)
    docs = tmp_path / "data_docs"

    # A clean build passes every suite, one PASS line each, and writes Data Docs.
    good = funnel_quality(*profile.cli_args(), "--docs-dir", docs)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stderr == ""  # no GX progress bars or warnings
    for suite in SUITES:
        assert f"PASS {suite.name} (" in good.stdout
    assert "FAIL" not in good.stdout
    index = docs / "index.html"
    assert index.is_file()
    html = index.read_text(encoding="utf-8")
    for suite in SUITES:
        assert suite.name in html
    assert (docs / "expectations" / "rpt_funnel.html").is_file()

    # The new marts have rows, and the reconciliation counts the imported sheet contacts.
    for mart in ("rpt_campaign_performance", "rpt_attribution", "rpt_channel_cac_ltv"):
        assert fetch(profile, f"select count(*) from marts.{mart}")[0][0] > 0, mart
    imported = "select count(*) from intermediate.int_sheet_contacts_imported"
    assert fetch(profile, imported)[0][0] > 0

    # Break the marts on purpose: a rate above 1, a funnel count that grows from one
    # stage to the next, a duplicate contact, a duplicate channel x stage row, an
    # attribution credit above 1, a negative spend, and an activity that vanished (so
    # raw events no longer reconcile).
    mql_reached = fetch(
        profile, "select contacts_reached from marts.rpt_funnel where stage_order = 2"
    )
    execute(
        profile,
        "update marts.rpt_funnel set conversion_to_next = 1.5 where stage_order = 1",
        f"update marts.rpt_funnel set contacts_reached = {mql_reached[0][0] + 7} "
        "where stage_order = 3",
        "insert into marts.dim_contacts select * from marts.dim_contacts "
        "where contact_id = (select min(contact_id) from marts.dim_contacts)",
        "insert into marts.rpt_channel_effectiveness "
        "select * from marts.rpt_channel_effectiveness where stage_order = 2 "
        "and first_touch_channel = "
        "(select min(first_touch_channel) from marts.rpt_channel_effectiveness)",
        "delete from marts.fct_activities "
        "where activity_id = (select min(activity_id) from marts.fct_activities)",
        "update marts.rpt_attribution set credit = 1.5 where attribution_credit_id = "
        "(select min(attribution_credit_id) from marts.rpt_attribution)",
        "update marts.rpt_channel_cac_ltv set spend = -5 where spend is not null and "
        "calendar_month = (select min(calendar_month) from marts.rpt_channel_cac_ltv "
        "where spend is not null) and channel = (select min(channel) from "
        "marts.rpt_channel_cac_ltv where spend is not null)",
    )
    bad = funnel_quality(*profile.cli_args(), "--docs-dir", docs)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr
    out = bad.stdout
    assert "FAIL rpt_funnel (2 of " in out
    assert (
        "conversion_to_next: expect_column_values_to_be_between in [0, 1]: 1 of 5 rows "
        "unexpected; unexpected values: [1.5]" in out
    )
    assert "contacts_reached_increase: expect_column_values_to_be_between <= 0" in out
    assert "unexpected values: [7]" in out
    assert "FAIL dim_contacts" in out
    assert "contact_id: expect_column_values_to_be_unique: 2 of " in out
    assert "FAIL rpt_channel_effectiveness" in out
    assert "(first_touch_channel, funnel_stage): expect_compound_columns_to_be_unique" in out
    assert "FAIL reconciliation" in out
    assert "raw_events_and_imported_contacts = activities_duplicates_quarantined: " in out
    assert "FAIL rpt_attribution (1 of " in out
    assert re.search(
        r"  credit: expect_column_values_to_be_between in \[0, 1\]: 1 of \d+ rows "
        r"unexpected; unexpected values: \[1\.5\]\n",
        out,
    )
    assert "FAIL rpt_channel_cac_ltv (1 of " in out
    assert re.search(
        r"  spend: expect_column_values_to_be_between >= 0: 1 of \d+ rows "
        r"unexpected; unexpected values: \[-5\]\n",
        out,
    )
    assert "PASS rpt_intent_by_source" in out and "PASS fct_quarantined_events" in out
    assert "PASS rpt_campaign_performance" in out and "PASS rpt_pipeline_forecast" in out
    assert (
        "failed: rpt_funnel, rpt_channel_effectiveness, dim_contacts, rpt_attribution, "
        "rpt_channel_cac_ltv, reconciliation" in out
    )


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
    assert "suite rpt_funnel" in line and "run dbt build first" in line
    assert not (tmp_path / "docs" / "index.html").exists()
