"""The orchestrator queue page: each person's work split into today / backlog / snoozed /
escalated, the actions on an item (resolve, snooze, escalate) and the items' history.

The actions call ``crm_funnel.ingest.actions`` (what ``funnel-queue`` calls too): each is
one native event, loaded into the warehouse when it is free, else written to the inbox
for the next pipeline run. They run as button callbacks, before the page reads the
warehouse again, so no read-only connection of this page is open while one is written.
The page reads ``work_bucket`` and ``fct_queue_item_history`` when the warehouse has them
(issue 17) and shows the plain queue otherwise.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd
import streamlit as st

from crm_funnel.errors import FunnelError
from crm_funnel.ingest import actions
from crm_funnel.ingest.actions import QueueItem
from crm_funnel.ingest.progress import plural
from crm_funnel.serve.dashboard.reader import (
    Reader,
    Settings,
    as_of_caption,
    build_as_of,
    fmt_int,
    fmt_time,
    metric_cards,
    page,
    show_numbered,
    show_table,
)
from crm_funnel.warehouse.profile import load_target

PRIORITIES = {1: "Urgent", 2: "High", 3: "Normal"}
ALL = "All"
UNASSIGNED = "Unassigned"
BUCKETS = {"today": "Today", "backlog": "Backlog", "snoozed": "Snoozed", "escalated": "Escalated"}
HISTORY = "marts.fct_queue_item_history"
RECENT_ACTIONS = 20
NOTICE = "queue_notice"  # session state: what the last action did (shown on the next run)


@page(
    "Orchestrator queue",
    "queue",
    "Operations",
    "marts.rpt_orchestrator_queue",
    "marts.dim_contacts",
    icon=":material/checklist:",
)
def queue_page(reader: Reader) -> None:
    as_of = build_as_of(reader)
    queue = reader.rel("marts.rpt_orchestrator_queue")
    columns = reader.columns("marts.rpt_orchestrator_queue")
    bucketed = "work_bucket" in columns
    st.caption(
        "The contacts that need a person (`marts.rpt_orchestrator_queue`), by priority "
        f"(1 urgent, 2 high, 3 normal), then due date. {as_of_caption(as_of)} An item is "
        "overdue when its due date is before that."
        + (" Each person's work is split into today (up to their daily capacity), backlog, "
           "snoozed and escalated." if bucketed else "")
    )  # fmt: skip
    show_notice()
    departments = [d for (d,) in reader.rows(
        f"select distinct owner_department from {queue} order by owner_department"
    )]  # fmt: skip
    left, right = st.columns(2)
    department = left.selectbox("Department", [ALL, *departments])
    where, params = ("where owner_department = ?", [department]) if department != ALL else ("", [])
    assigned = reader.rows(
        f"select distinct coalesce(orchestrator, ?) from {queue} {where} order by 1",
        [UNASSIGNED, *params],
    )
    orchestrator = right.selectbox("Orchestrator", [ALL, *(o for (o,) in assigned)])
    if orchestrator != ALL:
        where += " and " if where else "where "
        where += "coalesce(orchestrator, ?) = ?"
        params += [UNASSIGNED, orchestrator]
    optional = [c for c in ("work_bucket", "snoozed_until", "escalated_to") if c in columns]
    items = reader.frame(
        "select priority, due_at, title, recommended_action, email, "
        "coalesce(due_at < ?, false) as is_overdue, orchestrator, owner_department, "
        f"lifecycle_state, queue_type, queue_item_id{''.join(', ' + c for c in optional)} "
        f"from {queue} {where} order by priority, due_at, email, queue_type",
        [as_of, *params],
    )
    cards = [("Open items", fmt_int(len(items)))]
    cards += [
        (f"{name} ({p})", fmt_int((items["priority"] == p).sum())) for p, name in PRIORITIES.items()
    ]
    cards += [("Overdue", fmt_int(items["is_overdue"].sum() if as_of is not None else None))]
    metric_cards(cards)
    if items.empty:
        st.success("Nothing in the queue for this selection.")
        show_recent_actions(reader)
        return
    if bucketed:
        show_buckets(items)
    act_on_item(reader, items)
    show_recent_actions(reader)
    show_types(items)
    show_items(items, bucketed)


def show_notice() -> None:
    notice = st.session_state.pop(NOTICE, None)
    if notice is not None:
        ok, message = notice
        (st.success if ok else st.error)(message)


def show_buckets(items: pd.DataFrame) -> None:
    st.subheader("Work per orchestrator")
    per_person = (
        items.assign(orchestrator=items["orchestrator"].fillna(UNASSIGNED))
        .pivot_table(
            index=["orchestrator", "owner_department"], columns="work_bucket",
            values="email", aggfunc="size", fill_value=0,
        )
        .reindex(columns=list(BUCKETS), fill_value=0)
        .reset_index()
    )  # fmt: skip
    per_person.columns.name = None
    per_person["open"] = per_person[list(BUCKETS)].sum(axis=1)
    show_table(
        per_person.rename(
            columns={"orchestrator": "Orchestrator", "owner_department": "Department",
                     "open": "Open", **BUCKETS}
        ),
        **{label: fmt_int for label in [*BUCKETS.values(), "Open"]},
    )  # fmt: skip


def show_types(items: pd.DataFrame) -> None:
    st.subheader("Items per queue type")
    by_type = (
        items.groupby(["title", "priority"], as_index=False)
        .agg(items=("email", "size"), overdue=("is_overdue", "sum"))
        .sort_values(["priority", "items", "title"], ascending=[True, False, True])
    )
    show_table(
        by_type.rename(
            columns={"title": "Queue type", "priority": "Priority", "items": "Items",
                     "overdue": "Overdue"}
        ),
        Priority=fmt_int,
        Items=fmt_int,
        Overdue=fmt_int,
    )  # fmt: skip


ITEM_COLUMNS = {
    "priority": "Priority",
    "due_at": "Due (UTC)",
    "is_overdue": "Overdue",
    "title": "Item",
    "recommended_action": "Recommended action",
    "email": "Contact",
    "orchestrator": "Orchestrator",
    "owner_department": "Department",
}


def show_items(items: pd.DataFrame, bucketed: bool) -> None:
    shown = items.assign(is_overdue=items["is_overdue"].map({True: "overdue", False: "no"}))
    if not bucketed:
        st.subheader("Items, by priority then due date")
        _item_list(shown, [])
        return
    extra = {"snoozed": ["snoozed_until"], "escalated": ["escalated_to"]}
    for bucket, label in BUCKETS.items():
        in_bucket = shown[shown["work_bucket"] == bucket]
        st.subheader(f"{label} ({len(in_bucket):,})")
        if in_bucket.empty:
            st.caption("Nothing here.")
            continue
        _item_list(in_bucket, [c for c in extra.get(bucket, []) if c in items.columns])


def _item_list(items: pd.DataFrame, extra: list[str]) -> None:
    labels = {**ITEM_COLUMNS, "snoozed_until": "Snoozed until", "escalated_to": "Escalated to"}
    chosen = [*ITEM_COLUMNS, *extra]
    show_numbered(
        items[chosen].rename(columns={c: labels[c] for c in chosen}),
        Priority=fmt_int,
        **{"Due (UTC)": fmt_time, "Snoozed until": fmt_time},
    )


# --------------------------------------------------------------------------- actions


def _label(row: Any) -> str:
    return f"{row.email} · {row.title} · {row.queue_item_id}"


def act_on_item(reader: Reader, items: pd.DataFrame) -> None:
    """Resolve, snooze or escalate one item; its history below."""
    st.subheader("Act on an item")
    labels = {row.queue_item_id: _label(row) for row in items.itertuples()}
    emails = dict(zip(items["queue_item_id"], items["email"], strict=True))
    item_id = st.selectbox("Item", list(labels), format_func=labels.__getitem__, key="queue_item")
    item = QueueItem(str(item_id), str(emails[item_id]))
    settings = reader.settings
    with st.form("queue_action"):
        st.text_input("Your name", key="queue_by", placeholder="who acts (recorded as 'by')")
        resolve, snooze, escalate = st.columns(3)
        resolve.text_input("Outcome", key="queue_outcome", placeholder="how it ended")
        resolve.form_submit_button(
            "Resolve", on_click=record_action, args=("resolve", item, settings)
        )
        today = datetime.now(timezone.utc).date()
        snooze.date_input(
            "Until", key="queue_until", value=today + timedelta(days=1), min_value=today
        )
        snooze.form_submit_button("Snooze", on_click=record_action, args=("snooze", item, settings))
        escalate.text_input("To", key="queue_to", placeholder="the manager who takes it")
        escalate.text_input("Reason", key="queue_reason")
        escalate.form_submit_button(
            "Escalate", on_click=record_action, args=("escalate", item, settings)
        )
    show_history(reader, item.queue_item_id)


def record_action(action: str, item: QueueItem, settings: Settings) -> None:
    """A button's callback: record the action (the CLI's code), keep what happened."""
    state = st.session_state
    try:
        if action == "resolve":
            event = actions.resolved(
                item, by=state.get("queue_by"), outcome=state.get("queue_outcome")
            )
        elif action == "snooze":
            event = actions.snoozed(item, by=state.get("queue_by"), until=state.get("queue_until"))
        else:
            event = actions.escalated(
                item, by=state.get("queue_by"), to=state.get("queue_to"),
                reason=state.get("queue_reason"),
            )  # fmt: skip
        target = load_target(settings.profiles_dir, settings.target)
        recorded = actions.record(
            event, target, inbox=settings.inbox, raw_schema=settings.raw_schema
        )
    except FunnelError as exc:
        state[NOTICE] = (False, f"Not recorded: {exc}")
        return
    verb = {"resolve": "Resolved", "snooze": "Snoozed", "escalate": "Escalated"}[action]
    state[NOTICE] = (
        True,
        f"{verb} item {item.queue_item_id} ({item.email}): {recorded.summary(target)}. "
        "The queue shows it after the next pipeline run.",
    )


# the columns of fct_queue_item_history shown (those the mart has; it needs the first two
# and queue_item_id)
HISTORY_LABELS = {
    "action_at": "When (UTC)",
    "action": "Action",
    "action_by": "By",
    "outcome": "Outcome",
    "snoozed_until": "Until",
    "escalated_to": "To",
    "reason": "Reason",
}


def show_history(reader: Reader, item_id: str) -> None:
    if not reader.has(HISTORY):
        st.caption(
            f"The item's history needs `{reader.rel(HISTORY)}` (issue 17), which is not in "
            f"{reader.target.describe()} yet."
        )
        return
    available = set(reader.columns(HISTORY))
    chosen = [column for column in HISTORY_LABELS if column in available]
    history = reader.frame(
        f"select {', '.join(chosen)} from {reader.rel(HISTORY)} "
        "where queue_item_id = ? order by action_at, action",
        [item_id],
    )
    st.markdown(f"**History of this item** ({plural(len(history), 'entry', 'entries')})")
    if not history.empty:
        show_table(
            history.rename(columns=HISTORY_LABELS),
            **{"When (UTC)": fmt_time, "Until": fmt_time},
        )


RECENT_COLUMNS = ("action_at", "action", "action_by", "queue_item_id", "email", "queue_type",
                  "outcome", "snoozed_until", "escalated_to", "reason")  # fmt: skip


def show_recent_actions(reader: Reader) -> None:
    if not reader.has(HISTORY):
        return
    available = set(reader.columns(HISTORY))
    chosen = [column for column in RECENT_COLUMNS if column in available]
    recent = reader.frame(
        f"select {', '.join(chosen)} from {reader.rel(HISTORY)} "
        f"where action <> 'detected' order by action_at desc, queue_item_id "
        f"limit {RECENT_ACTIONS}"
    )
    st.subheader("Latest actions")
    if recent.empty:
        st.caption("Nobody has acted on an item yet.")
        return
    show_table(
        recent.rename(
            columns={**HISTORY_LABELS, "queue_item_id": "Item", "email": "Contact",
                     "queue_type": "Queue type"}
        ),
        **{"When (UTC)": fmt_time, "Until": fmt_time},
    )  # fmt: skip


PAGES = (queue_page,)
