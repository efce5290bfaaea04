"""The bench's report: the table it prints and the JSON file (``--output``)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from crm_funnel.errors import TerminalError

# Every figure of a result, in table order: (key, column header, format).
FIGURES = (
    ("load_seconds", "load s", "{:,.2f}"),
    ("load_events_per_s", "load ev/s", "{:,.0f}"),
    ("baseline_seconds", "base s", "{:,.2f}"),
    ("baseline_events_per_s", "base ev/s", "{:,.0f}"),
    ("load_vs_baseline", "load/base", "{:.2f}"),
    ("load_peak_rss_mib", "RSS MiB", "{:,.1f}"),
    ("full_build_seconds", "build s", "{:,.1f}"),
    ("core_reports_seconds", "core s", "{:,.1f}"),
    ("delta_events", "+1% ev", "{:,}"),
    ("delta_load_seconds", "+1% load s", "{:,.2f}"),
    ("incremental_build_seconds", "incr s", "{:,.1f}"),
    ("incremental_vs_full", "incr/build", "{:.2f}"),
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


def render_table(results: Sequence[dict[str, Any]]) -> str:
    """One row per size and target; every figure formatted by ``FIGURES``."""
    headers = ["size", "target", "events", *(header for _, header, _ in FIGURES)]
    rows = [
        [r["size"], r["target"], f"{r['events']:,}"]
        + [fmt.format(r[key]) if key in r else "-" for key, _, fmt in FIGURES]
        for r in results
    ]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:2], widths[:2], strict=True)]
        right = [c.rjust(w) for c, w in zip(cells[2:], widths[2:], strict=True)]
        return "  ".join(left + right)

    return "\n".join([line(headers), *(line(row) for row in rows)])


def write_report(path: Path, report: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        raise TerminalError(f"cannot write {path}: {exc.strerror}; pass --output FILE") from None
