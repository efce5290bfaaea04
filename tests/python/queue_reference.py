"""An independent, pure-Python reference of the orchestrator queue's work rules (issue 17).

``reference.queue_items`` says which items a contact has at ``as_of`` (the rules and when
each condition started); this module does the rest as plainly as possible, sharing
nothing with the SQL: the stable item id, the daily cap on re-engagement items, the
sticky and fair assignment (kept across runs in a plain dict, like the warehouse's
``int_queue_items_assigned``), the actions (the latest wins) and the work buckets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from typing import Any

DAY = dt.timedelta(days=1)


def timestamp_text(at: dt.datetime) -> str:
    """A timestamp as DuckDB and PostgreSQL cast it to text (fraction without trailing 0s)."""
    text = at.strftime("%Y-%m-%d %H:%M:%S")
    if at.microsecond:
        text += ("." + f"{at.microsecond:06d}").rstrip("0")
    return text


def md5_key(*parts: str) -> str:
    return hashlib.md5("|".join(parts).encode("utf-8")).hexdigest()


def item_id(contact_id: str, queue_type: str, started_at: dt.datetime) -> str:
    """The item's stable id: (contact, queue type, the moment its condition started)."""
    return md5_key(contact_id, queue_type, timestamp_text(started_at))


def cap_reengagement(
    items: list[dict[str, Any]], rules: dict[str, Any], as_of: dt.datetime
) -> list[dict[str, Any]]:
    """The items without the re-engagement candidates whose day has not come.

    A queue of cap items a day, counted in whole days since min_event_date: candidates
    in (condition start, contact_id) order each take the first free slot on or after
    their start day (a start before the lookback window counts from its start), and a
    candidate is an item once its slot's day is at most as_of's day.
    """
    cap = int(rules["queue_reengagement_daily_cap"])
    epoch = dt.datetime.fromisoformat(str(rules["min_event_date"]))
    window_start = as_of - int(rules["queue_lookback_days"]) * DAY

    def day_number(at: dt.datetime) -> int:
        return (at.date() - epoch.date()).days

    candidates = sorted(
        (item for item in items if item["queue_type"] == "reengagement"),
        key=lambda item: (item["started_at"], item["contact_id"]),
    )
    released = set()
    slot = -math.inf
    for item in candidates:
        start_day = day_number(max(item["detected_at"], window_start))
        slot = max(start_day * cap, slot + 1)
        if slot // cap <= day_number(as_of):
            released.add(item["queue_item_id"])
    return [
        item
        for item in items
        if item["queue_type"] != "reengagement" or item["queue_item_id"] in released
    ]


def latest_actions(actions: list[dict[str, Any]], as_of: dt.datetime) -> dict[str, dict]:
    """Each item's latest action at or before as_of (by time, then activity id)."""
    latest: dict[str, dict[str, Any]] = {}
    for action in sorted(actions, key=lambda a: (a["action_at"], a["activity_id"])):
        if action["action_at"] <= as_of:
            latest[action["queue_item_id"]] = action
    return latest


def assign(
    items: list[dict[str, Any]],
    held: dict[str, dict[str, Any]],
    orchestrators: list[dict[str, Any]],
    sheet_owners: dict[str, str],
    actions: list[dict[str, Any]],
    as_of: dt.datetime,
) -> dict[str, dict[str, Any]]:
    """One run of the assignment over the items detected now; returns the new state.

    ``held`` (the previous state, not changed) maps an item id to its owner, due_at,
    assigned_at, closed_at and whether it is open. An open item keeps an owner who is
    still an active member of its department; any other open item goes to the contact's
    owner (sheet, else the owner of the contact's latest kept open item) when that person
    is an active member of the department, else to the member with the least open work,
    one at a time in (priority, due_at, id) order, ties to the first name.
    """
    active = {o["orchestrator"]: o["department"] for o in orchestrators if o["is_active"]}
    latest = latest_actions(actions, as_of)
    state = {key: dict(value) for key, value in held.items()}
    open_now = {
        item["queue_item_id"]: item
        for item in items
        if latest.get(item["queue_item_id"], {}).get("action") != "resolved"
    }
    for item in items:  # resolved: closed at the resolve, keeping any owner
        if item["queue_item_id"] not in open_now:
            row = state.setdefault(
                item["queue_item_id"],
                {"orchestrator": None, "assigned_by": None, "due_at": None, "assigned_at": None},
            )
            row.update(item_fields(item), is_open=False)
            row["closed_at"] = latest[item["queue_item_id"]]["action_at"]
    for key, row in state.items():  # no longer detected: closed at this run
        if row["is_open"] and key not in {item["queue_item_id"] for item in items}:
            row.update(is_open=False, closed_at=as_of)

    kept = {
        key: held[key]
        for key, item in open_now.items()
        if key in held and active.get(held[key]["orchestrator"]) == item["owner_department"]
    }
    loads = {name: 0 for name in active}
    for row in kept.values():
        loads[row["orchestrator"]] += 1
    latest_kept: dict[str, tuple[dt.datetime, str, str]] = {}
    for key, row in kept.items():
        mark = (open_now[key]["detected_at"], key, row["orchestrator"])
        contact = open_now[key]["contact_id"]
        latest_kept[contact] = max(latest_kept.get(contact, mark), mark)
    new_due = {key: as_of + item["due_in_days"] * DAY for key, item in open_now.items()}
    to_deal = []
    for key, item in open_now.items():
        if key in kept:
            state[key].update(item_fields(item), is_open=True, closed_at=None)
            continue
        owner = sheet_owners.get(item["contact_id"])
        if owner is None and item["contact_id"] in latest_kept:
            owner = latest_kept[item["contact_id"]][2]
        due_at = (held.get(key) or {}).get("due_at") or new_due[key]
        row = {**item_fields(item), "due_at": due_at, "assigned_at": as_of}
        row.update(is_open=True, closed_at=None, orchestrator=None, assigned_by=None)
        state[key] = row
        if owner is not None and active.get(owner) == item["owner_department"]:
            row.update(orchestrator=owner, assigned_by="contact_owner")
            loads[owner] += 1
        else:
            to_deal.append(key)
    to_deal.sort(key=lambda key: (open_now[key]["priority"], new_due[key], key))
    for key in to_deal:
        department = open_now[key]["owner_department"]
        members = sorted(name for name, dept in active.items() if dept == department)
        if members:
            chosen = min(members, key=lambda name: (loads[name], name))
            loads[chosen] += 1
            state[key].update(orchestrator=chosen, assigned_by="least_open_work")
    return state


def item_fields(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "contact_id": item["contact_id"],
        "queue_type": item["queue_type"],
        "owner_department": item["owner_department"],
        "priority": item["priority"],
        "detected_at": item["detected_at"],
    }


def queue_rows(
    state: dict[str, dict[str, Any]],
    actions: list[dict[str, Any]],
    capacity: int,
    as_of: dt.datetime,
) -> dict[str, dict[str, Any]]:
    """rpt_orchestrator_queue by item id: the open items with their work bucket."""
    latest = latest_actions(actions, as_of)
    rows = {}
    for key, row in state.items():
        if not row["is_open"]:
            continue
        action = latest.get(key, {})
        snoozed = action.get("action") == "snoozed" and action["snoozed_until"] > as_of
        escalated = action.get("action") == "escalated"
        rows[key] = {
            **row,
            "snoozed_until": action["snoozed_until"] if snoozed else None,
            "escalated_to": action["escalated_to"] if escalated else None,
            "work_bucket": "escalated" if escalated else "snoozed" if snoozed else "backlog",
        }
    workable: dict[str, list[str]] = {}
    for key, row in rows.items():
        if row["work_bucket"] == "backlog" and row["orchestrator"] is not None:
            workable.setdefault(row["orchestrator"], []).append(key)
    for keys in workable.values():
        keys.sort(key=lambda key: (rows[key]["priority"], rows[key]["due_at"], key))
        for rank, key in enumerate(keys, start=1):
            if rank <= capacity:
                rows[key]["work_bucket"] = "today"
    return rows
