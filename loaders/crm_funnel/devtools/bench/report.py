"""The bench's report: the table it prints and the JSON file (``--output``)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import subprocess
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from crm_funnel.errors import TerminalError


@dataclasses.dataclass(frozen=True)
class Step:
    """A row of a result's table: which figures of the report it shows."""

    label: str  # formatted with the result (``{baseline_method}``, ``{delta_events:,}``)
    seconds: str
    events_per_s: str | None = None
    peak_rss_mib: str | None = None


STEPS = (
    Step("seed-style load: an INSERT per line", "seed_load_seconds", "seed_load_events_per_s"),
    Step("seed-style three views, read", "seed_views_seconds"),
    Step("seed-style end to end", "seed_seconds"),
    Step("plain {baseline_method}", "baseline_seconds", "baseline_events_per_s"),
    Step("funnel-load", "load_seconds", "load_events_per_s", "load_peak_rss_mib"),
    Step("core reports: dbt build --select", "core_reports_seconds"),
    Step("end to end: funnel-load + core reports", "end_to_end_seconds"),
    Step("full build: models + data tests", "full_build_seconds", None, "full_build_peak_rss_mib"),
    Step("funnel-load + full build", "load_full_build_seconds"),
    Step("+1% load ({delta_events:,} events)", "delta_load_seconds"),
    Step("+1% dbt build", "incremental_build_seconds"),
)
HEADERS = ("step", "seconds", "events/s", "peak RSS MiB", "vs seed-style")


def _marts_verdict(marts: str | dict[str, str]) -> str:
    """``identical``, or the marts that differ (``incremental_marts`` is one or the other)."""
    return marts if isinstance(marts, str) else "differ: " + ", ".join(sorted(marts))


@dataclasses.dataclass(frozen=True)
class Target:
    """A target of issue 16, checked on the results of one size and target (or of all)."""

    text: str
    value: Callable[[dict[str, Any]], Any]
    met: Callable[[Any], bool]
    shown: str  # format of the value
    size: str | None = None  # None: every measured size
    kind: str | None = None  # None: every measured target


TARGETS = (
    Target(
        "PostgreSQL 1m: load + core reports >= x5 faster than the seed-style pipeline",
        lambda r: r["end_to_end_seconds_vs_seed"],
        lambda v: v >= 5,
        "x{:.1f}",
        "1m",
        "postgres",
    ),
    Target(
        "PostgreSQL 1m: loader >= 250,000 events/s (NDJSON)",
        lambda r: r["load_events_per_s"],
        lambda v: v >= 250_000,
        "{:,.0f} ev/s",
        "1m",
        "postgres",
    ),
    Target(
        "PostgreSQL 1m: loader >= 50% of plain COPY",
        lambda r: r["load_vs_baseline"],
        lambda v: v >= 0.5,
        "{:.0%}",
        "1m",
        "postgres",
    ),
    Target(
        "DuckDB 1m: full dbt build (no unit tests) under 20 s",
        lambda r: r["full_build_seconds"],
        lambda v: v < 20,
        "{:.1f} s",
        "1m",
        "duckdb",
    ),
    Target(
        "DuckDB 1m: loader >= 400,000 events/s",
        lambda r: r["load_events_per_s"],
        lambda v: v >= 400_000,
        "{:,.0f} ev/s",
        "1m",
        "duckdb",
    ),
    Target(
        "DuckDB 10m: load + full build under 3 minutes",
        lambda r: r["load_full_build_seconds"],
        lambda v: v < 180,
        "{:.1f} s",
        "10m",
        "duckdb",
    ),
    Target(
        "DuckDB 10m: load and full build each under 4 GiB RSS",
        lambda r: max(r["load_peak_rss_mib"], r["full_build_peak_rss_mib"]),
        lambda v: v < 4096,
        "{:,.0f} MiB",
        "10m",
        "duckdb",
    ),
    Target(
        "+1% dbt build under 10% of the full build",
        lambda r: r["incremental_vs_full"],
        lambda v: v < 0.10,
        "{:.1%}",
    ),
    Target(
        "marts after +1% identical to a full rebuild",
        lambda r: _marts_verdict(r["incremental_marts"]),
        lambda v: v == "identical",
        "{}",
    ),
    Target(
        "loader peak RSS under 300 MiB",
        lambda r: r["load_peak_rss_mib"],
        lambda v: v < 300,
        "{:,.1f} MiB",
    ),
)


def machine_info(versions: dict[str, str]) -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    packages = ("crm-funnel", "dbt-core", "dbt-duckdb", "dbt-postgres", "duckdb", "psycopg2-binary")
    installed = {}
    for name in packages:
        with contextlib.suppress(metadata.PackageNotFoundError):
            installed[name] = metadata.version(name)
    return {
        "cores": os.cpu_count(),
        "ram_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "cpu": cpu or platform.processor(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": installed,
        "servers": versions,
    }


def project_version(project_dir: Path) -> str:
    """``git describe`` of the project (``-dirty`` with uncommitted changes), if it is a repo."""
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _ratio(value: float) -> str:
    return f"x{value:.1f} faster" if value >= 1 else f"x{1 / value:.1f} slower"


def _cell(result: dict[str, Any], key: str | None, fmt: str) -> str:
    return fmt.format(result[key]) if key and key in result else "-"


def render_result(result: dict[str, Any]) -> str:
    """One result as a table: a row per step, with its ratio to the seed-style step doing
    the same job (``<seconds key>_vs_seed``, see ``measure.RATIO_TO_SEED``)."""
    rows = [list(HEADERS)]
    for step in STEPS:
        if step.seconds not in result:
            continue
        ratio = f"{step.seconds}_vs_seed"
        rows.append(
            [
                step.label.format(**result),
                _cell(result, step.seconds, "{:,.2f}"),
                _cell(result, step.events_per_s, "{:,.0f}"),
                _cell(result, step.peak_rss_mib, "{:,.1f}"),
                _ratio(result[ratio]) if ratio in result else "-",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = [
        "  ".join(
            [row[0].ljust(widths[0])]
            + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        )
        for row in rows
        if len(rows) > 1  # no table without a step
    ]
    title = (
        f"{result['size']} on {result['target']}: {result['events']:,} events, "
        f"1-minute load average {result['load_average_before']:.2f} -> "
        f"{result.get('load_average_after', 0.0):.2f}"
    )
    tail = []
    if "incremental_vs_full" in result:
        tail.append(f"+1% dbt build / full build: {result['incremental_vs_full']:.1%}")
    if "incremental_marts" in result:
        marts = result["incremental_marts"]
        verdict = _marts_verdict(marts)
        if marts != "identical":
            verdict = "differ: " + "; ".join(f"{k} ({v})" for k, v in sorted(marts.items()))
        tail.append(f"{result['marts_compared']} marts after +1% vs a full rebuild: {verdict}")
    if "error" in result:
        tail.append(f"error: {result['error']}")
    return "\n".join([title, *lines, *tail])


def check_targets(report: dict[str, Any]) -> list[dict[str, str]]:
    """Every target of issue 16: the measured value and met / missed / not measured."""
    checks = []
    for target in TARGETS:
        results = [
            r
            for r in report["results"]
            if (target.size is None or r["size"] == target.size)
            and (target.kind is None or r["target"] == target.kind)
        ]
        measured = False
        for result in results:
            try:
                value = target.value(result)
            except KeyError:
                continue
            measured = True
            where = "" if target.size else f" ({result['size']} on {result['target']})"
            checks.append(
                {
                    "target": target.text + where,
                    "value": target.shown.format(value),
                    "verdict": "met" if target.met(value) else "missed",
                }
            )
        if not measured:
            checks.append({"target": target.text, "value": "-", "verdict": "not measured"})
    return checks


def render_report(report: dict[str, Any]) -> str:
    """Every result's table, then the targets and the run's load average."""
    blocks = [render_result(r) for r in report["results"]]
    checks = report.get("targets_checked", [])
    width = max((len(c["target"]) for c in checks), default=0)
    lines = ["targets (issue 16):"] + [
        f"  {c['target'].ljust(width)}  {c['value']:>14}  {c['verdict']}" for c in checks
    ]
    lines.append(
        f"1-minute load average: {report['load_average_before']:.2f} before, "
        f"{report.get('load_average_after', 0.0):.2f} after ({report['machine']['cores']} cores)"
    )
    return "\n\n".join([*blocks, "\n".join(lines)])


HISTORY_MARK = "<!-- funnel-bench adds each run below this line, newest first -->"


def add_to_history(path: Path, report: dict[str, Any], command: str, text: str) -> None:
    """Insert this run, dated and with its machine, below the mark of ``path``."""
    machine = report["machine"]
    section = (
        f"### {report['created_at'][:16].replace('T', ' ')} UTC, {machine['cpu']}, "
        f"{machine['cores']} cores, {machine['ram_bytes'] / 2**30:.1f} GiB RAM\n\n"
        f"`{command}`, project {report['project'] or 'unknown'}\n\n```text\n{text}\n```\n"
    )
    try:
        old = path.read_text(encoding="utf-8") if path.exists() else f"{HISTORY_MARK}\n"
        head, mark, runs = old.partition(HISTORY_MARK)
        if not mark:
            head, mark, runs = old.rstrip("\n") + "\n\n", HISTORY_MARK, "\n"
        earlier = runs.lstrip("\n")
        body = section + ("\n" + earlier if earlier else "")
        path.write_text(f"{head}{mark}\n\n{body}", encoding="utf-8")
    except OSError as exc:
        raise TerminalError(f"cannot write {path}: {exc.strerror}; pass --history FILE") from None


def write_report(path: Path, report: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        raise TerminalError(f"cannot write {path}: {exc.strerror}; pass --output FILE") from None
