"""The contact search page: one person's story (contact 360)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from crm_funnel.serve.dashboard.reader import (
    ENTRY,
    MISSING,
    Reader,
    fmt_day,
    fmt_int,
    fmt_num,
    fmt_text,
    fmt_time,
    is_null,
    metric_cards,
    page,
    show_table,
)

MATCH_LIMIT = 50  # emails offered when several contacts match
STAGE_DATES = (
    ("Lead", "became_lead_at"),
    ("MQL", "became_mql_at"),
    ("SQL", "became_sql_at"),
    ("Opportunity", "became_opportunity_at"),
    ("Customer", "became_customer_at"),
)


@page(
    "Contact search",
    "contact",
    "Contacts",
    "marts.dim_contacts",
    "marts.fct_activities",
    "marts.rpt_contact_360",
    "marts.fct_lifecycle_transitions",
    icon=":material/person_search:",
)
def contact_page(reader: Reader) -> None:
    st.caption(
        "One person's story: `marts.dim_contacts`, the next action and last interactions "
        "from `marts.rpt_contact_360`, the lifecycle transitions from "
        "`marts.fct_lifecycle_transitions` and the activities from `marts.fct_activities`."
    )
    typed = st.text_input(
        "Email, or part of it",
        value=st.query_params.get("email", ""),
        placeholder="ann@acme.io",
        key="contact_query",
    )
    needle = typed.strip().lower()
    if not needle:
        st.info("Type an email (or any part of one) and press Enter.")
        return
    contacts = reader.rel("marts.dim_contacts")
    matches = [
        email
        for (email,) in reader.rows(
            f"select email from {contacts} where strpos(email, ?) > 0 order by email limit ?",
            [needle, MATCH_LIMIT + 1],
        )
    ]
    if not matches:
        st.info(f"No contact's email contains “{needle}”.")
        return
    email = matches[0]
    if len(matches) > 1:
        more = "more than " if len(matches) > MATCH_LIMIT else ""
        email = st.selectbox(
            f"{more}{min(len(matches), MATCH_LIMIT)} contacts match: pick one",
            matches[:MATCH_LIMIT],
        )
    contact = reader.frame(f"select * from {contacts} where email = ?", [email]).iloc[0]
    contact_story(reader, contact)


def contact_story(reader: Reader, contact: pd.Series) -> None:
    st.subheader(str(contact["email"]), anchor=False)  # shown as a mailto link
    opted_out = " · opted out" if bool(contact["is_opted_out"]) else ""
    st.caption(
        f"{fmt_text(contact['company'])} · {fmt_text(contact['industry'])} · "
        f"lead source {fmt_text(contact['lead_source'])}{opted_out}"
    )
    cards = (
        ("Stage", fmt_text(contact["funnel_stage"])),
        ("Nurture track", fmt_text(contact["nurture_track"])),
        ("First touch", fmt_text(contact["first_touch_channel"])),
        ("Intent score", fmt_num(contact["intent_score"])),
        ("Lifetime score", fmt_num(contact["lifetime_intent_score"])),
        ("Activities", fmt_int(contact["events_total"])),
    )
    metric_cards(cards[:3])
    metric_cards(cards[3:])
    contact_lifecycle(reader, contact)

    left, right = st.columns([1, 2])
    with left:
        st.markdown("**Stage dates**")
        stage_dates = pd.DataFrame(
            [(stage, contact[column]) for stage, column in STAGE_DATES],
            columns=["Stage", "Reached at (UTC)"],
        )
        show_table(stage_dates, **{"Reached at (UTC)": fmt_stage_date})
        st.markdown("**Activity span**")
        span = pd.DataFrame(
            [
                ("First activity", contact["first_activity_at"]),
                ("Last activity", contact["last_activity_at"]),
                ("Last engagement", contact["last_engagement_at"]),
            ],
            columns=["When", "At (UTC)"],
        )
        show_table(span, **{"At (UTC)": fmt_time})
    with right:
        history = reader.frame(
            "select event_at, event_type, channel, intent_weight, lead_source, properties "
            f"from {reader.rel('marts.fct_activities')} where contact_id = ? "
            "order by event_at desc, activity_id",
            [contact["contact_id"]],
        )
        texts = ["event_type", "channel", "lead_source", "properties"]
        history[texts] = history[texts].astype("string").fillna("")
        st.markdown(f"**Activity history** ({len(history):,} activities, latest first)")
        st.dataframe(
            history,
            hide_index=True,
            width="stretch",
            column_config={
                "event_at": st.column_config.DatetimeColumn(
                    "When (UTC)", format="YYYY-MM-DD HH:mm"
                ),
                "event_type": "Event",
                "channel": "Channel",
                "intent_weight": st.column_config.NumberColumn("Intent points"),
                "lead_source": "Lead source",
                "properties": "Properties",
            },
        )


def contact_lifecycle(reader: Reader, contact: pd.Series) -> None:
    """Lifecycle state, next action and last interactions (contact 360), and transitions."""
    found = reader.frame(
        "select lifecycle_state, lifecycle_state_since, lifecycle_funnel, is_manual_override, "
        "next_action, next_action_due_at, owner, open_queue_items, last_interactions "
        f"from {reader.rel('marts.rpt_contact_360')} where contact_id = ?",
        [contact["contact_id"]],
    )
    if found.empty:
        st.info("This contact is not in `marts.rpt_contact_360` yet: run `dbt build`.")
        return
    c360 = found.iloc[0]
    overridden = c360["is_manual_override"]
    manual = " (set by a person)" if not is_null(overridden) and bool(overridden) else ""
    cards = (
        ("Lifecycle state", fmt_text(c360["lifecycle_state"]) + manual),
        ("In that state since", fmt_day(c360["lifecycle_state_since"])),
        ("Open queue items", fmt_int(c360["open_queue_items"])),
    )
    metric_cards(cards)
    funnel = f"**Lifecycle funnel:** {fmt_text(c360['lifecycle_funnel'])}"
    if is_null(c360["next_action"]):
        st.markdown(f"{funnel}  \n**Next action:** none (no open item in the orchestrator queue).")
    else:
        st.markdown(
            f"{funnel}  \n**Next action:** {c360['next_action']} · due "
            f"{fmt_time(c360['next_action_due_at'])} UTC · owner {fmt_text(c360['owner'])}"
        )
    left, right = st.columns([1, 1])
    with left:
        st.markdown("**Last interactions** (latest first)")
        text = "" if is_null(c360["last_interactions"]) else str(c360["last_interactions"])
        lines = [item.strip() for item in text.split(" | ") if item.strip()]
        st.markdown("\n".join(f"- {escape_markdown(line)}" for line in lines) or MISSING)
    with right:
        transitions = reader.frame(
            "select transition_number, transitioned_at, from_state, to_state, trigger, set_by "
            f"from {reader.rel('marts.fct_lifecycle_transitions')} where contact_id = ? "
            "order by transition_number",
            [contact["contact_id"]],
        )
        st.markdown(f"**Lifecycle transitions** ({len(transitions):,})")
        if transitions.empty:
            st.caption("No lifecycle transition recorded.")
        else:
            transitions["from_state"] = transitions["from_state"].fillna(ENTRY)
            show_table(
                transitions.rename(
                    columns={
                        "transition_number": "#",
                        "transitioned_at": "When (UTC)",
                        "from_state": "From",
                        "to_state": "To",
                        "trigger": "Trigger",
                        "set_by": "Set by",
                    }
                ),
                **{"#": fmt_int, "When (UTC)": fmt_time},
            )


def escape_markdown(text: str) -> str:
    """``text`` shown as written in ``st.markdown`` (no emphasis from ``_`` or ``*``)."""
    return "".join(f"\\{char}" if char in "\\`*_[]<>#|~" else char for char in text)


def fmt_stage_date(value: Any) -> str:
    return "not reached" if is_null(value) else fmt_time(value)


PAGES = (contact_page,)
