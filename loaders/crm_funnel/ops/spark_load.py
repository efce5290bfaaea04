"""``python -m crm_funnel.ops.spark_load``: land raw event files for the Spark target.

The Spark target (dbt-spark ``method: session``, see profiles.yml.example) keeps its tables
as parquet files in a local warehouse with a Derby metastore. This command lands exactly
what ``funnel-load`` lands: it runs the real loader into a landing DuckDB file kept beside
that warehouse (so checksums, event-key de-duplication, load errors and erasure tombstones
behave as on the other targets, across runs), then replaces the raw tables in the Spark
metastore (``raw.events``, ``raw.loads``, ``raw.load_errors``, ``raw.sheet_rows``, same
columns) with that file's tables, written through Spark's DataFrame writer as parquet
tables.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from crm_funnel.errors import FunnelError, TerminalError
from crm_funnel.ingest.inputs import expand_paths
from crm_funnel.ingest.load import load_one
from crm_funnel.warehouse.open import open_backend
from crm_funnel.warehouse.profile import (
    add_target_arguments,
)
from crm_funnel.warehouse.spark import (
    DEFAULT_TARGET,
    landing_target,
    publish,
    spark_parameters,
    spark_session,
)

PROG = "python -m crm_funnel.ops.spark_load"

EPILOG = """\
examples:
  python -m crm_funnel.ops.spark_load data/events.ndjson
  CRM_FUNNEL_SPARK_DIR=/tmp/spark python -m crm_funnel.ops.spark_load --target spark data/

then: dbt build --target spark"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__.split("\n\n", 1)[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="file, directory or glob")
    add_target_arguments(parser)
    parser.set_defaults(target=DEFAULT_TARGET)
    parser.add_argument("--raw-schema", default="raw", metavar="SCHEMA", help="default: raw")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    return parser


def _run(args: argparse.Namespace) -> int:
    inputs = expand_paths(args.paths)
    if any(i.path is None for i in inputs):
        raise TerminalError("stdin is not supported here; pass files or directories")
    parameters = spark_parameters(args.profiles_dir, args.target)
    landing = landing_target(parameters, args.profiles_dir, args.target)
    with open_backend(landing, args.raw_schema) as backend:
        for load_input in inputs:
            print(load_one(backend, load_input, progress=not args.quiet).summary(), flush=True)
    spark = spark_session(parameters)
    try:
        with tempfile.TemporaryDirectory(prefix="spark-load-", dir=landing.path.parent) as tmp:
            for line in publish(landing, spark, args.raw_schema, Path(tmp)):
                print(line, flush=True)
    finally:
        spark.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except FunnelError as exc:
        print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
