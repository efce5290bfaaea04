"""Shared fixtures and helpers for the crm_funnel Python tests (real databases, no mocks).

Fixtures
--------
``pg_server`` (session)
    ``{"host", "port", "user"}`` of a PostgreSQL server. Uses PGHOST/PGPORT/PGUSER
    (defaults 127.0.0.1, 5432, postgres) if a server answers there; otherwise starts a
    throwaway cluster (initdb + pg_ctl, trust auth, a free loopback port) that is stopped
    and removed at the end of the session.
``pg_database`` (function)
    A fresh, uniquely named database ``crm_funnel_test_<8 hex>`` on ``pg_server``:
    ``{"host", "port", "user", "dbname"}``. Dropped (WITH (FORCE)) afterwards.
``duckdb_profile`` / ``postgres_profile`` (function)
    A ``ProfileRef``: a 2-tuple ``(profiles_dir, target)`` ready for
    ``--profiles-dir DIR --target NAME``, on a fresh DuckDB file / fresh ``pg_database``.
    It also has ``.kind`` ('duckdb' or 'postgres') and ``.conn`` (DuckDB: ``{"path"}``,
    PostgreSQL: the ``pg_database`` dict), so ``profiles_dir, target = duckdb_profile``
    works and ``fetch(duckdb_profile, sql)`` can query the same database.
``warehouse_profile`` (function, parametrized)
    ``duckdb_profile`` and then ``postgres_profile``: use it for tests that must pass on
    both backends.

Helpers (module level: ``from conftest import write_profiles, fetch, execute, ...``)
--------------------------------------------------------------------------------------
``write_profiles(dir, target_kind, **conn) -> Path``
    Writes ``dir/profiles.yml`` with profile ``crm_funnel`` and one target ``ci`` of type
    ``duckdb`` (``path=...``; schema main) or ``postgres`` (``host, port, user, dbname``,
    password ''; schema public), threads 2. Extra ``conn`` keys override/extend the target.
    Returns ``dir``.
``fetch(ref, sql, params=None) -> list[tuple]``
    Runs one query against the database of a ``ProfileRef`` and returns all rows.
``execute(ref, *statements)``
    Runs statements against the database of a ``ProfileRef`` and commits.
``run_funnel_load(*args, input=None, env=None, cwd=None) -> CompletedProcess``
    Runs the real console script (``python -m crm_funnel.ingest.cli``) in a subprocess with
    text stdout/stderr captured (``input`` may be bytes for stdin).
``parse_load_summary(line) -> dict`` / ``LOAD_SUMMARY`` / ``LOAD_SKIPPED``
    The fields of funnel-load's ``loaded ...`` / ``skipped ...`` summary lines.
``generate_events(path, events, seed, *options) -> Path``
    Writes ``events`` seeded sample events to ``path`` with the real ``funnel-generate``.
``run_dbt(ref, *args, work_dir, dbt_vars=None, check=True, unit_tests=False,
artifacts=False) -> CompletedProcess``
    Runs the real ``dbt ARGS`` (e.g. ``"build"``) on this project against the database of
    a ``ProfileRef``, with target and log paths under ``work_dir``; with ``check`` a
    non-zero exit fails the test with the tail of dbt's output. Builds leave out dbt's
    unit tests (``test_unit_tests.py`` runs them once per target) and write no JSON
    artifacts unless asked; ``MODELS_ONLY`` added to a build leaves out the data tests
    too, for a test that reads the models.

Scheduling: ``make test`` runs pytest in two xdist workers (``--dist loadgroup``); a
module whose module-scoped fixtures build something expensive is one ``xdist_group``, so
one worker builds it once, and such modules are collected first.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import yaml

PROFILE = "crm_funnel"
TARGET = "ci"


# --------------------------------------------------------------------------- helpers


class ProfileRef(tuple):
    """``(profiles_dir, target)`` plus ``.kind`` and ``.conn`` (see the module docstring)."""

    kind: str
    conn: dict[str, Any]

    def __new__(cls, profiles_dir: Path, target: str, kind: str, conn: dict[str, Any]):
        self = super().__new__(cls, (profiles_dir, target))
        self.kind = kind
        self.conn = conn
        return self

    @property
    def profiles_dir(self) -> Path:
        return self[0]

    @property
    def target(self) -> str:
        return self[1]

    def cli_args(self) -> list[str]:
        """``["--profiles-dir", DIR, "--target", NAME]``."""
        return ["--profiles-dir", str(self[0]), "--target", self[1]]


def write_profiles(directory: str | os.PathLike[str], target_kind: str, **conn: Any) -> Path:
    """Write ``profiles.yml`` (profile crm_funnel, one target 'ci'); return the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if target_kind == "duckdb":
        output: dict[str, Any] = {"type": "duckdb", "path": str(conn.pop("path"))}
        output["schema"] = "main"
    elif target_kind == "postgres":
        output = {
            "type": "postgres",
            "host": str(conn.pop("host")),
            "port": int(conn.pop("port")),
            "user": str(conn.pop("user")),
            "password": str(conn.pop("password", "")),
            "dbname": str(conn.pop("dbname")),
            "schema": "public",
        }
    else:
        raise ValueError(f"target_kind must be 'duckdb' or 'postgres', not {target_kind!r}")
    output["threads"] = 2
    output.update(conn)
    document = {PROFILE: {"target": TARGET, "outputs": {TARGET: output}}}
    (directory / "profiles.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    return directory


def fetch(ref: ProfileRef, sql: str, params: Any = None) -> list[tuple]:
    """All rows of one query on the database behind ``ref``."""
    if ref.kind == "duckdb":
        import duckdb

        con = duckdb.connect(str(ref.conn["path"]))
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()
    c = ref.conn
    con = psycopg2.connect(host=c["host"], port=c["port"], user=c["user"], dbname=c["dbname"])
    try:
        with con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        con.close()


def execute(ref: ProfileRef, *statements: str) -> None:
    """Run statements on the database behind ``ref`` and commit them."""
    if ref.kind == "duckdb":
        import duckdb

        con = duckdb.connect(str(ref.conn["path"]))
        try:
            for statement in statements:
                con.execute(statement)
        finally:
            con.close()
        return
    c = ref.conn
    con = psycopg2.connect(host=c["host"], port=c["port"], user=c["user"], dbname=c["dbname"])
    try:
        with con.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        con.commit()
    finally:
        con.close()


def run_funnel_load(
    *args: str | os.PathLike[str],
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``funnel-load ARGS`` as a real process; stdout/stderr are text."""
    proc = subprocess.run(
        [sys.executable, "-m", "crm_funnel.ingest.cli", *map(str, args)],
        input=input,
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


# funnel-load's summary lines
LOAD_SUMMARY = re.compile(
    r"loaded (?P<name>.+): (?P<read>[\d,]+) records? -> (?P<new>[\d,]+) new events?, "
    r"(?P<dup>[\d,]+) duplicates?, (?P<err>[\d,]+) errors? \(load (?P<load>[0-9a-f]{32})\)"
)
LOAD_SKIPPED = re.compile(r"skipped (?P<name>.+): already loaded \(load (?P<load>[0-9a-f]{32})\)")


def parse_load_summary(line: str) -> dict[str, Any]:
    """The fields of a ``loaded ...`` summary line, counts as ints."""
    match = LOAD_SUMMARY.fullmatch(line)
    assert match, line
    fields: dict[str, Any] = match.groupdict()
    for name in ("read", "new", "dup", "err"):
        fields[name] = int(fields[name].replace(",", ""))
    return fields


REPO_ROOT = Path(__file__).resolve().parents[2]


def generate_events(path: Path, events: int, seed: int, *options: str) -> Path:
    """Seeded sample events from the real ``funnel-generate`` (extra CLI options allowed)."""
    subprocess.run(
        [sys.executable, "-m", "crm_funnel.devtools.generate", "--events", str(events)]
        + ["--seed", str(seed), "--out", str(path), "--quiet", *options],
        check=True,
        timeout=300,
    )
    return path


DBT = Path(sys.executable).with_name("dbt")
# ``dbt build`` arguments for a test that reads the built models, not data tests' verdicts
# (those run in the end-to-end, bad-input, fuzz, fault, privileges, pipeline, campaign,
# revenue and format builds, and in make quality's demo build).
MODELS_ONLY = ("--exclude-resource-type", "test")


def run_dbt(
    ref: ProfileRef,
    *args: str,
    work_dir: str | os.PathLike[str],
    dbt_vars: dict[str, Any] | None = None,
    check: bool = True,
    timeout: float = 600,
    unit_tests: bool = False,
    artifacts: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``dbt ARGS`` on this project against the database of ``ref``.

    ``build`` and ``test`` leave out dbt's unit tests unless ``unit_tests`` is true: they
    check SQL logic on fixed inputs, not the data a test loaded, and run once per target
    in ``test_unit_tests.py``. ``manifest.json`` and ``run_results.json`` are written
    only with ``artifacts`` (writing them takes about 2 s of each run).
    """
    command = [str(DBT), *args]
    if args and args[0] in ("build", "test") and not unit_tests:
        command += ["--exclude-resource-type", "unit_test"]
    if not artifacts:
        command.append("--no-write-json")
    command += [
        "--project-dir",
        str(REPO_ROOT),
        *ref.cli_args(),
        "--target-path",
        str(Path(work_dir) / "target"),
        "--log-path",
        str(Path(work_dir) / "logs"),
    ]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)
    if check and proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-30:])
        pytest.fail(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return proc


# --------------------------------------------------------------------------- PostgreSQL


def _can_connect(host: str, port: int, user: str) -> bool:
    try:
        psycopg2.connect(
            host=host, port=port, user=user, dbname="postgres", connect_timeout=3
        ).close()
    except psycopg2.OperationalError:
        return False
    return True


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        candidate = Path(bindir) / name
        if candidate.exists():
            return str(candidate)
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _throwaway_cluster(initdb: str, pg_ctl: str) -> Iterator[dict[str, Any]]:
    as_root = os.geteuid() == 0
    prefix: list[str] = ["runuser", "-u", "postgres", "--"] if as_root else []
    tmp = Path(tempfile.mkdtemp(prefix="crm_funnel_pg_"))
    data, log = tmp / "data", tmp / "server.log"
    if as_root:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(tmp, ignore_errors=True)
            pytest.exit("running as root: initdb needs a 'postgres' OS user", returncode=1)
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    try:
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c fsync=off"
        for command in (
            [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
             "--locale=C", "--no-sync"],
            [*prefix, pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options,
             "start"],
        ):  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                tail = " ".join((done.stderr or done.stdout).split())[-300:]
                pytest.exit(f"could not start a throwaway PostgreSQL: {tail}", returncode=1)
        yield {"host": "127.0.0.1", "port": port, "user": "postgres"}
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[dict[str, Any]]:
    host = os.environ.get("PGHOST", "127.0.0.1")
    port = int(os.environ.get("PGPORT", "5432"))
    user = os.environ.get("PGUSER", "postgres")
    if _can_connect(host, port, user):
        yield {"host": host, "port": port, "user": user}
        return
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.exit(
            f"PostgreSQL is not running at {host}:{port} (user {user}) and initdb/pg_ctl were "
            "not found: install postgresql-15 or set PGHOST/PGPORT",
            returncode=1,
        )
    with _throwaway_cluster(initdb, pg_ctl) as server:
        deadline = time.monotonic() + 30
        while not _can_connect(server["host"], server["port"], server["user"]):
            if time.monotonic() > deadline:
                pytest.exit("the throwaway PostgreSQL cluster did not accept connections")
            time.sleep(0.2)
        yield server


def _admin(server: dict[str, Any]):
    con = psycopg2.connect(
        host=server["host"], port=server["port"], user=server["user"], dbname="postgres"
    )
    con.autocommit = True
    return con


@contextlib.contextmanager
def _fresh_database(server: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A uniquely named database on ``server``, dropped afterwards."""
    name = f"crm_funnel_test_{uuid.uuid4().hex[:8]}"
    con = _admin(server)
    try:
        with con.cursor() as cur:
            cur.execute(f'create database "{name}"')
    finally:
        con.close()
    yield {**server, "dbname": name}
    con = _admin(server)
    try:
        with con.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
    finally:
        con.close()


@pytest.fixture
def pg_database(pg_server: dict[str, Any]) -> Iterator[dict[str, Any]]:
    with _fresh_database(pg_server) as database:
        yield database


@pytest.fixture
def pg_database_2(pg_server: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A second fresh database, for tests that compare two warehouses."""
    with _fresh_database(pg_server) as database:
        yield database


# --------------------------------------------------------------------------- profiles


def _duckdb_ref(folder: Path) -> ProfileRef:
    path = folder / "crm_funnel.duckdb"
    profiles_dir = write_profiles(folder / "profiles", "duckdb", path=path)
    return ProfileRef(profiles_dir, TARGET, "duckdb", {"path": path})


def _postgres_ref(folder: Path, database: dict[str, Any]) -> ProfileRef:
    profiles_dir = write_profiles(folder / "profiles", "postgres", **database)
    return ProfileRef(profiles_dir, TARGET, "postgres", dict(database))


@pytest.fixture
def duckdb_profile(tmp_path: Path) -> ProfileRef:
    return _duckdb_ref(tmp_path)


@pytest.fixture
def postgres_profile(tmp_path: Path, pg_database: dict[str, Any]) -> ProfileRef:
    return _postgres_ref(tmp_path, pg_database)


@pytest.fixture
def duckdb_profile_2(tmp_path: Path) -> ProfileRef:
    return _duckdb_ref(tmp_path / "second")


@pytest.fixture
def postgres_profile_2(tmp_path: Path, pg_database_2: dict[str, Any]) -> ProfileRef:
    return _postgres_ref(tmp_path / "second", pg_database_2)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_profile(request: pytest.FixtureRequest) -> ProfileRef:
    return request.getfixturevalue(f"{request.param}_profile")


# --------------------------------------------------------------------------- scheduling


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules one xdist worker runs whole (``xdist_group``: the Spark build, the
    benchmark, the fault and browser tests) come first, so none of them starts late and
    leaves the other workers idle at the end. The sort is stable: modules stay together."""
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)
