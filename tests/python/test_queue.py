"""The orchestrator queue as a work queue (issue 17), on DuckDB and PostgreSQL.

A small warehouse (generated events plus hand-written edge cases) is built three times
with actions in between; after each build ``rpt_orchestrator_queue`` must equal what the
independent reference (``reference.queue_items`` for detection, ``queue_reference`` for
the cap, the sticky assignment, the actions and the buckets) computes from the same
files, carrying the assignment state from run to run as the warehouse does. Then the
invariants: adding one item changes no existing item's owner; resolving an item removes
exactly it; a snooze returns on its day; no one's "today" exceeds the capacity; every
open item has one active owner of its department; the totals reconcile with detection.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import queue_reference
import reference
import yaml
from conftest import (
    MODELS_ONLY,
    REPO_ROOT,
    ProfileRef,
    fetch,
    generate_events,
    run_dbt,
    run_funnel_load,
)

AS_OF_1 = dt.datetime(2026, 7, 1)
AS_OF_3 = AS_OF_1 + dt.timedelta(days=1)
CAPACITY = 3
VARS = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]
SELECT = ("--select", "+rpt_orchestrator_queue +fct_queue_item_history +rpt_queue_health")
SELECT_MORE = ("+fct_quarantined_events", "+rpt_contact_360")
DOMAIN = "queue-case.io"


def iso(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def event(email: str, event_type: str, at: dt.datetime, key: str, **properties: Any) -> str:
    record = {"event_id": key, "email": email, "event_type": event_type, "event_time": iso(at)}
    if properties:
        record["properties"] = properties
    return json.dumps(record)


def day(month: int, dom: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, dom, hour)


def edge_lines() -> list[str]:
    """Replies: the condition starts at the first reply after the last touch; an outbound
    interaction answers a reply, an inbound one does not; an interaction without a
    direction is quarantined."""
    r1, r2, r3 = (f"{name}@{DOMAIN}" for name in ("first-reply", "answered", "inbound"))
    return [
        event(r1, "email_sent", day(6, 20), "e1"),
        event(r1, "email_replied", day(6, 25), "e2"),
        event(r1, "email_replied", day(6, 27), "e3"),
        event(r2, "email_replied", day(6, 26), "e4"),
        event(r2, "interaction_logged", day(6, 27), "e5", direction="outbound",
              interaction_channel="call", outcome="replied", initiated_by="orchestrator"),
        event(r3, "email_replied", day(6, 26), "e6"),
        event(r3, "interaction_logged", day(6, 27), "e7", direction="inbound",
              interaction_channel="dm"),
        event(r3, "interaction_logged", day(6, 27, 10), "e8", interaction_channel="dm"),
    ]  # fmt: skip


def rules_at(as_of: dt.datetime) -> dict[str, Any]:
    return {**VARS, "as_of": iso(as_of), "queue_daily_capacity": CAPACITY}


def build(ref: ProfileRef, work: Path, as_of: dt.datetime, path: Path) -> None:
    loaded = run_funnel_load(*ref.cli_args(), path)
    assert loaded.returncode == 0, loaded.stderr
    run_dbt(
        ref,
        "build",
        *MODELS_ONLY,
        *SELECT,
        *SELECT_MORE,
        work_dir=work,
        dbt_vars={"as_of": iso(as_of), "queue_daily_capacity": CAPACITY},
    )


def queue(ref: ProfileRef) -> dict[str, dict[str, Any]]:
    columns = (
        "queue_item_id, email, queue_type, owner_department, orchestrator, work_bucket,"
        " due_at, detected_at, snoozed_until, escalated_to"
    )
    rows = fetch(ref, f"select {columns} from marts.rpt_orchestrator_queue")
    names = [name.strip() for name in columns.split(",")]
    return {row[0]: dict(zip(names, row, strict=True)) for row in rows}


class Reference:
    """The reference's queue, run by run, with the assignment state carried over."""

    def __init__(self) -> None:
        self.seeds = reference.Seeds.load(REPO_ROOT / "seeds")
        self.state: dict[str, dict[str, Any]] = {}
        self.actions: list[dict[str, Any]] = []
        self.orchestrators = [
            {"orchestrator": name, "department": dept, "is_active": True}
            for dept, names in self.seeds.orchestrators.items()
            for name in names
        ]

    def run(self, files: list[Path], ref: ProfileRef, as_of: dt.datetime) -> dict[str, dict]:
        loaded_at = dict(fetch(ref, "select event_key, loaded_at from raw.events"))
        rules = rules_at(as_of)
        expected = reference.compute(files, rules, REPO_ROOT / "seeds", loaded_at=loaded_at)
        items = queue_reference.cap_reengagement(expected.queue_detected, rules, as_of)
        self.detected = {item["queue_item_id"] for item in items}
        self.state = queue_reference.assign(
            items, self.state, self.orchestrators, {}, self.actions, as_of
        )
        return queue_reference.queue_rows(self.state, self.actions, CAPACITY, as_of)


def compare(got: dict[str, dict], want: dict[str, dict]) -> None:
    assert set(got) == set(want), (sorted(set(got) - set(want)), sorted(set(want) - set(got)))
    columns = ("orchestrator", "work_bucket", "due_at", "detected_at", "snoozed_until")
    for key, row in want.items():
        assert {c: got[key][c] for c in columns} == {c: row[c] for c in columns}, key


def invariants(ref: ProfileRef, got: dict[str, dict], reference_run: Reference) -> None:
    today = Counter(row["orchestrator"] for row in got.values() if row["work_bucket"] == "today")
    assert today and max(today.values()) <= CAPACITY
    active = {o["orchestrator"]: o["department"] for o in reference_run.orchestrators}
    for row in got.values():
        assert active[row["orchestrator"]] == row["owner_department"], row
    # totals: open = detected now and not resolved (the latest action)
    detected = fetch(ref, "select count(*) from intermediate.int_queue_items_detected")[0][0]
    resolved = fetch(
        ref,
        "select count(*) from intermediate.int_queue_items_detected as d"
        " inner join intermediate.int_queue_actions as a on d.queue_item_id = a.queue_item_id"
        " where a.is_latest and a.action = 'resolved'",
    )[0][0]
    assert len(got) == detected - resolved
    assert detected == len(reference_run.detected)


def moved(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """The items open in both runs whose owner changed."""
    both = set(before) & set(after)
    return [key for key in both if before[key]["orchestrator"] != after[key]["orchestrator"]]


def quarantine_reason(ref: ProfileRef, event_id: str) -> str:
    (row,) = fetch(
        ref,
        "select rejection_reason from marts.fct_quarantined_events"
        f' where payload like \'%"event_id": "{event_id}"%\'',
    )
    return row[0]


def action_lines(run1: dict[str, dict]) -> tuple[list[str], dict]:
    """Resolve, snooze (until tomorrow, and until an hour ago), escalate four of run 1's
    items; act on an unknown id; and a new contact's reply (one new Sales item)."""
    sales = sorted(key for key, row in run1.items() if row["owner_department"] == "Sales")
    resolve, snooze, snoozed_past, escalate = sales[:4]
    at = AS_OF_1 - dt.timedelta(hours=2)
    emails = {key: row["email"] for key, row in run1.items()}
    picked = {"resolve": resolve, "snooze": snooze, "past": snoozed_past, "escalate": escalate}
    lines = [
        event(emails[resolve], "queue_item_resolved", at, "a1", queue_item_id=resolve,
              outcome="replied", by="Amara Okafor"),
        event(emails[snooze], "queue_item_snoozed", at, "a2", queue_item_id=snooze,
              until=iso(AS_OF_3), by="Jonas Weber"),
        event(emails[snoozed_past], "queue_item_snoozed", at, "a3", queue_item_id=snoozed_past,
              until=iso(AS_OF_1 - dt.timedelta(hours=1))),
        event(emails[escalate], "queue_item_escalated", at, "a4", queue_item_id=escalate,
              to="Mia Manager", reason="VIP account"),
        event(f"ghost@{DOMAIN}", "queue_item_resolved", at, "a5", queue_item_id="no-such-item"),
        event(f"new@{DOMAIN}", "email_replied", at, "n1"),
    ]  # fmt: skip
    actions = [
        {"queue_item_id": resolve, "action": "resolved", "activity_id": "a1"},
        {"queue_item_id": snooze, "action": "snoozed", "snoozed_until": AS_OF_3,
         "activity_id": "a2"},
        {"queue_item_id": snoozed_past, "action": "snoozed", "activity_id": "a3",
         "snoozed_until": AS_OF_1 - dt.timedelta(hours=1)},
        {"queue_item_id": escalate, "action": "escalated", "escalated_to": "Mia Manager",
         "activity_id": "a4"},
    ]  # fmt: skip
    for action in actions:
        action["action_at"] = at
    return lines, {"actions": actions, **picked}


def test_queue_runs_match_the_reference_and_keep_the_invariants(
    tmp_path: Path, warehouse_profile: ProfileRef
) -> None:
    ref = warehouse_profile
    generated = generate_events(
        tmp_path / "gen.ndjson", 700, 17, "--start", "2026-03-01", "--end", "2026-06-29"
    )
    first = tmp_path / "first.ndjson"
    first.write_text(generated.read_text(encoding="utf-8") + "\n".join(edge_lines()) + "\n")
    expect = Reference()

    # Run 1: a fresh warehouse deals every item out.
    build(ref, tmp_path / "w1", AS_OF_1, first)
    run1 = queue(ref)
    compare(run1, expect.run([first], ref, AS_OF_1))
    invariants(ref, run1, expect)
    by_email = {(row["email"], row["queue_type"]): row for row in run1.values()}
    first_reply = by_email[f"first-reply@{DOMAIN}", "reply_waiting"]
    assert first_reply["detected_at"] == day(6, 25)  # the first reply after the last touch
    assert (f"answered@{DOMAIN}", "reply_waiting") not in by_email  # an outbound interaction
    assert (f"inbound@{DOMAIN}", "reply_waiting") in by_email  # an inbound one is no touch
    assert quarantine_reason(ref, "e8") == "missing or invalid interaction direction"

    # Run 2, same as_of: four actions, an unknown id and one new item.
    second = tmp_path / "second.ndjson"
    lines, picked = action_lines(run1)
    second.write_text("\n".join(lines) + "\n")
    expect.actions = picked["actions"]
    build(ref, tmp_path / "w2", AS_OF_1, second)
    run2 = queue(ref)
    compare(run2, expect.run([first, second], ref, AS_OF_1))
    invariants(ref, run2, expect)
    (new_item,) = set(run2) - set(run1)
    assert run2[new_item]["email"] == f"new@{DOMAIN}"
    assert set(run1) - set(run2) == {picked["resolve"]}  # resolving removes exactly it
    assert moved(run1, run2) == []  # adding an item changes no existing item's owner
    assert run2[picked["snooze"]]["work_bucket"] == "snoozed"
    assert run2[picked["snooze"]]["snoozed_until"] == AS_OF_3
    assert run2[picked["past"]]["work_bucket"] in ("today", "backlog")
    assert run2[picked["escalate"]]["work_bucket"] == "escalated"
    assert run2[picked["escalate"]]["escalated_to"] == "Mia Manager"
    history = fetch(
        ref,
        "select action, action_by, outcome, activity_id from marts.fct_queue_item_history"
        f" where queue_item_id = '{picked['resolve']}' order by action_at, action",
    )
    resolved = ("resolved", "Amara Okafor", "replied", "native:id:a1")
    assert history == [("detected", None, None, None), resolved]
    assert quarantine_reason(ref, "a5") == "unknown queue_item_id no-such-item"
    resolved_today = fetch(
        ref,
        "select sum(resolved_items), sum(escalations) from marts.rpt_queue_health"
        f" where health_date = date '{(AS_OF_1 - dt.timedelta(days=1)).date()}'",
    )[0]
    assert tuple(int(v) for v in resolved_today) == (1, 1)

    # Run 3, a day later: the snooze has ended; an outbound call answers a reply, whose
    # item closes with its condition.
    third = tmp_path / "third.ndjson"
    inbound_item = by_email[f"inbound@{DOMAIN}", "reply_waiting"]["queue_item_id"]
    third.write_text(
        event(f"inbound@{DOMAIN}", "interaction_logged", AS_OF_3 - dt.timedelta(hours=3), "c1",
              direction="outbound", interaction_channel="call", outcome="booked") + "\n"
    )  # fmt: skip
    build(ref, tmp_path / "w3", AS_OF_3, third)
    run3 = queue(ref)
    compare(run3, expect.run([first, second, third], ref, AS_OF_3))
    invariants(ref, run3, expect)
    assert run3[picked["snooze"]]["work_bucket"] in ("today", "backlog")
    assert inbound_item not in run3
    cleared = fetch(
        ref,
        "select action, outcome from marts.fct_queue_item_history"
        f" where queue_item_id = '{inbound_item}' and action = 'resolved'",
    )
    assert cleared == [("resolved", "condition_cleared")]
    assert moved(run2, run3) == []
    logged = fetch(
        ref,
        "select last_logged_interactions, open_queue_item_ids from marts.rpt_contact_360"
        f" where email = 'inbound@{DOMAIN}'",
    )
    assert logged[0][0].startswith("2026-07-01 21:00 outbound call: booked | ")
