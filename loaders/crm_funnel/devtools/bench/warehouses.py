"""The throwaway warehouse of one bench run: a DuckDB file or a PostgreSQL database."""

from __future__ import annotations

import abc
import argparse
import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from crm_funnel.errors import TerminalError
from crm_funnel.warehouse.connections import connect_postgres, one_line
from crm_funnel.warehouse.profile import PROFILE_NAME, PostgresTarget, load_target, render_value

PROG = "funnel-bench"
BENCH_TARGET = "bench"
SCRATCH_SCHEMA = "bench_scratch"


@dataclasses.dataclass(frozen=True)
class Session:
    """A DB-API cursor on one connection, with what differs between the engines."""

    cursor: Any
    commit: Callable[[], None]
    begin: Callable[[], None]  # opens a transaction (PostgreSQL: implicit)
    placeholder: str
    json_type: str


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
    def session(self) -> contextlib.AbstractContextManager[Session]:
        """A session on the warehouse dbt builds."""

    @abc.abstractmethod
    def scratch(self) -> contextlib.AbstractContextManager[Session]:
        """A session on an empty place beside the warehouse, removed afterwards."""

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

    @contextlib.contextmanager
    def _connection(self, path: Path, *, remove: bool) -> Iterator[Any]:
        import duckdb

        try:
            con = duckdb.connect(str(path))
            try:
                yield con
            finally:
                con.close()
        except duckdb.Error as exc:
            raise TerminalError(f"DuckDB {path.name}: {one_line(exc)}") from None
        finally:
            if remove:
                path.unlink(missing_ok=True)
                path.with_name(path.name + ".wal").unlink(missing_ok=True)

    def baseline(self, path: Path) -> float:
        with self._connection(self.work / "baseline.duckdb", remove=True) as con:
            start = time.perf_counter()
            con.execute(
                "create table raw_baseline as select * from "
                "read_json(?, format = 'newline_delimited', ignore_errors = true)",
                [str(path)],
            )
            con.close()  # checkpoints: the table is on disk, as after a load
            return time.perf_counter() - start

    @contextlib.contextmanager
    def _session(self, path: Path, *, remove: bool) -> Iterator[Session]:
        with self._connection(path, remove=remove) as con:
            yield Session(con, con.commit, lambda: con.begin(), "?", "json")

    def session(self) -> contextlib.AbstractContextManager[Session]:
        return self._session(Path(self.output["path"]), remove=False)

    def scratch(self) -> contextlib.AbstractContextManager[Session]:
        return self._session(self.work / "scratch.duckdb", remove=True)

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

    @contextlib.contextmanager
    def _session(self, schema: str | None) -> Iterator[Session]:
        import psycopg2

        con = connect_postgres(self.target, application_name=PROG)
        try:
            cur = con.cursor()
            if schema:
                cur.execute(f"create schema {schema}")
                cur.execute(f"set search_path to {schema}")
                con.commit()
            yield Session(cur, con.commit, lambda: None, "%s", "jsonb")
            if schema:
                con.rollback()
                cur.execute(f"drop schema {schema} cascade")
                con.commit()
        except psycopg2.Error as exc:
            raise TerminalError(f"{self.target.describe()}: {one_line(exc)}") from None
        finally:
            con.close()

    def session(self) -> contextlib.AbstractContextManager[Session]:
        return self._session(None)

    def scratch(self) -> contextlib.AbstractContextManager[Session]:
        return self._session(SCRATCH_SCHEMA)

    def close(self) -> None:
        with self._admin() as cur:
            cur.execute(f'drop database if exists "{self.target.dbname}" with (force)')


def open_warehouse(kind: str, work: Path, args: argparse.Namespace) -> Warehouse:
    if kind == "duckdb":
        return DuckDBWarehouse(work, profile_output(args.profiles_dir, args.duckdb_target, kind))
    output = profile_output(args.profiles_dir, args.postgres_target, kind)
    target = load_target(args.profiles_dir, args.postgres_target)
    assert target.type == "postgres"  # profile_output checked it
    return PostgresWarehouse(work, output, target)
