"""``python -m crm_funnel.spark_load``: land raw event files for the Spark target.

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from crm_funnel.connections import connect_duckdb
from crm_funnel.errors import FunnelError, TerminalError
from crm_funnel.loader import expand_paths, load_one, open_backend
from crm_funnel.profile import (
    PROFILE_NAME,
    DuckDBTarget,
    add_target_arguments,
    find_profiles_file,
    render_value,
)

PROG = "python -m crm_funnel.spark_load"
DEFAULT_TARGET = "spark"
LANDING_FILE = "landing.duckdb"
SPARK_TABLES = ("events", "loads", "load_errors", "sheet_rows")
# The loader's column types (DuckDB) as Spark SQL types.
SPARK_TYPES = {"VARCHAR": "string", "BIGINT": "bigint", "TIMESTAMP": "timestamp"}

EPILOG = """\
examples:
  python -m crm_funnel.spark_load data/events.ndjson
  CRM_FUNNEL_SPARK_DIR=/tmp/spark python -m crm_funnel.spark_load --target spark data/

then: dbt build --target spark"""


def spark_parameters(profiles_dir: str | None, target: str) -> dict[str, str]:
    """The ``server_side_parameters`` of a ``method: session`` Spark target, rendered."""
    profiles_file = find_profiles_file(profiles_dir)
    try:
        with open(profiles_file, encoding="utf-8") as fh:
            document = yaml.safe_load(fh)
    except OSError as exc:
        raise TerminalError(
            f"cannot read {profiles_file} ({exc.strerror}): copy profiles.yml.example to "
            "profiles.yml or pass --profiles-dir"
        ) from None
    outputs = ((document or {}).get(PROFILE_NAME) or {}).get("outputs") or {}
    output = outputs.get(target)
    if not isinstance(output, Mapping):
        raise TerminalError(
            f"target '{target}' not found in profile '{PROFILE_NAME}' in {profiles_file}: "
            "add the spark output of profiles.yml.example or pass --target"
        )
    config = render_value(dict(output))
    if config.get("type") != "spark" or config.get("method") != "session":
        raise TerminalError(
            f"target '{target}' in {profiles_file} is not a Spark target with method: "
            "session; use funnel-load for DuckDB and PostgreSQL"
        )
    parameters = {str(k): str(v) for k, v in (config.get("server_side_parameters") or {}).items()}
    parameters["spark.sql.ansi.enabled"] = "false"  # as dbt-spark sets it
    return parameters


def landing_target(
    parameters: Mapping[str, str], profiles_dir: str | None, target: str
) -> DuckDBTarget:
    """The landing DuckDB file: beside the local warehouse directory."""
    warehouse = parameters.get("spark.sql.warehouse.dir", "spark-warehouse")
    if "://" in warehouse and not warehouse.startswith("file:"):
        raise TerminalError(
            f"spark.sql.warehouse.dir {warehouse} is not local; this command lands data "
            "for a local Spark session only (on a cluster, write raw.* with your own job)"
        )
    spark_dir = Path(warehouse.removeprefix("file:")).expanduser().resolve().parent
    spark_dir.mkdir(parents=True, exist_ok=True)
    return DuckDBTarget(
        profiles_file=find_profiles_file(profiles_dir), target=target, path=spark_dir / LANDING_FILE
    )


def spark_session(parameters: Mapping[str, str]) -> Any:
    """A Spark session configured exactly as dbt-spark's ``method: session`` makes it."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise TerminalError(
            'pyspark is not installed: .venv/bin/pip install "dbt-spark[session]" pyspark'
        ) from None
    builder = SparkSession.builder.appName("crm_funnel.spark_load").enableHiveSupport()
    for key, value in parameters.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def publish(landing: DuckDBTarget, spark: Any, raw_schema: str, work_dir: Path) -> list[str]:
    """Replace the Spark raw tables with the landing file's; return 'table: rows' lines."""
    con = connect_duckdb(landing, read_only=True)
    try:
        tables = {}
        for table in SPARK_TABLES:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [raw_schema, table],
            ).fetchall()
            path = work_dir / f"{table}.parquet"
            con.execute(f"copy {raw_schema}.{table} to '{path}' (format parquet)")
            tables[table] = (columns, path)
    finally:
        con.close()
    spark.sql(f"create database if not exists {raw_schema}")
    lines = []
    for table, (columns, path) in tables.items():
        frame = spark.read.parquet(str(path)).selectExpr(
            *(
                f"cast({name} as {SPARK_TYPES.get(kind, kind.lower())}) as {name}"
                for name, kind in columns
            )
        )
        frame.write.mode("overwrite").format("parquet").saveAsTable(f"{raw_schema}.{table}")
        rows = spark.table(f"{raw_schema}.{table}").count()
        lines.append(f"{raw_schema}.{table}: {rows:,} rows")
    return lines


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
