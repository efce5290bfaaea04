"""The pipeline's summary: what each step did (from dbt's artifacts) and the one screen
that shows it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_funnel.warehouse.connections import one_line

STEP_NAMES = ("load", "freshness", "build", "quality", "docs")


QUARANTINE_MODEL = "fct_quarantined_events"


# --------------------------------------------------------------------------- results


@dataclass
class Step:
    name: str
    status: str = "not run"  # ok | warn | FAILED | skipped | not run | interrupted
    seconds: float = 0.0
    reason: str = ""

    def brief(self) -> str:
        if self.status in ("not run", "skipped"):
            return f"{self.name} {self.status}"
        return f"{self.name} {self.status} {self.seconds:.1f}s"


@dataclass
class Summary:
    """Everything the final screen shows; ``None`` = not known (the step did not run)."""

    target_name: str
    target_where: str
    inbox: Path
    files_in_inbox: int = 0
    files_loaded: int | None = None
    files_skipped: int | None = None
    records_read: int | None = None
    new_events: int | None = None
    duplicates: int | None = None
    load_errors: int | None = None
    erased_skipped: int | None = None
    quarantined: int | None = None
    models: Counter[str] = field(default_factory=Counter)
    seeds: Counter[str] = field(default_factory=Counter)
    tests: Counter[str] = field(default_factory=Counter)
    data_tests: int = 0
    build_read: bool = False
    quarantined_built: bool = False
    freshness: list[tuple[str, str, float | None]] = field(default_factory=list)
    suites_passed: list[str] = field(default_factory=list)
    suites_failed: list[str] = field(default_factory=list)
    docs_index: Path | None = None
    data_docs_index: Path | None = None
    steps: list[Step] = field(default_factory=lambda: [Step(n) for n in STEP_NAMES])
    seconds: float = 0.0

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if s.status in ("FAILED", "interrupted")), None)

    @property
    def tests_failed(self) -> int:
        return self.tests["fail"] + self.tests["error"]


def read_freshness(document: Mapping[str, Any]) -> list[tuple[str, str, float | None]]:
    """``(source.table, status, hours since the last load)`` per source table."""
    out = []
    for result in document.get("results") or []:
        name = str(result.get("unique_id", "")).split(".", 2)[-1]
        seconds = result.get("max_loaded_at_time_ago_in_s")
        hours = None if seconds is None else float(seconds) / 3600
        out.append((name, str(result.get("status", "?")), hours))
    return sorted(out)


def read_run_results(summary: Summary, document: Mapping[str, Any]) -> list[str]:
    """Count models, seeds and tests by status; return one line per failed node."""
    problems = []
    for result in document.get("results") or []:
        unique_id = str(result.get("unique_id", ""))
        kind, _, rest = unique_id.partition(".")
        status = str(result.get("status", "?"))
        # model.<package>.<name>, test.<package>.<name>.<hash>
        name = rest.split(".")[1] if "." in rest else rest
        if kind == "model":
            summary.models[status] += 1
            if name == QUARANTINE_MODEL:
                summary.quarantined_built = status == "success"
        elif kind == "seed":
            summary.seeds[status] += 1
        elif kind == "test":
            summary.tests[status] += 1
            summary.data_tests += 1
        else:
            continue
        if status in ("error", "fail"):
            message = one_line(Exception(result.get("message") or status))
            problems.append(f"{kind} {name}: {message}")
    summary.build_read = True
    return problems


# --------------------------------------------------------------------------- summary


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def render_summary(summary: Summary) -> str:
    """The one-screen summary of what ran."""
    rows: list[tuple[str, str]] = [
        ("target", f"{summary.target_name} ({summary.target_where})"),
        ("steps", " | ".join(s.brief() for s in summary.steps)),
    ]
    if summary.files_loaded is None:
        rows.append(("files", f"not loaded ({_n(summary.files_in_inbox)} in {summary.inbox})"))
    else:
        rows.append(
            (
                "files",
                f"{_n(summary.files_loaded)} loaded, {_n(summary.files_skipped)} skipped "
                f"(already loaded) of {_n(summary.files_in_inbox)} in {summary.inbox}",
            )
        )
        erased = f", {_n(summary.erased_skipped)} erased" if summary.erased_skipped else ""
        rows.append(
            (
                "records",
                f"{_n(summary.records_read)} read -> {_n(summary.new_events)} new events, "
                f"{_n(summary.duplicates)} duplicates, {_n(summary.load_errors)} load errors"
                f"{erased}",
            )
        )
    if summary.build_read:
        if summary.quarantined_built:
            quarantined = f"{_n(summary.quarantined)} events ({QUARANTINE_MODEL})"
        else:
            quarantined = f"- ({QUARANTINE_MODEL} not built in this run)"
        rows.append(("quarantined", quarantined))
        models, seeds, tests = summary.models, summary.seeds, summary.tests
        rows.append(
            (
                "models",
                f"{models['success']} built, {models['error']} errored, {models['skipped']} "
                f"skipped; seeds {seeds['success']} loaded, {seeds['error']} errored",
            )
        )
        rows.append(
            (
                "tests",
                f"{tests['pass']} passed, {tests['warn']} warned, {summary.tests_failed} failed, "
                f"{tests['skipped']} skipped ({summary.data_tests} data tests)",
            )
        )
    else:
        rows.append(("models/tests", "not built"))
    if summary.freshness:
        rows.append(
            (
                "freshness",
                ", ".join(
                    f"{name} {status}" + ("" if hours is None else f" ({hours:.1f} h)")
                    for name, status, hours in summary.freshness
                ),
            )
        )
    else:
        rows.append(("freshness", "not checked"))
    if summary.suites_passed or summary.suites_failed:
        failed = f" ({', '.join(summary.suites_failed)})" if summary.suites_failed else ""
        rows.append(
            (
                "quality",
                f"{len(summary.suites_passed)} suites passed, "
                f"{len(summary.suites_failed)} failed{failed}",
            )
        )
    else:
        rows.append(("quality", "not run"))
    rows.append(("docs", str(summary.docs_index) if summary.docs_index else "not generated"))
    if summary.data_docs_index:
        rows.append(("data docs", str(summary.data_docs_index)))
    failed_step = summary.failed_step
    if failed_step is None:
        result = f"OK in {summary.seconds:.1f} s"
    else:
        result = f"{failed_step.status} at step {failed_step.name} after {summary.seconds:.1f} s"
    rows.append(("result", result))
    width = max(len(label) for label, _ in rows)
    title = "funnel-pipeline summary"
    lines = [title, "-" * len(title)]
    lines += [f"{label.ljust(width)}  {value}" for label, value in rows]
    return "\n".join(lines)
