"""``funnel-bench`` on a tiny size: the report has every figure, consistent with itself and
with the printed table; an unreachable PostgreSQL is skipped with a note; the bench's
PostgreSQL database is its own and is dropped. No timing assertions: speed is what the
bench reports, not what these tests check.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest
import yaml
from conftest import REPO_ROOT
from crm_funnel.devtools.bench.measure import RATIO_TO_SEED, Size, dataset
from crm_funnel.devtools.bench.report import HISTORY_MARK, add_to_history
from crm_funnel.devtools.bench.seed_pipeline import Rules, run_seed_pipeline
from crm_funnel.devtools.bench.warehouses import PostgresWarehouse, Session, profile_output
from crm_funnel.warehouse.profile import load_target

# One xdist worker runs this module: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("bench")

# Table row -> the report key of its seconds, written out here so a step dropped by the
# bench fails.
STEPS = {
    "seed-style load: an INSERT per line": "seed_load_seconds",
    "seed-style three views, read": "seed_views_seconds",
    "seed-style end to end": "seed_seconds",
    "plain read_json": "baseline_seconds",
    "funnel-load": "load_seconds",
    "core reports: dbt build --select": "core_reports_seconds",
    "end to end: funnel-load + core reports": "end_to_end_seconds",
    "full build: models + data tests": "full_build_seconds",
    "funnel-load + full build": "load_full_build_seconds",
    "+1% load (20 events)": "delta_load_seconds",
    "+1% dbt build": "incremental_build_seconds",
}
# A row's other cells -> their report keys (None: not shown on that row).
EVENTS_PER_S = {
    "seed_load_seconds": "seed_load_events_per_s",
    "baseline_seconds": "baseline_events_per_s",
    "load_seconds": "load_events_per_s",
}
PEAK_RSS = {"load_seconds": "load_peak_rss_mib", "full_build_seconds": "full_build_peak_rss_mib"}
FIGURES = (
    *STEPS.values(),
    *EVENTS_PER_S.values(),
    *PEAK_RSS.values(),
    *(f"{step}_vs_seed" for step in RATIO_TO_SEED),
    "seed_rows",
    "load_records",
    "delta_events",
    "load_vs_baseline",
    "incremental_vs_full",
    "marts_compared",
    "full_build_models",
    "full_build_tests",
    "full_build_models_node_seconds",
    "full_build_tests_node_seconds",
)


def write_bench_profiles(directory: Path, pg: dict[str, Any]) -> Path:
    """profiles.yml with the two targets the bench reads by default: dev and postgres."""
    outputs = {
        "dev": {"type": "duckdb", "path": str(directory / "unused.duckdb"), "threads": 2},
        "postgres": {"type": "postgres", "password": "", "schema": "public", "threads": 2, **pg},
    }
    directory.mkdir(parents=True, exist_ok=True)
    document = {"crm_funnel": {"target": "dev", "outputs": outputs}}
    (directory / "profiles.yml").write_text(yaml.safe_dump(document))
    return directory


def run_bench(*args: str | Path, tmp: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    scratch = tmp / "tmpdir"
    scratch.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "crm_funnel.devtools.bench", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "TMPDIR": str(scratch)},
        timeout=timeout,
    )


def table_rows(stdout: str) -> list[dict[str, str]]:
    """The first printed table as header -> cell dicts (columns are 2+ spaces apart)."""
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("step ")), None)
    if start is None:
        return []
    headers = re.split(r"\s{2,}", lines[start].strip())
    rows = []
    for line in lines[start + 1 :]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) != len(headers):
            break
        rows.append(dict(zip(headers, cells, strict=True)))
    return rows


def matches(cell: str, value: float) -> bool:
    """A formatted cell shows ``value`` rounded to the cell's decimals."""
    text = cell.replace(",", "")
    decimals = len(text.partition(".")[2])
    return abs(float(text) - value) <= 0.5 * 10**-decimals + 1e-9


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench_data")


@pytest.fixture(scope="module")
def duckdb_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("bench_duckdb")
    unused = {"host": "127.0.0.1", "port": 1, "user": "x", "dbname": "x"}
    profiles = write_bench_profiles(tmp / "profiles", unused)
    output = tmp / "out" / "bench.json"
    proc = run_bench(
        *("--sizes", "2k", "--targets", "duckdb", "--data-dir", data_dir),
        *("--output", output, "--profiles-dir", profiles),
        tmp=tmp,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"proc": proc, "report": json.loads(output.read_text()), "tmp": tmp}


def test_report_has_every_figure(duckdb_run: dict[str, Any]) -> None:
    report = duckdb_run["report"]
    assert report["sizes"] == [{"label": "2k", "events": 2000}]
    assert report["targets"] == ["duckdb"] and report["skipped"] == {}
    assert report["as_of"].endswith("T00:00:00Z")
    machine = report["machine"]
    assert machine["cores"] > 0 and machine["ram_bytes"] > 2**20
    assert {"dbt-core", "dbt-duckdb", "duckdb"} <= machine["packages"].keys()
    assert machine["servers"]["duckdb"]
    [result] = report["results"]
    assert (result["size"], result["target"], result["baseline_method"]) == (
        "2k",
        "duckdb",
        "read_json",
    )
    assert "error" not in result
    assert result["load_average_before"] >= 0 and result["load_average_after"] >= 0
    for key in FIGURES:
        assert isinstance(result[key], int | float) and result[key] > 0, key
    assert result["events"] == result["load_records"] == 2000
    assert result["delta_events"] == 20
    assert 0 < result["seed_rows"] < 2000  # the seed's row check drops the dirty lines
    assert result["incremental_marts"] == "identical"


def test_ratios_follow_from_the_figures(duckdb_run: dict[str, Any]) -> None:
    [r] = duckdb_run["report"]["results"]
    assert r["load_events_per_s"] == pytest.approx(r["events"] / r["load_seconds"])
    assert r["baseline_events_per_s"] == pytest.approx(r["events"] / r["baseline_seconds"])
    assert r["seed_load_events_per_s"] == pytest.approx(r["events"] / r["seed_load_seconds"])
    assert r["load_vs_baseline"] == pytest.approx(r["baseline_seconds"] / r["load_seconds"])
    assert r["incremental_vs_full"] == pytest.approx(
        r["incremental_build_seconds"] / r["full_build_seconds"]
    )
    assert r["seed_seconds"] == pytest.approx(r["seed_load_seconds"] + r["seed_views_seconds"])
    assert r["end_to_end_seconds"] == pytest.approx(r["load_seconds"] + r["core_reports_seconds"])
    assert r["load_full_build_seconds"] == pytest.approx(
        r["load_seconds"] + r["full_build_seconds"]
    )
    for step, seed in RATIO_TO_SEED.items():
        assert r[f"{step}_vs_seed"] == pytest.approx(r[seed] / r[step]), step


def test_slowest_nodes_come_from_the_full_build(duckdb_run: dict[str, Any]) -> None:
    [r] = duckdb_run["report"]["results"]
    for kind, count in (
        ("slowest_models", "full_build_models"),
        ("slowest_tests", "full_build_tests"),
    ):
        nodes = r[kind]
        assert 0 < len(nodes) <= min(5, r[count]), kind
        seconds = [n["seconds"] for n in nodes]
        assert seconds == sorted(seconds, reverse=True) and min(seconds) >= 0
    for model in (n["node"] for n in r["slowest_models"]):
        assert any((REPO_ROOT / "models").rglob(f"{model}.sql")), model


def ratio_matches(cell: str, ratio: float) -> bool:
    """``x2.5 faster`` shows a ratio of 2.5, ``x4.0 slower`` one of 0.25."""
    match = re.fullmatch(r"x([\d.,]+) (faster|slower)", cell)
    assert match, cell
    return matches(match[1], ratio if match[2] == "faster" else 1 / ratio)


def test_printed_table_matches_the_report(duckdb_run: dict[str, Any]) -> None:
    [result] = duckdb_run["report"]["results"]
    stdout = duckdb_run["proc"].stdout
    assert stdout.startswith("2k on duckdb: 2,000 events, 1-minute load average ")
    rows = table_rows(stdout)
    assert [row["step"] for row in rows] == list(STEPS)
    for row in rows:
        key = STEPS[row["step"]]
        assert matches(row["seconds"], result[key]), (row, result[key])
        for cell, keys in (("events/s", EVENTS_PER_S), ("peak RSS MiB", PEAK_RSS)):
            if key in keys:
                assert matches(row[cell], result[keys[key]]), (row, cell)
            else:
                assert row[cell] == "-", (row, cell)
        if key in RATIO_TO_SEED:
            assert ratio_matches(row["vs seed-style"], result[f"{key}_vs_seed"]), row
        else:
            assert row["vs seed-style"] == "-", row
    assert result["marts_compared"] >= 29  # every model under models/marts
    assert f"{result['marts_compared']} marts after +1% vs a full rebuild: identical" in stdout


def test_targets_are_checked_and_printed(duckdb_run: dict[str, Any]) -> None:
    report, stdout = duckdb_run["report"], duckdb_run["proc"].stdout
    checks = {c["target"]: c for c in report["targets_checked"]}
    assert {c["verdict"] for c in checks.values()} <= {"met", "missed", "not measured"}
    # 2k measures no size-bound target, and every per-result one
    measured = {t for t, c in checks.items() if c["verdict"] != "not measured"}
    assert measured == {
        "+1% dbt build under 10% of the full build (2k on duckdb)",
        "marts after +1% identical to a full rebuild (2k on duckdb)",
        "loader peak RSS under 300 MiB (2k on duckdb)",
    }
    assert checks["marts after +1% identical to a full rebuild (2k on duckdb)"] == {
        "target": "marts after +1% identical to a full rebuild (2k on duckdb)",
        "value": "identical",
        "verdict": "met",
    }
    assert "DuckDB 1m: full dbt build (no unit tests) under 20 s" in checks
    section = stdout[stdout.index("targets (issue 16):") :]
    for check in checks.values():
        assert re.search(
            rf"{re.escape(check['target'])}\s+{re.escape(check['value'])}\s+{check['verdict']}",
            section,
        ), check
    assert re.search(r"1-minute load average: [\d.]+ before, [\d.]+ after \(\d+ cores\)", section)
    assert report["load_average_before"] >= 0 and report["load_average_after"] >= 0


def test_generated_files_are_cached_and_temporary_files_removed(
    duckdb_run: dict[str, Any], data_dir: Path
) -> None:
    files = sorted(data_dir.glob("*.ndjson"), key=lambda p: p.stat().st_size)
    assert [sum(1 for _ in p.open()) for p in files] == [20, 2000]
    before = {p: p.stat().st_mtime_ns for p in files}
    again = dataset(data_dir, Size("2k", 2000), 42)
    assert {again.main, again.delta} == set(files)
    assert {p: p.stat().st_mtime_ns for p in files} == before
    assert sorted(p.name for p in data_dir.iterdir()) == sorted(p.name for p in files)
    assert list((duckdb_run["tmp"] / "tmpdir").iterdir()) == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_postgres_is_skipped_with_a_note(tmp_path: Path, data_dir: Path) -> None:
    port = _closed_port()
    profiles = write_bench_profiles(
        tmp_path / "profiles", {"host": "127.0.0.1", "port": port, "user": "x", "dbname": "x"}
    )
    output = tmp_path / "bench.json"
    proc = run_bench(
        *("--sizes", "2k", "--targets", "postgres", "--data-dir", data_dir),
        *("--output", output, "--profiles-dir", profiles),
        tmp=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    note = f"skipped postgres: cannot reach PostgreSQL at 127.0.0.1:{port}"
    assert any(line.startswith(note) for line in proc.stdout.splitlines()), proc.stdout
    report = json.loads(output.read_text())
    assert report["results"] == [] and "postgres" in report["skipped"]
    assert table_rows(proc.stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sizes", "10x"], "bad size '10x'"),
        (["--targets", "duckdb,oracle"], "bad target list"),
        (["--project-dir", "/nonexistent"], "no dbt_project.yml in /nonexistent"),
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    proc = run_bench(*args, "--data-dir", tmp_path / "data", tmp=tmp_path)
    assert proc.returncode == 2
    [line] = [ln for ln in proc.stderr.splitlines() if ln.startswith("funnel-bench: error:")]
    assert message in line and "Traceback" not in proc.stderr
    assert not (tmp_path / "data").exists()


def test_postgres_warehouse_is_its_own_database_and_is_dropped(
    tmp_path: Path, pg_server: dict[str, Any], data_dir: Path
) -> None:
    profiles = write_bench_profiles(tmp_path / "profiles", {**pg_server, "dbname": "postgres"})
    output = profile_output(str(profiles), "postgres", "postgres")
    target = load_target(str(profiles), "postgres")
    work = tmp_path / "work"
    work.mkdir()
    wh = PostgresWarehouse(work, output, target)

    def databases() -> set[str]:
        con = psycopg2.connect(**pg_server, dbname="postgres")
        try:
            with con.cursor() as cur:
                cur.execute("select datname from pg_database")
                return {name for (name,) in cur.fetchall()}
        finally:
            con.close()

    try:
        assert wh.target.dbname in databases() and wh.target.dbname.startswith("crm_funnel_bench_")
        written = yaml.safe_load((wh.profiles_dir / "profiles.yml").read_text())
        assert written["crm_funnel"]["outputs"]["bench"]["dbname"] == wh.target.dbname
        events = dataset(data_dir, Size("2k", 2000), 42).main
        assert wh.baseline(events) > 0
        with wh.scratch() as session:
            seed = run_seed_pipeline(session, events, Rules.of_project(REPO_ROOT))
            session.cursor.execute("select sum(contacts_current) from seed_funnel")
            [(contacts,)] = session.cursor.fetchall()
        assert 0 < seed.rows < 2000 and 0 < contacts < seed.rows
        con = psycopg2.connect(**pg_server, dbname=wh.target.dbname)
        try:
            with con.cursor() as cur:
                cur.execute("select to_regclass('raw_baseline'), to_regnamespace('bench_scratch')")
                assert cur.fetchone() == (None, None)
        finally:
            con.close()
    finally:
        wh.close()
    assert wh.target.dbname not in databases()


SEED_LINES = [
    # a: a trigger event -> MQL; first touch webinar, lead source from its property
    {
        "email": "a@x.com",
        "event_type": "webinar_joined",
        "channel": "webinar",
        "event_time": "2025-01-02T00:00:00Z",
        "properties": {"lead_source": "event"},
    },
    {
        "email": "a@x.com",
        "event_type": "view",
        "channel": "paid_search",
        "event_time": "2025-01-01T00:00:00Z",
    },
    # b: demo booked, then a proposal -> Opportunity
    {
        "email": "b@x.com",
        "event_type": "demo_booked",
        "channel": "email",
        "event_time": "2025-01-01T00:00:00Z",
    },
    {
        "email": "b@x.com",
        "event_type": "proposal_sent",
        "channel": "email",
        "event_time": "2025-01-03 10:00:00+02:00",
    },
    # c: a purchase -> Customer
    {
        "email": "c@x.com",
        "event_type": "purchase",
        "channel": "referral",
        "event_time": "2025-01-01",
    },
    # d: 10 points -> Lead; e: 20 points over two spellings of one address -> MQL
    {
        "email": "d@x.com",
        "event_type": "view",
        "channel": "referral",
        "event_time": "2025-01-01t00:00:00z",
    },
    {
        "email": " E@X.com ",
        "event_type": "view",
        "channel": "referral",
        "event_time": "2025-01-01T00:00:00Z",
    },
    {
        "email": "e@x.com",
        "event_type": "CLICK",
        "channel": "referral",
        "event_time": "2025-01-02T00:00:00Z",
    },
    # lines the seed's row check drops
    {"email": "no-at-sign", "event_type": "view", "event_time": "2025-01-01T00:00:00Z"},
    {"email": "f@x.com", "event_type": "view", "event_time": "2025-02-30T00:00:00Z"},
    {"email": "f@x.com", "event_type": "view", "event_time": "20250101T000000Z"},
    {"email": "f@x.com", "event_type": 7, "event_time": "2025-01-01T00:00:00Z"},
    [1, 2],
]


def test_seed_style_views_apply_the_project_rules(tmp_path: Path) -> None:
    """The replica on DuckDB, on lines whose stages are known: its three views."""
    events = tmp_path / "events.ndjson"
    events.write_text("\n".join([*map(json.dumps, SEED_LINES), "{not json"]) + "\n")
    con = duckdb.connect(str(tmp_path / "seed.duckdb"))
    try:
        session = Session(con, con.commit, con.begin, "?", "json")
        seed = run_seed_pipeline(session, events, Rules.of_project(REPO_ROOT))
        assert seed.rows == 8 and seed.load_seconds > 0 and seed.views_seconds > 0
        funnel = con.execute("select * from seed_funnel order by stage_order").fetchall()
        assert funnel == [
            ("Lead", 1, 1, 5),
            ("MQL", 2, 2, 4),
            ("SQL", 3, 0, 2),
            ("Opportunity", 4, 1, 2),
            ("Customer", 5, 1, 1),
        ]
        channels = con.execute(
            "select first_touch_channel, funnel_stage, contacts_current, contacts_reached "
            "from seed_channel_effectiveness where contacts_current > 0 order by 1, 2"
        ).fetchall()
        assert channels == [
            ("email", "Opportunity", 1, 1),
            ("paid_search", "MQL", 1, 1),
            ("referral", "Customer", 1, 1),
            ("referral", "Lead", 1, 3),
            ("referral", "MQL", 1, 2),
        ]
        intent = con.execute("select * from seed_intent_by_source order by 1").fetchall()
        assert intent == [
            ("email", 1, 70.0, 70.0),
            ("event", 1, 30.0, 30.0),
            ("referral", 3, 80 / 3, 20.0),
        ]
    finally:
        con.close()


def test_history_keeps_runs_newest_first(tmp_path: Path) -> None:
    history = tmp_path / "benchmarks.md"
    history.write_text(f"# Benchmarks\n\nIntro.\n\n{HISTORY_MARK}\n")
    machine = {"cpu": "Test CPU", "cores": 2, "ram_bytes": 8 * 2**30}
    for day, text in (("2026-01-01", "first table"), ("2026-01-02", "second table")):
        report = {"created_at": f"{day}T10:30:00+00:00", "project": "abc1234", "machine": machine}
        add_to_history(history, report, "funnel-bench --sizes 2k", text)
    content = history.read_text()
    assert content.startswith(
        f"# Benchmarks\n\nIntro.\n\n{HISTORY_MARK}\n\n### 2026-01-02 10:30 UTC"
    )
    assert content.index("second table") < content.index("### 2026-01-01 10:30 UTC")
    assert content.count(HISTORY_MARK) == 1 and content.endswith("first table\n```\n")
    assert "### 2026-01-01 10:30 UTC, Test CPU, 2 cores, 8.0 GiB RAM\n" in content
    assert "`funnel-bench --sizes 2k`, project abc1234" in content
