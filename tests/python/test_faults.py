"""Faults: real ``funnel-load`` subprocesses killed, raced and cut off, on real databases.

* SIGKILL in the middle of a load leaves no partial batch, and a rerun loads the file
  exactly once (DuckDB: the killed process's file opens cleanly afterwards).
* Two loaders on the same file at once land it once.
* ``dbt build`` while a load is in flight sees only committed loads.
* Building twice with the same ``as_of`` gives identical marts.
* The database connection dropped mid-load: one clear line, exit 2, nothing committed.

"Mid-load" is made certain, not timed: on PostgreSQL the test waits until the loader's
backend (``application_name = 'funnel-load'``) is running its COPY, or blocks the load's
last statement on an advisory lock (a trigger on ``raw.loads``) after all events were
written; on DuckDB it waits for the progress line that says the batch is being written.
Every subprocess has a timeout and is killed if a test fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from conftest import MODELS_ONLY, ProfileRef, fetch, run_dbt, run_funnel_load

# One xdist worker runs this module: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("faults")

BIN = Path(sys.executable).parent
AS_OF = "2026-07-01T00:00:00Z"
DBT_VARS = {"as_of": AS_OF}
BIG_EVENTS = 400_000
HEAD_LINES = 2_000
TIMEOUT = 90  # seconds, for any one loader subprocess or wait (dbt builds: run_dbt's own limit)


# --------------------------------------------------------------------------- input files


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def event_key(obj: dict[str, Any]) -> str:
    """The documented event key (of a native event): the integer or the non-empty string
    event_id, namespaced by type (1 and "1" differ), else a content hash."""
    event_id = obj.get("event_id")
    if type(event_id) is int:
        return f"int:{event_id}"
    if type(event_id) is str and event_id and "\x00" not in event_id:
        return f"id:{event_id}"
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def distinct_events(lines: list[bytes]) -> int:
    """How many distinct event keys the JSON-object lines hold."""
    keys: set[str] = set()
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line, parse_constant=_not_json)
        except ValueError:
            continue
        if isinstance(obj, dict):
            keys.add(event_key(obj))
    return len(keys)


@dataclass(frozen=True)
class Files:
    big: Path  # BIG_EVENTS generated lines: a load of a few seconds
    head: Path  # its first HEAD_LINES lines: a small load committed before the big one
    big_distinct: int
    head_distinct: int


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    folder = tmp_path_factory.mktemp("fault-input")
    big = folder / "big.ndjson"
    subprocess.run(
        [str(BIN / "funnel-generate"), "--events", str(BIG_EVENTS), "--seed", "5", "--out", big]
        + ["--quiet"],
        check=True,
        timeout=TIMEOUT,
    )
    lines = big.read_bytes().splitlines()
    head = folder / "head.ndjson"
    head.write_bytes(b"\n".join(lines[:HEAD_LINES]) + b"\n")
    return Files(big, head, distinct_events(lines), distinct_events(lines[:HEAD_LINES]))


# --------------------------------------------------------------------------- processes


class Loader:
    """A running ``funnel-load`` whose stderr is read line by line as it comes."""

    def __init__(self, ref: ProfileRef, *args: str | os.PathLike[str], tmpdir: Path) -> None:
        tmpdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crm_funnel.ingest.cli", *ref.cli_args(), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TMPDIR": str(tmpdir)},  # leftovers of a SIGKILL stay here
        )
        self.stderr_lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_stderr(self, needle: str, timeout: float = TIMEOUT) -> str:
        """The first stderr line containing ``needle`` (fails if the process ends first)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no stderr line with {needle!r} within {timeout} s")
            if line is None:
                pytest.fail(f"funnel-load ended before printing {needle!r}: {self.stderr_lines}")
            self.stderr_lines.append(line)
            if needle in line:
                return line

    def finish(self, timeout: float = TIMEOUT) -> tuple[int, str, str]:
        """Wait for the end; return (exit code, stdout, all of stderr)."""
        self.proc.wait(timeout=timeout)  # (not communicate(): the thread reads stderr)
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()  # one summary line at most: the pipe never fills
        self._reader.join(timeout)
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                self.stderr_lines.append(line)
        return self.proc.returncode, out, "\n".join(self.stderr_lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.communicate(timeout=TIMEOUT)


@contextlib.contextmanager
def loaders(*specs: tuple[ProfileRef, tuple[Any, ...], Path]) -> Iterator[list[Loader]]:
    """Start loaders; whatever happens in the test, none outlives it."""
    started: list[Loader] = []
    try:
        for ref, args, tmpdir in specs:
            started.append(Loader(ref, *args, tmpdir=tmpdir))
        yield started
    finally:
        for loader in started:
            loader.kill()


def wait_until(condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


# --------------------------------------------------------------------------- databases


@contextlib.contextmanager
def pg_session(ref: ProfileRef) -> Iterator[Any]:
    """A separate autocommit connection to the PostgreSQL database behind ``ref``."""
    c = ref.conn
    con = psycopg2.connect(host=c["host"], port=c["port"], user=c["user"], dbname=c["dbname"])
    con.autocommit = True
    try:
        yield con
    finally:
        con.close()


def loader_backend(con: Any, dbname: str, query_prefix: str, waiting: bool = False) -> int | None:
    """pid of the funnel-load backend running a statement that starts with ``query_prefix``."""
    with con.cursor() as cur:
        cur.execute(
            "select pid, wait_event_type, wait_event from pg_stat_activity "
            "where datname = %s and application_name = 'funnel-load' and state = 'active' "
            "and query ilike %s",
            [dbname, query_prefix + "%"],
        )
        for pid, wait_type, wait_event in cur.fetchall():
            if not waiting or (wait_type, wait_event) == ("Lock", "advisory"):
                return int(pid)
    return None


def loader_backends(con: Any, dbname: str) -> int:
    with con.cursor() as cur:
        cur.execute(
            "select count(*) from pg_stat_activity "
            "where datname = %s and application_name = 'funnel-load'",
            [dbname],
        )
        return int(cur.fetchone()[0])


def raw_state(ref: ProfileRef) -> dict[str, Any]:
    """Everything a load changes: counts, and each raw.loads row."""
    return {
        "events": fetch(ref, "select count(*) from raw.events")[0][0],
        "load_errors": fetch(ref, "select count(*) from raw.load_errors")[0][0],
        "loads": sorted(
            fetch(
                ref,
                "select load_id, source_file, records_read, events_loaded, duplicates_skipped, "
                "errors from raw.loads",
            )
        ),
    }


def load_head(ref: ProfileRef, files: Files) -> dict[str, Any]:
    proc = run_funnel_load(*ref.cli_args(), "--quiet", files.head, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    state = raw_state(ref)
    assert state["events"] == files.head_distinct
    return state


def assert_big_loaded_once(ref: ProfileRef, files: Files, head: dict[str, Any]) -> None:
    """The big file is in raw exactly once, on top of the head load."""
    state = raw_state(ref)
    assert state["events"] == files.big_distinct
    new_rows = [row for row in state["loads"] if row not in head["loads"]]
    assert len(new_rows) == 1, state["loads"]
    (_, source_file, records_read, events_loaded, duplicates, errors) = new_rows[0]
    assert source_file == str(files.big.resolve())
    assert events_loaded == files.big_distinct - files.head_distinct
    assert records_read == BIG_EVENTS == events_loaded + duplicates + errors


def one_line_error(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("funnel-load: error: "), lines[0]
    return lines[0]


# --------------------------------------------------------------------------- SIGKILL


def test_sigkill_mid_load_leaves_nothing_and_a_rerun_loads_once(
    tmp_path: Path, files: Files, warehouse_profile: ProfileRef
) -> None:
    ref = warehouse_profile
    head = load_head(ref, files)
    with loaders((ref, (files.big,), tmp_path / "tmp")) as (loader,):
        if ref.kind == "postgres":  # inserting the batch into raw.events, not committed
            with pg_session(ref) as con:
                wait_until(
                    lambda: loader_backend(con, ref.conn["dbname"], "insert into raw.events"),
                    "the loader's insert into raw.events",
                )
        else:  # the batch is being written inside the load's transaction
            loader.wait_for_stderr("writing to DuckDB")
        os.kill(loader.proc.pid, signal.SIGKILL)
        code, out, _ = loader.finish()
    assert code == -signal.SIGKILL
    assert out == ""  # it never reported a load

    if ref.kind == "postgres":
        with pg_session(ref) as con:  # the server notices the dead client and rolls back
            wait_until(
                lambda: loader_backends(con, ref.conn["dbname"]) == 0,
                "the killed loader's backend to end",
            )
    # DuckDB: the killed process's file opens (its WAL replayed or discarded) with no row
    # of the killed load; PostgreSQL: the open transaction was rolled back.
    assert raw_state(ref) == head
    big_rows = fetch(
        ref,
        "select count(*) from raw.events where source_file = "
        + ("%s" if ref.kind == "postgres" else "?"),
        [str(files.big.resolve())],
    )
    assert big_rows == [(0,)]
    # the killed load's temporary files stay behind (it cannot remove them itself) ...
    left = [p for p in (tmp_path / "tmp").rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in left) > 1_000_000, left

    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    rerun = run_funnel_load(*ref.cli_args(), "--quiet", files.big, env=env, timeout=TIMEOUT)
    assert rerun.returncode == 0, rerun.stderr
    # ... and the next load removes them (and its own)
    assert [p for p in (tmp_path / "tmp").rglob("*") if p.is_file()] == []
    assert rerun.stdout.startswith(f"loaded {files.big}: 400,000 records -> ")
    assert_big_loaded_once(ref, files, head)


# --------------------------------------------------------------------------- two at once


def test_two_loaders_on_the_same_file_land_it_once(
    tmp_path: Path, files: Files, warehouse_profile: ProfileRef
) -> None:
    """PostgreSQL: both succeed; one loads, the other waits for that commit (the loaders'
    advisory lock) and then skips the file, whose checksum is now in raw.loads.

    DuckDB: one process holds the file for its whole run, so the other one stops at once
    with a one-line "in use by another process" error (exit 2), and a retry skips.
    """
    ref = warehouse_profile
    head = load_head(ref, files)
    specs = [(ref, ("--quiet", files.big), tmp_path / f"tmp{i}") for i in (1, 2)]
    with loaders(*specs) as started:
        results = [loader.finish() for loader in started]

    codes = sorted(code for code, _, _ in results)
    loaded = [out for code, out, _ in results if code == 0 and out.startswith("loaded ")]
    assert len(loaded) == 1, results
    load_id = loaded[0].strip().rsplit("(load ", 1)[1].rstrip(")")
    skipped = f"skipped {files.big}: already loaded (load {load_id})"
    (other_code, other_out, other_err) = next(r for r in results if r[1] != loaded[0])
    if ref.kind == "postgres":
        # the second one waits for the first one's commit, then finds its checksum
        assert codes == [0, 0], results
        assert other_out.strip() == skipped, other_out
    else:
        assert codes == [0, 2], results
        assert other_out == ""
        assert "is in use by another process" in one_line_error(other_err), other_err
        retry = run_funnel_load(*ref.cli_args(), "--quiet", files.big, timeout=TIMEOUT)
        assert retry.returncode == 0, retry.stderr
        assert retry.stdout.strip() == skipped
    assert_big_loaded_once(ref, files, head)


# --------------------------------------------------------------------------- dbt during a load

ADVISORY_KEY = 7_340_001


def test_dbt_build_during_a_load_sees_only_committed_loads(
    tmp_path: Path, files: Files, postgres_profile: ProfileRef
) -> None:
    """The big load is frozen just before its commit (all its events written); dbt builds.

    A trigger on raw.loads makes the load's last statement wait for an advisory lock
    that this test holds, so the whole build runs while the load's transaction is open.
    """
    ref = postgres_profile
    head = load_head(ref, files)
    with pg_session(ref) as con, con.cursor() as cur:
        cur.execute(
            f"""create function raw.hold_load() returns trigger language plpgsql as $$
            begin perform pg_advisory_xact_lock({ADVISORY_KEY}); return new; end $$"""
        )
        cur.execute(
            "create trigger hold_load before insert on raw.loads "
            "for each row execute function raw.hold_load()"
        )
        cur.execute("select pg_advisory_lock(%s)", [ADVISORY_KEY])
        with loaders((ref, ("--quiet", files.big), tmp_path / "tmp")) as (loader,):
            wait_until(
                lambda: loader_backend(con, ref.conn["dbname"], "insert into raw.loads", True),
                "the load to wait, all events written, at its raw.loads insert",
            )
            assert raw_state(ref) == head  # 398,500 rows written, none visible

            run_dbt(ref, "build", work_dir=tmp_path, dbt_vars=DBT_VARS)
            assert loader.proc.poll() is None  # still in flight after the whole build

            activities, quarantined, duplicates = fetch(
                ref,
                "select (select count(*) from marts.fct_activities), "
                "(select count(*) from marts.fct_quarantined_events), "
                "(select count(*) from intermediate.int_events_validated where is_duplicate)",
            )[0]
            assert activities + quarantined + duplicates == head["events"] == files.head_distinct
            loads_seen = fetch(ref, "select distinct load_id from marts.fct_activities")
            assert loads_seen == [(head["loads"][0][0],)]

            cur.execute("select pg_advisory_unlock(%s)", [ADVISORY_KEY])
            code, out, err = loader.finish()
        cur.execute("drop trigger hold_load on raw.loads")
    assert code == 0, err
    assert out.startswith(f"loaded {files.big}: 400,000 records -> ")
    assert_big_loaded_once(ref, files, head)


# --------------------------------------------------------------------------- reproducible builds


def marts(ref: ProfileRef) -> dict[str, list[str]]:
    """Every row of every mart, sorted (as text, so NULLs and types sort too)."""
    names = sorted(
        row[0]
        for row in fetch(
            ref, "select table_name from information_schema.tables where table_schema = 'marts'"
        )
    )
    assert names, "no marts were built"
    return {name: sorted(map(repr, fetch(ref, f"select * from marts.{name}"))) for name in names}


def test_building_twice_gives_identical_marts(
    tmp_path: Path, files: Files, warehouse_profile: ProfileRef
) -> None:
    ref = warehouse_profile
    load_head(ref, files)
    dirty = tmp_path / "dirty.ndjson"  # every kind of dirty record, cycled
    subprocess.run(
        [str(BIN / "funnel-generate"), "--events", "3000", "--seed", "9", "--dirty-rate", "0.1"]
        + ["--out", str(dirty), "--quiet"],
        check=True,
        timeout=TIMEOUT,
    )
    proc = run_funnel_load(*ref.cli_args(), "--quiet", dirty, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr

    run_dbt(ref, "build", *MODELS_ONLY, work_dir=tmp_path, dbt_vars=DBT_VARS)
    first = marts(ref)
    assert len(first["fct_activities"]) > 1000
    run_dbt(ref, "build", *MODELS_ONLY, work_dir=tmp_path, dbt_vars=DBT_VARS)
    second = marts(ref)
    assert second.keys() == first.keys()
    for name in first:
        assert second[name] == first[name], f"marts.{name} differs between two builds"


# --------------------------------------------------------------------------- connection lost


def test_connection_killed_mid_load_one_line_error_nothing_committed(
    tmp_path: Path, files: Files, postgres_profile: ProfileRef
) -> None:
    ref = postgres_profile
    head = load_head(ref, files)
    with (
        pg_session(ref) as con,
        loaders((ref, ("--quiet", files.big), tmp_path / "tmp")) as (loader,),
    ):
        pid = wait_until(  # the batch's COPY (straight into raw.events or via a temp table)
            lambda: loader_backend(con, ref.conn["dbname"], "copy "),
            "the loader's COPY",
        )
        with con.cursor() as cur:
            cur.execute("select pg_terminate_backend(%s)", [pid])
            assert cur.fetchone() == (True,)
        code, out, err = loader.finish()
    assert code == 2, (code, out, err)
    assert out == ""
    message = one_line_error(err)
    assert "PostgreSQL connection failed during load of" in message, message
    # the server's reason, or psycopg2's word for the dead connection when the kill lands
    # between two statements of the batch
    assert (
        "terminating connection due to administrator command" in message
        or "cursor already closed" in message
        or "connection already closed" in message
    ), message
    assert "nothing was committed" in message, message
    assert raw_state(ref) == head

    rerun = run_funnel_load(*ref.cli_args(), "--quiet", files.big, timeout=TIMEOUT)
    assert rerun.returncode == 0, rerun.stderr
    assert_big_loaded_once(ref, files, head)
