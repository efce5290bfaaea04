"""``funnel-bench``: how fast the project loads and builds, at sizes and on targets.

For every size (``--sizes``) and target (``--targets``) the bench works on a throwaway
warehouse of its own (DuckDB: a file in a temporary directory; PostgreSQL: a new
database on the server of the profile's postgres target, dropped afterwards) and
measures, in this order:

1. a plain baseline of the same file: DuckDB ``create table ... as select * from
   read_json(...)`` (in a separate DuckDB file); PostgreSQL ``COPY raw_baseline(payload)
   FROM STDIN`` of the file's lines as one text column (CSV with control characters as
   delimiter and quote, so every line lands verbatim);
2. the real ``funnel-load`` of that file, as a child process: wall time and peak RSS.
   The RSS is the child's own ``ru_maxrss`` from ``os.wait4`` on its pid: the kernel's
   high-water mark of that one process, so nothing is missed between samples (as with
   polling) and no earlier, bigger child (dbt) hides it (as with RUSAGE_CHILDREN);
3. ``dbt build --full-refresh`` (every model, seed, snapshot and test), then
   ``dbt build --full-refresh --select +rpt_funnel +rpt_channel_effectiveness
   +rpt_intent_by_source`` (the three core reports alone);
4. a 1% batch of new events (another seed, the days after the main data) is loaded
   and a plain ``dbt build`` runs: the daily incremental run.

``as_of`` is pinned after the new batch so every build sees the same "now". dbt runs
as a child with ``--target-path``/``--log-path`` in the bench's temporary directory
(after an untimed ``dbt parse``, so every timed run starts from a parsed project);
only the report (``--output``) is written outside it. Generated files are cached under
``--data-dir``, named by event count, seed and dates.
"""

from __future__ import annotations

import abc
import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from crm_funnel import __version__
from crm_funnel.connections import connect_postgres, one_line
from crm_funnel.errors import FunnelError, TerminalError
from crm_funnel.generate import DEFAULT_END, DEFAULT_SEED, DEFAULT_START
from crm_funnel.pipeline import dbt_error, find_dbt
from crm_funnel.profile import PROFILE_NAME, PostgresTarget, load_target, render_value

PROG = "funnel-bench"
TARGETS = ("duckdb", "postgres")
DEFAULT_SIZES = "100k,1m"
SIZE_UNITS = {"": 1, "k": 1_000, "m": 1_000_000}
DELTA_SHARE = 0.01  # the incremental batch, as a share of the main file
DELTA_DAYS = 30  # the incremental batch covers this many days after the main data
CORE_REPORTS = ("rpt_funnel", "rpt_channel_effectiveness", "rpt_intent_by_source")
SLOWEST = 5
BENCH_TARGET = "bench"
# ru_maxrss is in KiB on Linux, in bytes on macOS
RSS_BYTES_PER_UNIT = 1 if sys.platform == "darwin" else 1024
_LOAD_RECORDS = re.compile(r"^loaded .+: ([\d,]+) records? -> ", re.MULTILINE)

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

DESCRIPTION = __doc__.split("\n\n", 1)[1].replace("``", "")

EPILOG = """\
examples:
  funnel-bench                               # 100k and 1m events, DuckDB and PostgreSQL
  funnel-bench --sizes 100k,1m,10m           # what `make bench SIZE=10m` runs
  funnel-bench --sizes 2k --targets duckdb   # a quick smoke run (about a minute)
  funnel-bench --seed 7 --output /tmp/bench.json
  PGHOST=db.internal PGPORT=5433 funnel-bench --targets postgres

The PostgreSQL connection (host, port, user, password, threads) comes from the
profile's postgres target (--postgres-target); when the server does not answer, that
target is skipped with a note. DuckDB settings and threads come from --duckdb-target.

exit status: 0 every measurement done (skipped targets included),
             1 a step failed (its error is in the report), 2 usage error, 130 interrupted."""


@dataclasses.dataclass(frozen=True)
class Size:
    label: str
    events: int

    @property
    def delta_events(self) -> int:
        return max(1, round(self.events * DELTA_SHARE))


def parse_sizes(text: str) -> list[Size]:
    """``"100k,1m"`` -> sizes; each item a whole number with an optional k or m."""
    sizes: list[Size] = []
    for item in text.split(","):
        label = item.strip().lower()
        match = re.fullmatch(r"(\d+)([km]?)", label)
        if not match or int(match[1]) == 0:
            raise argparse.ArgumentTypeError(
                f"bad size {item.strip()!r}: use event counts like 2000, 100k or 1m"
            )
        sizes.append(Size(label, int(match[1]) * SIZE_UNITS[match[2]]))
    return sizes


def parse_targets(text: str) -> list[str]:
    targets = [t.strip().lower() for t in text.split(",") if t.strip()]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise argparse.ArgumentTypeError(
            f"bad target list {text!r}: use {', '.join(TARGETS)} (comma-separated)"
        )
    return list(dict.fromkeys(targets))


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


def _note(text: str) -> None:
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
    _note(f"generating {events:,} events (seed {seed}, {start} to {end}) into {path}")
    child = run_child(
        [sys.executable, "-m", "crm_funnel.generate", "--events", str(events)]
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


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


# --------------------------------------------------------------------------- warehouses


def profile_output(profiles_dir: str | None, name: str, kind: str) -> dict[str, Any]:
    """The rendered settings of target ``name`` of the crm_funnel profile (must be ``kind``)."""
    target = load_target(profiles_dir, name)
    if target.type != kind:
        raise TerminalError(
            f"target '{name}' in {target.profiles_file} is {target.type}, not {kind}: "
            f"pass --{kind}-target with a {kind} target"
        )
    document = yaml.safe_load(target.profiles_file.read_text(encoding="utf-8"))
    return dict(render_value(document[PROFILE_NAME]["outputs"][name]))


class Warehouse(abc.ABC):
    """A throwaway warehouse for one size on one target, with its own dbt profile."""

    kind: str
    baseline_method: str

    def __init__(self, work: Path, output: dict[str, Any]) -> None:
        self.work = work
        self.output = output
        self.profiles_dir = work / "profiles"
        self.server_version = ""

    def write_profile(self) -> None:
        self.profiles_dir.mkdir(mode=0o700)
        document = {PROFILE_NAME: {"target": BENCH_TARGET, "outputs": {BENCH_TARGET: self.output}}}
        (self.profiles_dir / "profiles.yml").write_text(yaml.safe_dump(document, sort_keys=False))

    @abc.abstractmethod
    def baseline(self, path: Path) -> float:
        """Seconds of the plain bulk load of ``path`` (into a table dropped afterwards)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Remove the warehouse."""


class DuckDBWarehouse(Warehouse):
    kind = "duckdb"
    baseline_method = "read_json"

    def __init__(self, work: Path, output: dict[str, Any]) -> None:
        super().__init__(work, {**output, "path": str(work / "warehouse.duckdb")})
        import duckdb

        self.server_version = duckdb.__version__
        self.write_profile()

    def baseline(self, path: Path) -> float:
        import duckdb

        baseline_file = self.work / "baseline.duckdb"
        con = duckdb.connect(str(baseline_file))
        try:
            start = time.perf_counter()
            con.execute(
                "create table raw_baseline as select * from "
                "read_json(?, format = 'newline_delimited', ignore_errors = true)",
                [str(path)],
            )
            con.close()  # checkpoints: the table is on disk, as after a load
            return time.perf_counter() - start
        finally:
            con.close()
            baseline_file.unlink(missing_ok=True)
            baseline_file.with_name(baseline_file.name + ".wal").unlink(missing_ok=True)

    def close(self) -> None:
        """Nothing to do: the file goes with the bench's temporary directory."""


class PostgresWarehouse(Warehouse):
    kind = "postgres"
    baseline_method = "COPY"

    def __init__(self, work: Path, output: dict[str, Any], target: PostgresTarget) -> None:
        dbname = f"crm_funnel_bench_{uuid.uuid4().hex[:8]}"
        settings = {k: v for k, v in output.items() if k != "database"}  # dbname's alias
        super().__init__(work, {**settings, "dbname": dbname})
        self.server = dataclasses.replace(target, dbname="postgres")
        self.target = dataclasses.replace(target, dbname=dbname)
        with self._admin() as cur:
            cur.execute("show server_version")
            self.server_version = str(cur.fetchone()[0])
            cur.execute(f'create database "{dbname}"')
        self.write_profile()

    @contextlib.contextmanager
    def _admin(self) -> Iterator[Any]:
        import psycopg2

        con = connect_postgres(self.server, application_name=PROG)
        con.autocommit = True
        try:
            with con.cursor() as cur:
                yield cur
        except psycopg2.Error as exc:
            raise TerminalError(f"{self.server.describe()}: {one_line(exc)}") from None
        finally:
            con.close()

    def baseline(self, path: Path) -> float:
        con = connect_postgres(self.target, application_name=PROG)
        try:
            with con.cursor() as cur:
                cur.execute("create table raw_baseline (payload text)")
                con.commit()
                start = time.perf_counter()
                with open(path, "rb") as lines:
                    cur.copy_expert(
                        "copy raw_baseline (payload) from stdin "
                        "with (format csv, delimiter e'\\x01', quote e'\\x02')",
                        lines,
                        size=1 << 20,
                    )
                con.commit()
                seconds = time.perf_counter() - start
                cur.execute("drop table raw_baseline")
                con.commit()
                return seconds
        finally:
            con.close()

    def close(self) -> None:
        with self._admin() as cur:
            cur.execute(f'drop database if exists "{self.target.dbname}" with (force)')


def open_warehouse(kind: str, work: Path, args: argparse.Namespace) -> Warehouse:
    if kind == "duckdb":
        return DuckDBWarehouse(work, profile_output(args.profiles_dir, args.duckdb_target, kind))
    output = profile_output(args.profiles_dir, args.postgres_target, kind)
    target = load_target(args.profiles_dir, args.postgres_target)
    assert isinstance(target, PostgresTarget)
    return PostgresWarehouse(work, output, target)


# --------------------------------------------------------------------------- one run


@dataclasses.dataclass
class Bench:
    project_dir: Path
    dbt: str
    args: argparse.Namespace

    def load(self, wh: Warehouse, path: Path) -> Child:
        child = run_child(
            [sys.executable, "-m", "crm_funnel.load_cli", str(path), "--quiet"]
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
        _note(f"{where}: baseline ({wh.baseline_method})")
        result["baseline_seconds"] = wh.baseline(data.main)
        result["baseline_events_per_s"] = size.events / result["baseline_seconds"]
        _note(f"{where}: funnel-load")
        load = self.load(wh, data.main)
        records = _LOAD_RECORDS.search(load.output)
        result["load_records"] = int(records[1].replace(",", "")) if records else None
        result["load_seconds"] = load.seconds
        result["load_events_per_s"] = size.events / load.seconds
        result["load_vs_baseline"] = result["load_events_per_s"] / result["baseline_events_per_s"]
        result["load_peak_rss_mib"] = load.peak_rss_bytes / 2**20
        self.dbt_run(wh, data.as_of, "parse")
        _note(f"{where}: dbt build --full-refresh")
        full = self.dbt_run(wh, data.as_of, "build", "--full-refresh")
        result["full_build_seconds"] = full.seconds
        result.update(node_timings(wh.work / "target" / "run_results.json"))
        _note(f"{where}: dbt build of the core reports")
        core = self.dbt_run(
            wh, data.as_of, "build", "--full-refresh", "--select", *(f"+{r}" for r in CORE_REPORTS)
        )
        result["core_reports_seconds"] = core.seconds
        _note(f"{where}: +{size.delta_events:,} events, then dbt build")
        result["delta_events"] = size.delta_events
        result["delta_load_seconds"] = self.load(wh, data.delta).seconds
        incremental = self.dbt_run(wh, data.as_of, "build")
        result["incremental_build_seconds"] = incremental.seconds
        result["incremental_vs_full"] = incremental.seconds / full.seconds


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


# --------------------------------------------------------------------------- report


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


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=parse_sizes(DEFAULT_SIZES),
        metavar="LIST",
        help=f"event counts, comma-separated, with k/m suffixes (default: {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--targets",
        type=parse_targets,
        default=list(TARGETS),
        metavar="LIST",
        help=f"comma-separated subset of {','.join(TARGETS)} (default: both)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, metavar="S", help="generator seed (default 42)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data/bench"),
        metavar="DIR",
        help="cache of generated files (default: data/bench)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("target/bench.json"),
        metavar="FILE",
        help="the JSON report (default: target/bench.json)",
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=Path.cwd(),
        metavar="DIR",
        help="the dbt project (default: the current directory)",
    )
    parser.add_argument(
        "--profiles-dir",
        metavar="DIR",
        help="directory with profiles.yml (default: $DBT_PROFILES_DIR, ./, ~/.dbt/)",
    )
    parser.add_argument(
        "--duckdb-target", default="dev", metavar="NAME", help="DuckDB settings (default: dev)"
    )
    parser.add_argument(
        "--postgres-target",
        default="postgres",
        metavar="NAME",
        help="PostgreSQL server and settings (default: postgres)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def bench_target(
    bench: Bench,
    kind: str,
    work: Path,
    size: Size,
    data: Dataset,
    report: dict[str, Any],
    versions: dict[str, str],
) -> None:
    """Measure one size on one target into ``report``; an unusable target is skipped."""
    try:
        wh = open_warehouse(kind, work, bench.args)
    except FunnelError as exc:
        report["skipped"][kind] = str(exc)
        _note(f"skipping {kind}: {exc}")
        return
    versions[kind] = wh.server_version
    result: dict[str, Any] = {
        "size": size.label,
        "events": size.events,
        "target": kind,
        "baseline_method": wh.baseline_method,
        "load_average_before": os.getloadavg()[0],
    }
    report["results"].append(result)
    try:
        bench.measure(wh, size, data, result)
    except FunnelError as exc:
        result["error"] = str(exc)
        _note(f"error: {size.label} on {kind}: {_shorten(str(exc))}")
    finally:
        wh.close()
        result["load_average_after"] = os.getloadavg()[0]


def run(args: argparse.Namespace) -> int:
    project_dir = args.project_dir.resolve()
    if not (project_dir / "dbt_project.yml").is_file():
        raise TerminalError(
            f"no dbt_project.yml in {project_dir}: run from the project or pass --project-dir"
        )
    bench = Bench(project_dir, find_dbt(), args)
    report: dict[str, Any] = {
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "project": project_version(project_dir),
        "seed": args.seed,
        "sizes": [{"label": s.label, "events": s.events} for s in args.sizes],
        "targets": list(args.targets),
        "skipped": {},
        "results": [],
    }
    versions: dict[str, str] = {}
    for size in args.sizes:
        data = dataset(args.data_dir, size, args.seed)
        report["as_of"] = data.as_of
        for kind in args.targets:
            if kind not in report["skipped"]:
                with tempfile.TemporaryDirectory(prefix=f"{PROG}-") as tmp:
                    bench_target(bench, kind, Path(tmp), size, data, report, versions)
            report["machine"] = machine_info(versions)
            write_report(args.output, report)
    print(render_table(report["results"]))
    for kind, reason in report["skipped"].items():
        print(f"skipped {kind}: {reason}")
    failed = [r for r in report["results"] if "error" in r]
    for result in failed:
        print(f"failed {result['size']} on {result['target']}: {_shorten(result['error'])}")
    busiest = max(
        (r[k] for r in report["results"] for k in ("load_average_before", "load_average_after")),
        default=0.0,
    )
    cores = os.cpu_count() or 1
    if busiest > 1.5 * cores:
        print(
            f"note: the machine was busy (1-minute load average up to {busiest:.1f} on {cores} "
            "cores): other work shared the CPU, so these figures understate the project"
        )
    print(f"baselines: DuckDB read_json into a table, PostgreSQL COPY; report: {args.output}")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except FunnelError as exc:
        print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
