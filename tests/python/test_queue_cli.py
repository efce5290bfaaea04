"""``funnel-queue``: each action is one native event, on DuckDB and PostgreSQL.

A small warehouse per target (``funnel-generate --events 2000``, loaded with the real
``funnel-load`` and built up to ``rpt_orchestrator_queue`` with the real ``dbt build``);
the real console script runs in a subprocess. Each command must land exactly one event in
``raw.events`` (with its ``raw.loads`` row) carrying the contract's properties, the
item's contact and the time acted; bad input is one line on stderr and exit 2 with
nothing landed; a locked DuckDB file (or ``--inbox``) sends the event to the inbox
folder, which ``funnel-load`` then lands like any file.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    MODELS_ONLY,
    ProfileRef,
    _duckdb_ref,
    _fresh_database,
    _postgres_ref,
    fetch,
    generate_events,
    run_dbt,
    run_funnel_load,
)

pytestmark = pytest.mark.xdist_group("queue_cli")

NOW_SLACK = timedelta(minutes=2)
AS_OF = "2026-07-01T00:00:00Z"  # the generated activity's end
TWO_ITEMS = "two.items@example.com"


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def warehouse(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProfileRef]:
    """Generated events, loaded and built up to the queue, on one target."""
    work = tmp_path_factory.mktemp(f"queue-{request.param}")
    with contextlib.ExitStack() as stack:
        if request.param == "duckdb":
            ref = _duckdb_ref(work)
        else:
            server = request.getfixturevalue("pg_server")
            ref = _postgres_ref(work, stack.enter_context(_fresh_database(server)))
        events = generate_events(work / "events.ndjson", 2000, 3)
        # a demo booked a week before as_of: Hot and idle, and a new SQL (two open items)
        booked = work / "booked.ndjson"
        booked.write_text(json.dumps({"email": TWO_ITEMS, "event_type": "demo_booked",
                                      "event_time": "2026-06-24T10:00:00Z"}) + "\n")  # fmt: skip
        for path in (events, booked):
            loaded = run_funnel_load(path, *ref.cli_args())
            assert loaded.returncode == 0, loaded.stderr
        run_dbt(ref, "build", "--select", "+rpt_orchestrator_queue", *MODELS_ONLY, work_dir=work,
                dbt_vars={"as_of": AS_OF})  # fmt: skip
        yield ref


def queue_cli(ref: ProfileRef, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    command, *rest = args
    return subprocess.run(
        [sys.executable, "-m", "crm_funnel.ops.queue", command, *ref.cli_args(), *rest],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


def events_count(ref: ProfileRef) -> int:
    return fetch(ref, "select count(*) from raw.events")[0][0]


def landed(ref: ProfileRef, event_id: str) -> dict[str, Any]:
    """The one landed event with ``event_id``, and its load's source format."""
    rows = fetch(
        ref,
        "select e.payload, l.source_format, l.events_loaded from raw.events e "
        "join raw.loads l on l.load_id = e.load_id where e.event_key = 'native:id:' || "
        + ("?" if ref.kind == "duckdb" else "%s"),
        [event_id],
    )
    assert len(rows) == 1, f"{event_id} landed {len(rows)} times"
    payload, source_format, events_loaded = rows[0]
    assert events_loaded == 1  # a load of its own, audited in raw.loads
    return json.loads(payload)


def acted(result: subprocess.CompletedProcess, ref: ProfileRef) -> dict[str, Any]:
    """The event a successful command loaded (its id is on the output line)."""
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    line = result.stdout.strip()
    assert "\n" not in line and " loaded into " in line, line
    event_id = line.split("event ", 1)[1].split(" ", 1)[0]
    return landed(ref, event_id)


def assert_now(event: dict[str, Any]) -> None:
    at = datetime.fromisoformat(event["event_time"].replace("Z", "+00:00"))
    assert abs(at - datetime.now(timezone.utc)) < NOW_SLACK


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("funnel-queue: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def items(ref: ProfileRef) -> list[tuple[str, str, str]]:
    return fetch(
        ref,
        "select queue_item_id, email, queue_type from marts.rpt_orchestrator_queue "
        "order by queue_item_id",
    )


def contact_with_one_item(ref: ProfileRef) -> str:
    per_email: dict[str, int] = {}
    for _, email, _ in items(ref):
        per_email[email] = per_email.get(email, 0) + 1
    return min(e for e, n in per_email.items() if n == 1)


# --------------------------------------------------------------------------- actions


def test_resolve_by_item_id(warehouse: ProfileRef) -> None:
    item_id, email, _ = items(warehouse)[0]
    result = queue_cli(warehouse, "resolve", item_id, "--outcome", "  booked a\ndemo ",
                       "--by", "Amara Okafor")  # fmt: skip
    event = acted(result, warehouse)
    assert event["event_type"] == "queue_item_resolved"
    assert event["email"] == email
    assert event["event_id"].startswith("queue-")
    assert event["properties"] == {
        "queue_item_id": item_id, "outcome": "booked a demo", "by": "Amara Okafor"
    }  # fmt: skip
    assert_now(event)


def test_an_email_with_several_items_needs_the_type(warehouse: ProfileRef) -> None:
    email = TWO_ITEMS
    own = [(i, t) for i, e, t in items(warehouse) if e == email]
    assert len(own) > 1, own
    before = events_count(warehouse)
    result = queue_cli(warehouse, "resolve", email.upper() + " ", "--by", "Tom Becker")
    line = one_line_error(result, "--type", f"{len(own)} open items")
    for item_id, queue_type in own:
        assert f"{queue_type} {item_id}" in line
    assert events_count(warehouse) == before

    item_id, queue_type = own[-1]
    result = queue_cli(warehouse, "snooze", email, "--type", queue_type,
                       "--until", "2099-01-15", "--by", "Tom Becker")  # fmt: skip
    event = acted(result, warehouse)
    assert event["event_type"] == "queue_item_snoozed"
    assert event["email"] == email
    assert event["properties"] == {
        "queue_item_id": item_id, "until": "2099-01-15", "by": "Tom Becker"
    }  # fmt: skip


def test_snooze_until_a_time_and_escalate(warehouse: ProfileRef) -> None:
    email = contact_with_one_item(warehouse)
    (item_id,) = [i for i, e, _ in items(warehouse) if e == email]
    result = queue_cli(warehouse, "snooze", email, "--until", "2099-01-15T09:30:00+02:00",
                       "--by", "Priya Raman")  # fmt: skip
    assert acted(result, warehouse)["properties"]["until"] == "2099-01-15T07:30:00.000Z"

    result = queue_cli(warehouse, "escalate", item_id, "--to", "Head of Sales",
                       "--reason", "asks for a discount", "--by", "Priya Raman",
                       "--at", "2026-01-02T10:00:00Z")  # fmt: skip
    event = acted(result, warehouse)
    assert event["event_type"] == "queue_item_escalated"
    assert event["email"] == email
    assert event["event_time"] == "2026-01-02T10:00:00.000Z"
    assert event["properties"] == {
        "queue_item_id": item_id, "to": "Head of Sales", "reason": "asks for a discount",
        "by": "Priya Raman",
    }  # fmt: skip


def test_log_an_interaction(warehouse: ProfileRef) -> None:
    result = queue_cli(
        warehouse, "log", " New.Person@Example.com", "--direction", "Inbound", "--channel",
        "call", "--outcome", "referral_given", "--initiated-by", "self", "--summary",
        "called about the training", "--by", "Noah Kim",
    )  # fmt: skip
    event = acted(result, warehouse)
    assert event["event_type"] == "interaction_logged"
    assert event["email"] == "new.person@example.com"  # a contact need not be queued
    assert event["properties"] == {
        "direction": "inbound", "interaction_channel": "call", "outcome": "referral_given",
        "initiated_by": "self", "summary": "called about the training", "by": "Noah Kim",
    }  # fmt: skip
    assert_now(event)


# --------------------------------------------------------------------------- bad input


LOG = ("--direction", "outbound", "--channel", "dm", "--outcome", "replied",
       "--initiated-by", "orchestrator", "--by", "Noah Kim")  # fmt: skip


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("log", "a@example.com", *LOG[:1], "sideways", *LOG[2:]), ("--direction", "inbound")),
        (("log", "a@example.com", *LOG[:3], "fax", *LOG[4:]), ("--channel", "meeting")),
        (("log", "a@example.com", *LOG[:5], "maybe", *LOG[6:]), ("--outcome", "no_response")),
        (("log", "a@example.com", *LOG[:7], "robot", *LOG[8:]), ("--initiated-by", "self")),
        (("log", "not-an-email", *LOG), ("not an email address",)),
        (("log", "a@example.com", *LOG[:-2]), ("required", "--by")),
        (("log", "a@example.com", *LOG[:-1], "   "), ("--by is required",)),
        (("log", "a@example.com", *LOG, "--at", "2999-01-01"), ("--at", "future")),
        (("log", "a@example.com", *LOG, "--at", "yesterday"), ("--at", "ISO date")),
        (("snooze", "ITEM", "--until", "14/12/2026", "--by", "x"), ("--until", "ISO date")),
        (("snooze", "ITEM", "--until", "2020-01-01", "--by", "x"), ("--until", "not after")),
        (("snooze", "ITEM", "--until", "2026-02-30", "--by", "x"), ("--until", "ISO date")),
        (("escalate", "ITEM", "--to", " ", "--by", "x"), ("--to is required",)),
        (("resolve", "no-such-item", "--by", "x"), ("no open queue item 'no-such-item'",)),
        (("resolve", "nobody@example.com", "--by", "x"), ("has no open queue item",)),
        (("resolve", "ITEM", "--type", "hot_idle", "--by", "x"), ("--type goes with an EMAIL",)),
        (("resolve", "ITEM", "--by", "x", "--bogus"), ("unrecognized arguments: --bogus",)),
        (("reopen", "ITEM", "--by", "x"), ("invalid choice: 'reopen'",)),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, tuple) else str(value),
)
def test_bad_input_is_one_line_and_exit_2(
    warehouse: ProfileRef, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    before = events_count(warehouse)
    one_line_error(queue_cli(warehouse, *args), *words)
    assert events_count(warehouse) == before


def test_help_documents_every_command_and_value() -> None:
    shown = subprocess.run([sys.executable, "-m", "crm_funnel.ops.queue", "--help"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    for word in ("resolve", "snooze", "escalate", "log", "--inbox", "inbox", "referral_given",
                 "support", "orchestrator", "exit status"):  # fmt: skip
        assert word in shown, word
    for command, options in (
        ("resolve", ("--outcome", "--by", "--type", "--email", "--at")),
        ("snooze", ("--until", "--by")),
        ("escalate", ("--to", "--reason", "--by")),
        ("log", ("--direction", "--channel", "--outcome", "--initiated-by", "--summary")),
    ):
        shown = subprocess.run([sys.executable, "-m", "crm_funnel.ops.queue", command, "--help"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
        for option in (*options, "--target", "--inbox-dir"):
            assert option in shown, (command, option)


# --------------------------------------------------------------------------- the inbox


def inbox_events(inbox: Path) -> list[dict[str, Any]]:
    files = sorted(inbox.glob("queue-*.ndjson"))
    assert not list(inbox.glob("*.part")), "a half-written inbox file was left behind"
    return [json.loads(line) for path in files for line in path.read_text().splitlines()]


def test_inbox_flag_writes_a_file_the_loader_lands(warehouse: ProfileRef, tmp_path: Path) -> None:
    item_id, email, _ = items(warehouse)[-1]
    inbox = tmp_path / "inbox"
    before = events_count(warehouse)
    result = queue_cli(warehouse, "resolve", item_id, "--by", "Sofia Rossi", "--inbox",
                       "--inbox-dir", str(inbox))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "the next funnel-pipeline run loads it" in result.stdout
    assert events_count(warehouse) == before
    (event,) = inbox_events(inbox)
    assert event["email"] == email and event["properties"]["queue_item_id"] == item_id
    loaded = run_funnel_load(inbox, *warehouse.cli_args())
    assert loaded.returncode == 0, loaded.stderr
    assert landed(warehouse, event["event_id"]) == event


@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)  # a file another process locks
def test_a_locked_duckdb_file_sends_the_event_to_the_inbox(
    warehouse: ProfileRef, tmp_path: Path
) -> None:
    import duckdb

    item_id, email, _ = items(warehouse)[1]
    work = tmp_path / "cwd"
    work.mkdir()
    before = events_count(warehouse)
    build = duckdb.connect(str(warehouse.conn["path"]))  # as dbt build holds it
    try:
        resolved = queue_cli(warehouse, "resolve", item_id, "--email", email.upper(),
                             "--by", "Jonas Weber", cwd=work)  # fmt: skip
        logged = queue_cli(warehouse, "log", email, *LOG, cwd=work)
        unknown = queue_cli(warehouse, "resolve", item_id, "--by", "Jonas Weber", cwd=work)
    finally:
        build.close()
    for result in (resolved, logged):
        assert result.returncode == 0, result.stderr
        assert "data/inbox/queue-" in result.stdout and "in use" in result.stdout, result.stdout
    one_line_error(unknown, "cannot read the queue", "--email")
    assert events_count(warehouse) == before
    events = inbox_events(work / "data" / "inbox")  # the default inbox, as make pipeline reads
    assert sorted(e["event_type"] for e in events) == ["interaction_logged", "queue_item_resolved"]
    assert {e["email"] for e in events} == {email}
    loaded = run_funnel_load(work / "data" / "inbox", *warehouse.cli_args())
    assert loaded.returncode == 0, loaded.stderr
    for event in events:
        assert landed(warehouse, event["event_id"]) == event
