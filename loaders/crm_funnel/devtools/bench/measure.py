"""One bench run: the generated data, the timed child processes, the measured steps."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from crm_funnel.devtools.bench.marts import copy_marts, differing_marts, mart_relations
from crm_funnel.devtools.bench.seed_pipeline import Rules, SeedRun, run_seed_pipeline
from crm_funnel.devtools.bench.warehouses import BENCH_TARGET, PROG, Warehouse
from crm_funnel.devtools.generate import DEFAULT_END, DEFAULT_START
from crm_funnel.errors import TerminalError
from crm_funnel.ops.dbt import dbt_error
from crm_funnel.warehouse.connections import one_line

DELTA_SHARE = 0.01  # the incremental batch, as a share of the main file
DELTA_DAYS = 30  # the incremental batch covers this many days after the main data
CORE_REPORTS = ("rpt_funnel", "rpt_channel_effectiveness", "rpt_intent_by_source")
# a plain selection, as a user would type it (dbt_project.yml sets indirect selection)
CORE_SELECTION = tuple(f"+{report}" for report in CORE_REPORTS)
# Each step -> the seed-style step that does the same job: loads against its row-by-row
# load, builds against its three views, end to end against its end to end.
RATIO_TO_SEED = {
    "baseline_seconds": "seed_load_seconds",
    "load_seconds": "seed_load_seconds",
    "core_reports_seconds": "seed_views_seconds",
    "end_to_end_seconds": "seed_seconds",
    "full_build_seconds": "seed_views_seconds",
    "load_full_build_seconds": "seed_seconds",
    "incremental_build_seconds": "seed_views_seconds",
}
SLOWEST = 5
# ru_maxrss is in KiB on Linux, in bytes on macOS
RSS_BYTES_PER_UNIT = 1 if sys.platform == "darwin" else 1024
T = TypeVar("T")
_LOAD_RECORDS = re.compile(r"^loaded .+: ([\d,]+) records? -> ", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Size:
    label: str
    events: int

    @property
    def delta_events(self) -> int:
        return max(1, round(self.events * DELTA_SHARE))


# --------------------------------------------------------------------------- processes


@dataclasses.dataclass(frozen=True)
class Child:
    code: int
    seconds: float
    peak_rss_bytes: int
    output: str


def run_child(command: Sequence[str], cwd: Path) -> Child:
    """Run a command to the end: exit code, wall time, its own peak RSS, its output."""
    start = time.perf_counter()
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    assert process.stdout is not None
    try:
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        process.stdout.close()
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return Child(process.returncode, seconds, usage.ru_maxrss * RSS_BYTES_PER_UNIT, output)


def in_child(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a fresh interpreter, for work on a database in this process
    (DuckDB's, a client's result sets). A child's ``ru_maxrss`` starts at the high-water
    mark of the process that started it (Linux carries it over fork and exec), so this
    process stays small and the peak RSS of ``run_child`` is the child's own."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def seed_style(wh: Warehouse, path: Path, rules: Rules) -> SeedRun:
    with wh.scratch() as session:
        return run_seed_pipeline(session, path, rules)


def note(text: str) -> None:
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data


@dataclasses.dataclass(frozen=True)
class Dataset:
    main: Path
    delta: Path
    as_of: str


def generated(data_dir: Path, events: int, seed: int, start: dt.date, end: dt.date) -> Path:
    """A cached ``funnel-generate`` file (written under a temporary name, then renamed)."""
    path = data_dir / f"events_{events}_seed{seed}_{start}_{end}.ndjson"
    if path.is_file():
        return path
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TerminalError(
            f"cannot create {data_dir}: {exc.strerror}; pass --data-dir DIR"
        ) from None
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    note(f"generating {events:,} events (seed {seed}, {start} to {end}) into {path}")
    child = run_child(
        [sys.executable, "-m", "crm_funnel.devtools.generate", "--events", str(events)]
        + ["--seed", str(seed), "--start", str(start), "--end", str(end)]
        + ["--out", str(partial), "--quiet"],
        cwd=Path.cwd(),
    )
    if child.code != 0:
        partial.unlink(missing_ok=True)
        raise TerminalError(f"funnel-generate failed: {_last_line(child.output)}")
    os.replace(partial, path)
    return path


def dataset(data_dir: Path, size: Size, seed: int) -> Dataset:
    """The main file and its 1% batch of later events (another seed); ``as_of`` after both."""
    start, end = dt.date.fromisoformat(DEFAULT_START), dt.date.fromisoformat(DEFAULT_END)
    delta_start, delta_end = end + dt.timedelta(days=1), end + dt.timedelta(days=DELTA_DAYS)
    as_of = f"{delta_end + dt.timedelta(days=1)}T00:00:00Z"
    return Dataset(
        main=generated(data_dir, size.events, seed, start, end),
        delta=generated(data_dir, size.delta_events, seed + 1, delta_start, delta_end),
        as_of=as_of,
    )


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


# --------------------------------------------------------------------------- one run


@dataclasses.dataclass
class Bench:
    project_dir: Path
    dbt: str
    args: argparse.Namespace
    rules: Rules

    def load(self, wh: Warehouse, path: Path) -> Child:
        child = run_child(
            [sys.executable, "-m", "crm_funnel.ingest.cli", str(path), "--quiet"]
            + ["--profiles-dir", str(wh.profiles_dir), "--target", BENCH_TARGET],
            cwd=wh.work,
        )
        if child.code != 0:
            raise TerminalError(f"funnel-load {path.name} failed: {_last_line(child.output)}")
        return child

    def dbt_run(self, wh: Warehouse, as_of: str, *args: str) -> Child:
        """``dbt ARGS``; builds are production builds (no unit tests: ``make test`` runs them)."""
        started = time.time()
        production = ["--exclude-resource-type", "unit_test"] if args[0] == "build" else []
        child = run_child(
            [
                self.dbt,
                *args,
                *production,
                "--no-use-colors",
                "--project-dir",
                str(self.project_dir),
            ]
            + ["--profiles-dir", str(wh.profiles_dir), "--target", BENCH_TARGET]
            + ["--target-path", str(wh.work / "target"), "--log-path", str(wh.work / "logs")]
            + ["--vars", json.dumps({"as_of": as_of})],
            cwd=self.project_dir,
        )
        if child.code != 0:
            reason = failed_node(wh.work / "target" / "run_results.json", since=started)
            raise TerminalError(
                f"dbt {' '.join(args)} failed: {reason or dbt_error(child.output.splitlines())}"
            )
        return child

    def measure(self, wh: Warehouse, size: Size, data: Dataset, result: dict[str, Any]) -> None:
        """Fill ``result`` with every figure, step by step (a failure keeps what was measured)."""
        where = f"{size.label} on {wh.kind}"
        if size.events <= self.args.seed_style_up_to.events:
            note(f"{where}: seed-style pipeline (an INSERT per line, then three views)")
            seed = in_child(seed_style, wh, data.main, self.rules)
            result["seed_rows"] = seed.rows
            result["seed_load_seconds"] = seed.load_seconds
            result["seed_load_events_per_s"] = size.events / seed.load_seconds
            result["seed_views_seconds"] = seed.views_seconds
            result["seed_seconds"] = seed.load_seconds + seed.views_seconds
        note(f"{where}: baseline ({wh.baseline_method})")
        result["baseline_seconds"] = in_child(wh.baseline, data.main)
        result["baseline_events_per_s"] = size.events / result["baseline_seconds"]
        note(f"{where}: funnel-load")
        load = self.load(wh, data.main)
        records = _LOAD_RECORDS.search(load.output)
        result["load_records"] = int(records[1].replace(",", "")) if records else None
        result["load_seconds"] = load.seconds
        result["load_events_per_s"] = size.events / load.seconds
        result["load_vs_baseline"] = result["load_events_per_s"] / result["baseline_events_per_s"]
        result["load_peak_rss_mib"] = load.peak_rss_bytes / 2**20
        self.dbt_run(wh, data.as_of, "parse")
        note(f"{where}: dbt build of the core reports")
        core = self.dbt_run(wh, data.as_of, "build", "--select", *CORE_SELECTION)
        result["core_reports_seconds"] = core.seconds
        result["end_to_end_seconds"] = load.seconds + core.seconds
        note(f"{where}: dbt build --full-refresh")
        full = self.dbt_run(wh, data.as_of, "build", "--full-refresh")
        result["full_build_seconds"] = full.seconds
        result["full_build_peak_rss_mib"] = full.peak_rss_bytes / 2**20
        result["load_full_build_seconds"] = load.seconds + full.seconds
        result.update(node_timings(wh.work / "target" / "run_results.json"))
        note(f"{where}: +{size.delta_events:,} events, then dbt build")
        result["delta_events"] = size.delta_events
        result["delta_load_seconds"] = self.load(wh, data.delta).seconds
        incremental = self.dbt_run(wh, data.as_of, "build")
        result["incremental_build_seconds"] = incremental.seconds
        result["incremental_vs_full"] = incremental.seconds / full.seconds
        note(f"{where}: marts after +1% vs a full rebuild (dbt run --full-refresh)")
        marts = mart_relations(wh.work / "target" / "manifest.json")
        in_child(copy_marts, wh, marts)
        self.dbt_run(wh, data.as_of, "run", "--full-refresh")
        differences = in_child(differing_marts, wh, marts)
        result["marts_compared"] = len(marts)
        result["incremental_marts"] = differences or "identical"


def ratios(result: dict[str, Any]) -> dict[str, float]:
    """How many times faster than the seed-style step doing the same job each step is."""
    return {
        f"{step}_vs_seed": result[seed] / result[step]
        for step, seed in RATIO_TO_SEED.items()
        if step in result and seed in result
    }


def node_timings(run_results: Path) -> dict[str, Any]:
    """Node counts, summed node seconds and the slowest models and data tests of one dbt
    run, from its ``run_results.json``."""
    try:
        results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    except (OSError, ValueError, KeyError) as exc:
        raise TerminalError(f"cannot read {run_results}: {one_line(exc)}") from None
    groups: dict[str, list[dict[str, Any]]] = {"models": [], "tests": []}
    for result in results:
        node_type, _, name = result["unique_id"].partition(".")
        group = {"model": "models", "test": "tests"}.get(node_type)
        if group:
            node = {"node": name.partition(".")[2], "type": node_type}
            groups[group].append({**node, "seconds": float(result["execution_time"])})
    figures: dict[str, Any] = {}
    for group, nodes in groups.items():
        figures[f"full_build_{group}"] = len(nodes)
        figures[f"full_build_{group}_node_seconds"] = sum(n["seconds"] for n in nodes)
        figures[f"slowest_{group}"] = sorted(nodes, key=lambda n: -n["seconds"])[:SLOWEST]
    return figures


def failed_node(run_results: Path, since: float) -> str | None:
    """``<node>: <message>`` of the first failed node, if dbt wrote run_results after ``since``."""
    try:
        if run_results.stat().st_mtime < since:
            return None
        results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    except (OSError, ValueError, KeyError):
        return None
    for result in results:
        if result.get("status") in ("error", "fail"):
            return f"{result['unique_id']}: {' '.join(str(result.get('message')).split())}"
    return None
