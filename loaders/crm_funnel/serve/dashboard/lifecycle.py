"""The lifecycle page: where contacts are, how they moved, who moved recently."""

from __future__ import annotations

import altair as alt
import streamlit as st

from crm_funnel.serve.dashboard.reader import (
    ENTRY,
    MISSING,
    Reader,
    as_of_caption,
    build_as_of,
    fmt_int,
    fmt_time,
    metric_cards,
    page,
    show_numbered,
    show_table,
)

NO_FUNNEL = "No funnel"


@page(
    "Lifecycle",
    "lifecycle",
    "Lifecycle",
    "marts.dim_contacts",
    "marts.rpt_lifecycle_movement_summary",
    "marts.rpt_lifecycle_movements",
    icon=":material/autorenew:",
)
def lifecycle_page(reader: Reader) -> None:
    states = reader.frame(
        "select lifecycle_state, lifecycle_funnel, count(*) as contacts "
        f"from {reader.rel('marts.dim_contacts')} group by lifecycle_state, lifecycle_funnel"
    )
    st.caption(
        "Where contacts are now (`marts.dim_contacts`), how they moved between lifecycle "
        "states (`marts.rpt_lifecycle_movement_summary`) and who moved recently "
        f"(`marts.rpt_lifecycle_movements`). {as_of_caption(build_as_of(reader))}"
    )
    if states.empty:
        st.info("No contact yet: load events and run `dbt build`.")
        return
    states["lifecycle_funnel"] = states["lifecycle_funnel"].fillna(NO_FUNNEL)
    states["lifecycle_state"] = states["lifecycle_state"].fillna(MISSING)
    per_funnel = states.groupby("lifecycle_funnel")["contacts"].sum()
    funnels = [f for f in per_funnel.sort_values(ascending=False).index if f != NO_FUNNEL]
    funnels += [NO_FUNNEL] if NO_FUNNEL in per_funnel.index else []
    cards = [("Contacts", fmt_int(states["contacts"].sum()))]
    cards += [(f"{f} funnel" if f != NO_FUNNEL else f, fmt_int(per_funnel[f])) for f in funnels]
    metric_cards(cards)

    st.subheader("Contacts per lifecycle state and funnel")
    matrix = states.pivot_table(
        index="lifecycle_state",
        columns="lifecycle_funnel",
        values="contacts",
        aggfunc="sum",
        fill_value=0,
    )[funnels]
    matrix.columns.name = None
    matrix["Total"] = matrix.sum(axis=1)
    matrix = matrix.sort_values("Total", ascending=False, kind="stable")
    order = list(matrix.index)
    left, right = st.columns([1, 1])
    with left:
        show_table(
            matrix.reset_index().rename(columns={"lifecycle_state": "Lifecycle state"}),
            **{column: fmt_int for column in [*funnels, "Total"]},
        )
    with right:
        st.altair_chart(
            alt.Chart(states)
            .mark_bar()
            .encode(
                y=alt.Y("lifecycle_state:N", sort=order, title=None),
                x=alt.X("contacts:Q", title="Contacts"),
                color=alt.Color("lifecycle_funnel:N", sort=funnels, title="Funnel"),
                tooltip=[
                    alt.Tooltip("lifecycle_state:N", title="State"),
                    alt.Tooltip("lifecycle_funnel:N", title="Funnel"),
                    alt.Tooltip("contacts:Q", title="Contacts", format=","),
                ],
            )
            .properties(height=max(200, 32 * len(order))),
            width="stretch",
        )

    movement_summary(reader)
    recent_movements(reader)


def movement_summary(reader: Reader) -> None:
    summary = reader.frame(
        "select from_state, to_state, trigger, transitions, contacts, last_transitioned_at "
        f"from {reader.rel('marts.rpt_lifecycle_movement_summary')} "
        "order by transitions desc, from_state nulls first, to_state, trigger"
    )
    st.subheader("Movements between states, by trigger")
    if summary.empty:
        st.info("No lifecycle transition is recorded yet.")
        return
    summary["from_state"] = summary["from_state"].fillna(ENTRY)
    moves = summary.groupby(["from_state", "to_state"], as_index=False)["transitions"].sum()
    st.caption(
        f"Every recorded transition ({fmt_int(summary['transitions'].sum())}); "
        f"{ENTRY} is a contact's first state. Counts are transitions; contacts are the "
        "distinct contacts that made the move at least once."
    )
    left, right = st.columns([3, 2])
    with left:
        shown = summary.assign(move=summary["from_state"] + " → " + summary["to_state"])
        show_table(
            shown[["move", "trigger", "transitions", "contacts", "last_transitioned_at"]].rename(
                columns={
                    "move": "Move",
                    "trigger": "Trigger",
                    "transitions": "Transitions",
                    "contacts": "Contacts",
                    "last_transitioned_at": "Last (UTC)",
                }
            ),
            Transitions=fmt_int,
            Contacts=fmt_int,
            **{"Last (UTC)": fmt_time},
        )
    with right:
        st.altair_chart(
            alt.Chart(moves)
            .mark_rect()
            .encode(
                x=alt.X("to_state:N", title="To"),
                y=alt.Y("from_state:N", title="From"),
                color=alt.Color("transitions:Q", title="Transitions", scale=alt.Scale(type="log")),
                tooltip=[
                    alt.Tooltip("from_state:N", title="From"),
                    alt.Tooltip("to_state:N", title="To"),
                    alt.Tooltip("transitions:Q", title="Transitions", format=","),
                ],
            )
            .properties(height=360),
            width="stretch",
        )


def recent_movements(reader: Reader) -> None:
    recent = reader.frame(
        "select transitioned_at, email, from_state, to_state, trigger, set_by "
        f"from {reader.rel('marts.rpt_lifecycle_movements')} "
        "order by transitioned_at desc, email, to_state"
    )
    st.subheader(f"Recent movements ({len(recent):,})")
    st.caption("The transitions of the mart's recent window (var `recent_movement_days`).")
    if recent.empty:
        st.info("Nobody moved in the recent window.")
        return
    recent["from_state"] = recent["from_state"].fillna(ENTRY)
    show_numbered(
        recent.rename(
            columns={
                "transitioned_at": "When (UTC)",
                "email": "Email",
                "from_state": "From",
                "to_state": "To",
                "trigger": "Trigger",
                "set_by": "Set by",
            }
        ),
        **{"When (UTC)": fmt_time},
    )


PAGES = (lifecycle_page,)
