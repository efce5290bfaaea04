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

import psycopg2
import pytest
import yaml
from conftest import REPO_ROOT
from crm_funnel.devtools.bench.measure import Size, dataset
from crm_funnel.devtools.bench.warehouses import PostgresWarehouse, profile_output
from crm_funnel.warehouse.profile import load_target

# One xdist worker runs this module: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("bench")

# Table header -> report key, written out here so a figure dropped by the bench fails.
COLUMNS = {
    "events": "events",
    "load s": "load_seconds",
    "load ev/s": "load_events_per_s",
    "base s": "baseline_seconds",
    "base ev/s": "baseline_events_per_s",
    "load/base": "load_vs_baseline",
    "RSS MiB": "load_peak_rss_mib",
    "build s": "full_build_seconds",
    "core s": "core_reports_seconds",
    "+1% ev": "delta_events",
    "+1% load s": "delta_load_seconds",
    "incr s": "incremental_build_seconds",
    "incr/build": "incremental_vs_full",
}
FIGURES = (
    *COLUMNS.values(),
    "load_records",
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
    """The printed table as header -> cell dicts (columns are 2+ spaces apart)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("size "))
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


def test_ratios_follow_from_the_figures(duckdb_run: dict[str, Any]) -> None:
    [r] = duckdb_run["report"]["results"]
    assert r["load_events_per_s"] == pytest.approx(r["events"] / r["load_seconds"])
    assert r["baseline_events_per_s"] == pytest.approx(r["events"] / r["baseline_seconds"])
    assert r["load_vs_baseline"] == pytest.approx(r["baseline_seconds"] / r["load_seconds"])
    assert r["incremental_vs_full"] == pytest.approx(
        r["incremental_build_seconds"] / r["full_build_seconds"]
    )


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


def test_printed_table_matches_the_report(duckdb_run: dict[str, Any]) -> None:
    [result] = duckdb_run["report"]["results"]
    [row] = table_rows(duckdb_run["proc"].stdout)
    assert (row["size"], row["target"]) == ("2k", "duckdb")
    assert set(row) == {"size", "target", *COLUMNS}
    for header, key in COLUMNS.items():
        assert matches(row[header], result[key]), (header, row[header], result[key])


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
        assert wh.baseline(dataset(data_dir, Size("2k", 2000), 42).main) > 0
        con = psycopg2.connect(**pg_server, dbname=wh.target.dbname)
        try:
            with con.cursor() as cur:
                cur.execute("select to_regclass('raw_baseline')")
                assert cur.fetchone() == (None,)
        finally:
            con.close()
    finally:
        wh.close()
    assert wh.target.dbname not in databases()
