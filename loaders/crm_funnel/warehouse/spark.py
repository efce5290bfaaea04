"""The Spark target: its parameters from profiles.yml, the landing DuckDB file beside its
warehouse, and publishing the landed raw tables to the Spark metastore as parquet tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from crm_funnel.errors import TerminalError
from crm_funnel.warehouse.connections import connect_duckdb
from crm_funnel.warehouse.profile import (
    PROFILE_NAME,
    DuckDBTarget,
    find_profiles_file,
    render_value,
)

DEFAULT_TARGET = "spark"
LANDING_FILE = "landing.duckdb"
SPARK_TABLES = ("events", "loads", "load_errors", "sheet_rows")
# The loader's column types (DuckDB) as Spark SQL types.
SPARK_TYPES = {"VARCHAR": "string", "BIGINT": "bigint", "TIMESTAMP": "timestamp"}


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
