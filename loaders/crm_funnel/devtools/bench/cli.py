"""``funnel-bench``: how fast the project loads and builds, at sizes and on targets.

For every size (``--sizes``) and target (``--targets``) the bench works on a throwaway
warehouse of its own (DuckDB: a file in a temporary directory; PostgreSQL: a new
database on the server of the profile's postgres target, dropped afterwards) and
measures, on the same generated file, in this order:

1. the seed-style pipeline this project replaces (the baseline of every ratio): an
   INSERT round trip per line into a one-column JSON table, then three plain SQL views
   that compute the three core reports from the JSON, read once each
   (seed_pipeline.py says what it stands for); DuckDB runs it through its Python API.
   It runs on sizes up to ``--seed-style-up-to`` (1m): at a row per round trip, 10m
   would take hours;
2. a plain bulk load of the same file: DuckDB ``create table ... as select * from
   read_json(...)`` (in a separate DuckDB file); PostgreSQL ``COPY raw_baseline(payload)
   FROM STDIN`` of the file's lines as one text column (CSV with control characters as
   delimiter and quote, so every line lands verbatim);
3. the real ``funnel-load`` of that file, as a child process: wall time and peak RSS.
   The RSS is the child's own ``ru_maxrss`` from ``os.wait4`` on its pid: the kernel's
   high-water mark of that one process, so nothing is missed between samples (as with
   polling) and no earlier, bigger child hides it (as with RUSAGE_CHILDREN);
4. ``dbt build --select +rpt_funnel +rpt_channel_effectiveness +rpt_intent_by_source``
   on the just-loaded warehouse (the three core reports and their parents);
5. ``dbt build --full-refresh``: every model, seed, snapshot and data test (builds are
   production builds: no unit tests, make test runs them), with dbt's peak RSS;
6. a 1% batch of new events (another seed, the days after the main data) is loaded and
   a plain ``dbt build`` runs: the daily incremental run. Every mart is then copied,
   ``dbt run --full-refresh`` rebuilds them, and the copies are compared with the
   rebuilt marts (row counts, ``except all`` both ways): "identical" or the marts that
   differ.

Each step is shown in seconds and as a ratio to the seed-style step doing the same job
(loads to its load, builds to its views, end to end to its end to end), then every
target of issue 16 with the measured value and met / missed, and the 1-minute load
average before and after the run. ``as_of`` is pinned after the new batch so every
build sees the same "now". dbt runs as a child with ``--target-path``/``--log-path`` in
the bench's temporary directory (after an untimed ``dbt parse``, so every timed run
starts from a parsed project); only the report (``--output``, and ``--history``) is
written outside it. Generated files are cached under ``--data-dir``, named by event
count, seed and dates.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crm_funnel import __version__
from crm_funnel.devtools.bench.measure import Bench, Dataset, Size, dataset, note, ratios
from crm_funnel.devtools.bench.report import (
    add_to_history,
    check_targets,
    machine_info,
    project_version,
    render_report,
    write_report,
)
from crm_funnel.devtools.bench.seed_pipeline import Rules
from crm_funnel.devtools.bench.warehouses import PROG, open_warehouse
from crm_funnel.devtools.generate import DEFAULT_SEED
from crm_funnel.errors import FunnelError, TerminalError
from crm_funnel.ops.dbt import find_dbt
from crm_funnel.warehouse.connections import one_line

TARGETS = ("duckdb", "postgres")
DEFAULT_SIZES = "100k,1m"
# The seed-style pipeline inserts a row per round trip (about 1-2k rows/s on DuckDB,
# 7k on PostgreSQL): above this size it would take hours, and no target needs it.
DEFAULT_SEED_STYLE_UP_TO = "1m"
SIZE_UNITS = {"": 1, "k": 1_000, "m": 1_000_000}

DESCRIPTION = __doc__.split("\n\n", 1)[1].replace("``", "")

EPILOG = """\
examples:
  funnel-bench                               # 100k and 1m events, DuckDB and PostgreSQL
  funnel-bench --sizes 100k,1m,10m           # what `make bench SIZE=10m` runs
  funnel-bench --sizes 2k --targets duckdb   # a quick smoke run (about a minute)
  funnel-bench --history docs/benchmarks.md  # what `make bench` runs: keeps a dated copy
  funnel-bench --seed 7 --output /tmp/bench.json
  PGHOST=db.internal PGPORT=5433 funnel-bench --targets postgres

The PostgreSQL connection (host, port, user, password, threads) comes from the
profile's postgres target (--postgres-target); when the server does not answer, that
target is skipped with a note. DuckDB settings and threads come from --duckdb-target.

exit status: 0 every measurement done (skipped targets included),
             1 a step failed (its error is in the report), 2 usage error, 130 interrupted."""


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


def _one_size(sizes: list[Size]) -> Size:
    if len(sizes) != 1:
        raise argparse.ArgumentTypeError("give one size, like 1m")
    return sizes[0]


def parse_targets(text: str) -> list[str]:
    targets = [t.strip().lower() for t in text.split(",") if t.strip()]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise argparse.ArgumentTypeError(
            f"bad target list {text!r}: use {', '.join(TARGETS)} (comma-separated)"
        )
    return list(dict.fromkeys(targets))


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        "--seed-style-up-to",
        type=lambda text: _one_size(parse_sizes(text)),
        default=_one_size(parse_sizes(DEFAULT_SEED_STYLE_UP_TO)),
        metavar="SIZE",
        help="run the seed-style pipeline on sizes up to SIZE events; larger sizes show no "
        f"ratios to it (default: {DEFAULT_SEED_STYLE_UP_TO})",
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
        "--history",
        type=Path,
        metavar="FILE",
        help="also add this run's tables, dated, at the top of FILE's runs "
        "(make bench: docs/benchmarks.md)",
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
        note(f"skipping {kind}: {exc}")
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
        note(f"error: {size.label} on {kind}: {_shorten(str(exc))}")
    finally:
        wh.close()
        result.update(ratios(result))
        result["load_average_after"] = os.getloadavg()[0]


def run(args: argparse.Namespace) -> int:
    project_dir = args.project_dir.resolve()
    if not (project_dir / "dbt_project.yml").is_file():
        raise TerminalError(
            f"no dbt_project.yml in {project_dir}: run from the project or pass --project-dir"
        )
    bench = Bench(project_dir, find_dbt(), args, Rules.of_project(project_dir))
    report: dict[str, Any] = {
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "project": project_version(project_dir),
        "seed": args.seed,
        "sizes": [{"label": s.label, "events": s.events} for s in args.sizes],
        "targets": list(args.targets),
        "load_average_before": os.getloadavg()[0],
        "skipped": {},
        "results": [],
    }
    versions: dict[str, str] = {}
    for size in args.sizes:
        # absolute: funnel-load and dbt run in other directories
        data = dataset(args.data_dir.resolve(), size, args.seed)
        report["as_of"] = data.as_of
        for kind in args.targets:
            if kind not in report["skipped"]:
                with tempfile.TemporaryDirectory(prefix=f"{PROG}-") as tmp:
                    bench_target(bench, kind, Path(tmp), size, data, report, versions)
            report["machine"] = machine_info(versions)
            write_report(args.output, report)
    report["load_average_after"] = os.getloadavg()[0]
    report["targets_checked"] = check_targets(report)
    write_report(args.output, report)
    lines = [render_report(report)]
    lines += [f"skipped {kind}: {reason}" for kind, reason in report["skipped"].items()]
    failed = [r for r in report["results"] if "error" in r]
    lines += [f"failed {r['size']} on {r['target']}: {_shorten(r['error'])}" for r in failed]
    busiest = max(
        (r[k] for r in report["results"] for k in ("load_average_before", "load_average_after")),
        default=0.0,
    )
    cores = os.cpu_count() or 1
    if busiest > 1.5 * cores:
        lines.append(
            f"note: the machine was busy (1-minute load average up to {busiest:.1f} on {cores} "
            "cores): other work shared the CPU, so these figures understate the project"
        )
    text = "\n".join(lines)
    print(text)
    print(f"report: {args.output}")
    if args.history:
        add_to_history(args.history, report, args.command, text)
        print(f"added to {args.history}")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.command = " ".join([PROG, *(sys.argv[1:] if argv is None else argv)])
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
