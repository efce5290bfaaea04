"""``funnel-pipeline``: the whole pipeline in one command, as scheduled CI runs it.

Steps, each a real subprocess with the same profiles dir, target and vars:

1. ``load``       ``funnel-load`` on every .json/.ndjson/.jsonl(.gz) file below the inbox
                  (files loaded before are skipped by checksum, so the inbox can keep them);
2. ``freshness``  ``dbt source freshness`` on the raw tables;
3. ``build``      ``dbt build`` of seeds, models, snapshots and data tests (dbt's unit
                  tests check SQL on fixed inputs: they run in ``make test``, not here);
4. ``quality``    ``funnel-quality`` (Great Expectations suites and Data Docs);
5. ``docs``       ``dbt docs generate`` (skipped with ``--skip-docs``).

The pipeline stops at the first step that fails (a freshness *warning* is not a failure)
and always ends with a one-screen summary of what ran: files and records loaded, new
events, duplicates, load errors, quarantined events, models built, tests passed / warned /
failed, freshness per source, quality suites and the docs path. The numbers come from the
database (``raw.loads``, ``marts.fct_quarantined_events``) and from dbt's artifacts
(``run_results.json``, ``sources.json``), read right after the step that wrote them.

dbt writes its artifacts to ``$DBT_TARGET_PATH`` (default: the project's ``target-path``,
``target/``) and its log to ``$DBT_LOG_PATH``; Data Docs go to ``<target path>/data_docs``.

Exit status: 0 every step passed, 1 a step failed (one ``funnel-pipeline: error: ...`` line
names it and why), 2 a usage or setup error (bad profile, missing inbox, bad ``--vars``,
unreachable database: one line, nothing run), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from crm_funnel import __version__
from crm_funnel.errors import FunnelError, TerminalError
from crm_funnel.ingest.inputs import expand_paths
from crm_funnel.ingest.progress import plural
from crm_funnel.ops.dbt import (
    dbt_error,
    find_dbt,
    fresh_artifact,
    merged_vars_text,
    modified_ns,
    parse_vars,
    read_yaml_mapping,
    tool_error,
)
from crm_funnel.ops.summary import (
    QUARANTINE_MODEL,
    Step,
    Summary,
    read_freshness,
    read_run_results,
    render_summary,
)
from crm_funnel.warehouse.backend import IDENTIFIER
from crm_funnel.warehouse.connections import (
    query_optional,
)
from crm_funnel.warehouse.profile import Target, add_target_arguments, load_target

PROG = "funnel-pipeline"
DEFAULT_INBOX = Path("data") / "inbox"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TAIL_LINES = 25  # child output shown on failure with --quiet

DESCRIPTION = """\
Run the whole crm_funnel pipeline: load new files from the inbox folder -> dbt source
freshness -> dbt build -> the Great Expectations quality gate -> dbt docs generate.

Each step runs as its own process (funnel-load, dbt, funnel-quality) with the same
profiles dir, target and vars. The pipeline stops at the first failing step and always
prints a one-screen summary of what ran. Files already loaded are skipped by checksum,
so the inbox may keep old files."""

EPILOG = """\
examples:
  funnel-pipeline                                   # data/inbox -> the profile's default target
  funnel-pipeline --inbox exports/ --target postgres
  funnel-pipeline --vars '{as_of: "2026-07-01T00:00:00Z", mql_score_threshold: 30}'
  funnel-pipeline --skip-docs --quiet               # step lines and the summary only
  DBT_TARGET_PATH=/tmp/run/target DBT_LOG_PATH=/tmp/run/logs funnel-pipeline

dbt artifacts go to $DBT_TARGET_PATH (default: target/ in the project), Data Docs to
<target path>/data_docs, dbt's log to $DBT_LOG_PATH (default: logs/).

exit status: 0 every step passed (freshness warnings allowed), 1 a step failed (the
             summary shows what ran; one line on stderr says which step and why),
             2 usage or setup error (one line on stderr, nothing run), 130 interrupted."""


# --------------------------------------------------------------------------- set-up


@dataclass
class Context:
    project_dir: Path
    target: Target
    profiles_dir: Path
    inbox: Path
    inbox_files: list[Path]
    vars_text: str | None
    raw_schema: str
    marts_schema: str
    target_path: Path
    dbt: str
    quiet: bool
    out: IO[str]
    env: dict[str, str]

    def dbt_args(self) -> list[str]:
        args = [
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.profiles_dir),
            "--target",
            self.target.target,
            "--target-path",
            str(self.target_path),
        ]
        if self.vars_text:
            args += ["--vars", self.vars_text]
        return args

    def profile_args(self) -> list[str]:
        return ["--profiles-dir", str(self.profiles_dir), "--target", self.target.target]


def inbox_files(inbox: Path) -> list[Path]:
    """The files ``funnel-load INBOX`` would load (none when the inbox is empty)."""
    if not inbox.exists():
        raise TerminalError(
            f"inbox {inbox} does not exist: create it and put event files (.json, .ndjson, "
            ".jsonl, optionally .gz) in it, or pass --inbox DIR"
        )
    if not inbox.is_dir():
        raise TerminalError(f"inbox {inbox} is not a directory: pass --inbox DIR")
    try:
        return [i.path for i in expand_paths([str(inbox)]) if i.path is not None]
    except TerminalError:  # a directory without event files
        return []


def prepare(args: argparse.Namespace, out: IO[str]) -> Context:
    """Check everything a user can get wrong before any step runs (TerminalError if not)."""
    project_dir = Path(
        args.project_dir or os.environ.get("DBT_PROJECT_DIR") or Path.cwd()
    ).expanduser()
    project_file = project_dir / "dbt_project.yml"
    if not project_file.is_file():
        raise TerminalError(
            f"no dbt_project.yml in {project_dir}: run from the crm_funnel project "
            "or pass --project-dir"
        )
    project_dir = project_dir.resolve()
    project = read_yaml_mapping(project_file)
    vars_texts = [text for text in args.vars or [] if text.strip()]
    dbt_vars: dict[str, Any] = {}
    for text in vars_texts:
        dbt_vars.update(parse_vars(text))
    found = project.get("vars")
    project_vars: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    raw_schema = str(dbt_vars.get("raw_schema") or project_vars.get("raw_schema") or "raw")
    for option, schema in (("raw_schema", raw_schema), ("--marts-schema", args.marts_schema)):
        if not IDENTIFIER.match(schema):
            raise TerminalError(f"{option} {schema!r} is not a plain SQL identifier; fix it")

    target = load_target(args.profiles_dir, args.target)
    inbox = Path(args.inbox).expanduser()
    files = inbox_files(inbox)

    target_path = Path(
        os.environ.get("DBT_TARGET_PATH") or str(project.get("target-path") or "target")
    ).expanduser()
    if not target_path.is_absolute():
        target_path = project_dir / target_path  # what dbt does with a relative target path

    env = dict(os.environ)
    if not _isatty(out):
        env.setdefault("DBT_USE_COLORS", "false")
    return Context(
        project_dir=project_dir,
        target=target,
        profiles_dir=target.profiles_file.parent.resolve(),
        inbox=inbox,
        inbox_files=files,
        vars_text=merged_vars_text(vars_texts, dbt_vars),
        raw_schema=raw_schema,
        marts_schema=args.marts_schema,
        target_path=target_path,
        dbt=find_dbt(),
        quiet=args.quiet,
        out=out,
        env=env,
    )


def _isatty(stream: IO[str]) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


LOADS_COLUMNS = "load_id, records_read, events_loaded, duplicates_skipped, errors, erased_skipped"


def committed_loads(target: Target, raw_schema: str) -> dict[str, tuple[int, ...]]:
    """``load_id -> (records, new events, duplicates, errors, erased)`` of ``raw.loads``."""
    rows = query_optional(target, f"select {LOADS_COLUMNS} from {raw_schema}.loads", PROG)
    return {str(r[0]): tuple(int(v or 0) for v in r[1:]) for r in rows or []}


# --------------------------------------------------------------------------- processes


class _Child:
    """The running step's process, so SIGTERM can be passed on to it."""

    process: subprocess.Popen[str] | None = None


def _on_sigterm(signum: int, frame: Any) -> None:
    process = _Child.process
    if process is not None and process.poll() is None:
        with contextlib.suppress(OSError):
            process.terminate()  # funnel-load rolls back, dbt cancels its queries
    raise KeyboardInterrupt


def _say(ctx: Context, text: str) -> None:
    print(f"{PROG}: {text}", file=ctx.out, flush=True)


def run_process(ctx: Context, command: Sequence[str]) -> tuple[int, list[str]]:
    """Run one step's process, echo its output (unless quiet) and return (exit, lines)."""
    lines: list[str] = []
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=Path.cwd(),
        env=ctx.env,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
    )
    _Child.process = process
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = _ANSI.sub("", raw.rstrip("\r\n"))
            lines.append(line)
            if not ctx.quiet:
                print(f"    {line}" if line else "", file=ctx.out, flush=True)
        return process.wait(), lines
    except KeyboardInterrupt:
        # The child got the terminal's Ctrl-C (or our SIGTERM): give it time to clean up.
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise
    finally:
        _Child.process = None
        if process.stdout is not None:
            process.stdout.close()


def _show_tail(ctx: Context, lines: Sequence[str]) -> None:
    if ctx.quiet and lines:
        for line in lines[-TAIL_LINES:]:
            print(f"    {line}", file=ctx.out)


# --------------------------------------------------------------------------- the steps


def step_load(ctx: Context, summary: Summary) -> Step:
    step = summary.step("load")
    summary.files_in_inbox = len(ctx.inbox_files)
    if not ctx.inbox_files:
        summary.files_loaded = summary.files_skipped = 0
        for name in ("records_read", "new_events", "duplicates", "load_errors"):
            setattr(summary, name, 0)
        step.status, step.reason = "ok", f"no event files in {ctx.inbox}, nothing to load"
        return step
    before = committed_loads(ctx.target, ctx.raw_schema)
    command = [
        sys.executable,
        "-m",
        "crm_funnel.ingest.cli",
        *ctx.profile_args(),
        "--raw-schema",
        ctx.raw_schema,
        str(ctx.inbox),
    ]
    code, lines = run_process(ctx, command)
    after = committed_loads(ctx.target, ctx.raw_schema)
    new = [counts for load_id, counts in after.items() if load_id not in before]
    totals = [sum(column) for column in zip(*new, strict=True)] if new else [0] * 5
    summary.files_loaded = len(new)
    summary.files_skipped = sum(1 for line in lines if line.startswith("skipped "))
    (
        summary.records_read,
        summary.new_events,
        summary.duplicates,
        summary.load_errors,
        summary.erased_skipped,
    ) = totals
    if code != 0:
        _show_tail(ctx, lines)
        step.status, step.reason = "FAILED", tool_error(lines, "funnel-load")
    else:
        step.status = "ok"
    return step


def step_freshness(ctx: Context, summary: Summary) -> Step:
    step = summary.step("freshness")
    artifact = ctx.target_path / "sources.json"
    before = modified_ns(artifact)
    code, lines = run_process(ctx, [ctx.dbt, "source", "freshness", *ctx.dbt_args()])
    document = fresh_artifact(artifact, before)
    if document is not None:
        summary.freshness = read_freshness(document)
    stale = [(n, s, h) for n, s, h in summary.freshness if s not in ("pass", "warn")]
    if code != 0:
        _show_tail(ctx, lines)
        step.status = "FAILED"
        if stale:
            step.reason = "; ".join(
                f"{n} {s}" + ("" if h is None else f" (last load {h:.1f} h ago)")
                for n, s, h in stale
            )
        else:
            step.reason = dbt_error(lines)
    elif any(s == "warn" for _, s, _ in summary.freshness):
        step.status = "warn"
    else:
        step.status = "ok"
    return step


def step_build(ctx: Context, summary: Summary) -> Step:
    step = summary.step("build")
    artifact = ctx.target_path / "run_results.json"
    before = modified_ns(artifact)
    code, lines = run_process(
        ctx, [ctx.dbt, "build", "--exclude-resource-type", "unit_test", *ctx.dbt_args()]
    )
    document = fresh_artifact(artifact, before)
    problems = read_run_results(summary, document) if document is not None else []
    if summary.quarantined_built:
        rows = query_optional(
            ctx.target, f"select count(*) from {ctx.marts_schema}.{QUARANTINE_MODEL}", PROG
        )
        summary.quarantined = int(rows[0][0]) if rows else None
    if code == 0:
        step.status = "ok"
        return step
    _show_tail(ctx, lines)
    step.status = "FAILED"
    if problems:
        parts = []
        if summary.tests_failed:
            parts.append(f"{plural(summary.tests_failed, 'test')} failed")
        errored = summary.models["error"] + summary.seeds["error"]
        if errored:
            parts.append(f"{plural(errored, 'model or seed', 'models or seeds')} errored")
        first = "" if len(problems) == 1 else "; first"
        step.reason = f"{', '.join(parts)}{first}: {problems[0]}"
    else:
        step.reason = dbt_error(lines)
    return step


_SUITE_LINE = re.compile(r"^(PASS|FAIL) (\S+)")


def step_quality(ctx: Context, summary: Summary) -> Step:
    step = summary.step("quality")
    docs_dir = ctx.target_path / "data_docs"
    command = [
        sys.executable,
        "-m",
        "crm_funnel.ops.quality",
        *ctx.profile_args(),
        "--docs-dir",
        str(docs_dir),
        "--raw-schema",
        ctx.raw_schema,
        "--marts-schema",
        ctx.marts_schema,
        "--project-dir",
        str(ctx.project_dir),
        *(["--vars", ctx.vars_text] if ctx.vars_text else []),
    ]
    code, lines = run_process(ctx, command)
    for line in lines:
        match = _SUITE_LINE.match(line)
        if match:
            (summary.suites_passed if match[1] == "PASS" else summary.suites_failed).append(
                match[2]
            )
    if (docs_dir / "index.html").is_file() and code in (0, 1):
        summary.data_docs_index = docs_dir / "index.html"
    if code == 0:
        step.status = "ok"
    elif code == 1 and summary.suites_failed:
        _show_tail(ctx, lines)
        step.status = "FAILED"
        step.reason = f"quality suites failed: {', '.join(summary.suites_failed)}"
    else:
        _show_tail(ctx, lines)
        step.status, step.reason = "FAILED", tool_error(lines, "funnel-quality")
    return step


def step_docs(ctx: Context, summary: Summary) -> Step:
    step = summary.step("docs")
    code, lines = run_process(ctx, [ctx.dbt, "docs", "generate", *ctx.dbt_args()])
    if code == 0:
        step.status = "ok"
        summary.docs_index = ctx.target_path / "index.html"
    else:
        _show_tail(ctx, lines)
        step.status, step.reason = "FAILED", dbt_error(lines)
    return step


STEPS: dict[str, tuple[Callable[[Context, Summary], Step], str]] = {
    "load": (step_load, "funnel-load {profile} {inbox}"),
    "freshness": (step_freshness, "dbt source freshness {profile}"),
    "build": (step_build, "dbt build --exclude-resource-type unit_test {profile}"),
    "quality": (step_quality, "funnel-quality {profile}"),
    "docs": (step_docs, "dbt docs generate {profile}"),
}


def run_steps(ctx: Context, summary: Summary, skip_docs: bool) -> Iterator[Step]:
    """Run the steps in order, stopping after the first failure; yield each finished step."""
    total = len(STEPS)
    profile = f"--target {ctx.target.target}"
    for index, (name, (run, shown)) in enumerate(STEPS.items(), start=1):
        if name == "docs" and skip_docs:
            summary.step(name).status = "skipped"
            _say(ctx, f"[{index}/{total}] {name}: skipped (--skip-docs)")
            continue
        _say(ctx, f"[{index}/{total}] {name}: {shown.format(profile=profile, inbox=ctx.inbox)}")
        started = time.monotonic()
        step = summary.step(name)
        try:
            run(ctx, summary)
        except KeyboardInterrupt:
            step.status, step.reason = "interrupted", "interrupted"
            raise
        finally:
            step.seconds = time.monotonic() - started
        note = f": {step.reason}" if step.reason else ""
        _say(ctx, f"[{index}/{total}] {name}: {step.status} ({step.seconds:.1f} s){note}")
        yield step
        if step.status == "FAILED":
            return


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_arguments(parser)
    parser.add_argument(
        "--inbox",
        metavar="DIR",
        default=str(DEFAULT_INBOX),
        help=f"folder of event files to load (default: {DEFAULT_INBOX})",
    )
    parser.add_argument(
        "--vars",
        metavar="YAML",
        action="append",
        help="dbt vars for every dbt step, e.g. '{as_of: \"2026-07-01\"}'; may be repeated "
        "(merged, the later wins)",
    )
    parser.add_argument("--skip-docs", action="store_true", help="do not run dbt docs generate")
    parser.add_argument(
        "--project-dir",
        metavar="DIR",
        help="the dbt project (default: $DBT_PROJECT_DIR or the current directory)",
    )
    parser.add_argument("--marts-schema", default="marts", metavar="SCHEMA", help="default: marts")
    parser.add_argument(
        "--summary-file",
        metavar="FILE",
        help="also write the summary to FILE (e.g. for a CI job summary)",
    )
    parser.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="show only the step lines and the summary (a failing step's last lines too)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _fail(message: str, code: int = 2) -> int:
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    return code


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out if out is not None else sys.stdout
    previous = None
    with contextlib.suppress(ValueError):  # not in the main thread
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(args, out)
    except KeyboardInterrupt:  # during set-up
        return _fail("interrupted", 130)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(args: argparse.Namespace, out: IO[str]) -> int:
    started = time.monotonic()
    try:
        ctx = prepare(args, out)
        # Fail fast on a database we cannot reach (one line, nothing run).
        loaded_before = query_optional(
            ctx.target, f"select 1 from {ctx.raw_schema}.loads limit 1", PROG
        )
        if not ctx.inbox_files and not loaded_before:
            raise TerminalError(
                f"inbox {ctx.inbox} has no event files (.json, .ndjson, .jsonl, optionally .gz) "
                f"and nothing was loaded into {ctx.target.describe()} yet: put event files "
                "in the inbox, or pass --inbox DIR"
            )
    except FunnelError as exc:
        return _fail(str(exc))
    summary = Summary(ctx.target.target, ctx.target.describe(), ctx.inbox)
    interrupted = False
    error: str | None = None
    try:
        for _ in run_steps(ctx, summary, args.skip_docs):
            pass
    except KeyboardInterrupt:
        interrupted = True
    except FunnelError as exc:  # our own queries between steps (database gone away)
        error = str(exc)
        step = next((s for s in summary.steps if s.status == "not run"), summary.steps[-1])
        step.status, step.reason = "FAILED", error
    summary.seconds = time.monotonic() - started
    text = render_summary(summary)
    print("\n" + text, file=out, flush=True)
    if args.summary_file:
        try:
            Path(args.summary_file).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write --summary-file {args.summary_file}: {exc.strerror or exc}")
    if interrupted:
        stopped = summary.failed_step
        where = f" during step {stopped.name}" if stopped else ""
        note = (
            "; the load in progress was rolled back" if stopped and stopped.name == "load" else ""
        )
        return _fail(f"interrupted{where}{note}", 130)
    failed = summary.failed_step
    if failed is not None:
        return _fail(f"step {failed.name} failed: {failed.reason}", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
