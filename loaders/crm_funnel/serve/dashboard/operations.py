"""Operations pages: nurture lists and data quality (the queue is ``queue``)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from crm_funnel.serve.dashboard.reader import (
    MISSING,
    Reader,
    as_of_caption,
    build_as_of,
    fmt_day,
    fmt_int,
    metric_cards,
    page,
    show_table,
)

ALL = "All"

# --- Nurture lists --------------------------------------------------------------------

NO_CHANNEL = "(no channel)"


@page(
    "Nurture lists",
    "nurture",
    "Operations",
    "marts.rpt_nurture_lists",
    "marts.dim_contacts",
    icon=":material/forward_to_inbox:",
)
def nurture_page(reader: Reader) -> None:
    due = reader.frame(
        "select nurture_track, channels, cadence_days, email, lifecycle_state, funnel_stage, "
        "last_outbound_touch_at, due_at, days_overdue "
        f"from {reader.rel('marts.rpt_nurture_lists')} "
        "order by days_overdue desc, due_at, email"
    )
    st.caption(
        "Who gets which nurture sequence now (`marts.rpt_nurture_lists`): contacts whose next "
        "touch of their track is due (never the unsubscribed or disqualified). "
        f"{as_of_caption(build_as_of(reader))}"
    )
    tracks = list(dict.fromkeys(due["nurture_track"]))
    track = st.selectbox("Nurture track", [ALL, *sorted(tracks)])
    if track != ALL:
        due = due[due["nurture_track"] == track]
    if due.empty:
        st.success("Nobody is due a nurture touch.")
        return
    due["channels"] = due["channels"].fillna("")
    per_channel = due.assign(
        channel=due["channels"].map(lambda text: [c for c in text.split("|") if c] or [NO_CHANNEL])
    ).explode("channel")
    channels = per_channel.groupby("channel")["email"].size().sort_values(ascending=False)
    cards = [("Due contacts", fmt_int(len(due)))]
    cards += [(f"via {channel}", fmt_int(n)) for channel, n in channels.items()]
    metric_cards(cards)

    st.subheader("Due contacts per track and channel")
    matrix = per_channel.pivot_table(
        index="nurture_track", columns="channel", values="email", aggfunc="size", fill_value=0
    )[list(channels.index)]
    matrix.columns.name = None
    tracks_table = (
        due.groupby("nurture_track")
        .agg(
            cadence=("cadence_days", "first"),
            contacts=("email", "size"),
            max_overdue=("days_overdue", "max"),
        )
        .join(matrix)
        .sort_values("contacts", ascending=False, kind="stable")
        .reset_index()
    )
    show_table(
        tracks_table.rename(
            columns={
                "nurture_track": "Track",
                "cadence": "Cadence (days)",
                "contacts": "Due contacts",
                "max_overdue": "Most days overdue",
            }
        ),
        **{
            "Cadence (days)": fmt_int,
            "Due contacts": fmt_int,
            "Most days overdue": fmt_int,
            **{channel: fmt_int for channel in channels.index},
        },
    )

    st.subheader("Due contacts, most overdue first")
    st.dataframe(
        due[["email", "days_overdue", "due_at", "nurture_track", "channels", "lifecycle_state",
             "funnel_stage", "last_outbound_touch_at"]],
        hide_index=True,
        width="stretch",
        column_config={
            "email": "Contact",
            "nurture_track": "Track",
            "channels": "Channels",
            "lifecycle_state": "Lifecycle state",
            "funnel_stage": "Stage",
            "last_outbound_touch_at": st.column_config.DatetimeColumn(
                "Last outbound touch (UTC)", format="YYYY-MM-DD HH:mm"
            ),
            "due_at": st.column_config.DatetimeColumn("Due (UTC)", format="YYYY-MM-DD HH:mm"),
            "days_overdue": st.column_config.NumberColumn("Days overdue"),
        },
    )  # fmt: skip


# --- Data quality ---------------------------------------------------------------------


@page(
    "Data quality",
    "quality",
    "Operations",
    "raw.loads",
    "marts.fct_quarantined_events",
    icon=":material/fact_check:",
)
def quality_page(reader: Reader) -> None:
    quarantined = reader.frame(
        "select rejection_reason, count(*) as events "
        f"from {reader.rel('marts.fct_quarantined_events')} "
        "group by rejection_reason order by events desc, rejection_reason"
    )
    loads = reader.frame(f"select * from {reader.rel('raw.loads')} order by started_at desc")
    st.caption(
        "Every load the loader recorded (`raw.loads`) and the events quarantined by the "
        "validation rules (`marts.fct_quarantined_events`), by the first rule they break."
    )
    latest = loads.iloc[0] if not loads.empty else None
    cards = (
        ("Loads", fmt_int(len(loads))),
        ("Latest load", MISSING if latest is None else fmt_day(latest["finished_at"])),
        ("Events it loaded", MISSING if latest is None else fmt_int(latest["events_loaded"])),
        ("Quarantined events", fmt_int(quarantined["events"].sum())),
    )
    metric_cards(cards)

    st.subheader("Quarantined events by reason")
    if quarantined.empty:
        st.success("No event is quarantined.")
    else:
        left, right = st.columns([1, 1])
        with left:
            show_table(
                quarantined.rename(columns={"rejection_reason": "Reason", "events": "Events"}),
                Events=fmt_int,
            )
        with right:
            st.altair_chart(
                alt.Chart(quarantined)
                .mark_bar(color="#e45756")
                .encode(
                    y=alt.Y(
                        "rejection_reason:N",
                        sort="-x",
                        title=None,
                        axis=alt.Axis(labelLimit=300),
                    ),
                    x=alt.X("events:Q", title="Events"),
                    tooltip=[
                        alt.Tooltip("rejection_reason:N", title="Reason"),
                        alt.Tooltip("events:Q", title="Events", format=","),
                    ],
                ),
                width="stretch",
            )

    st.subheader("Loads, latest first")
    if loads.empty:
        st.info("No load is recorded yet: run `funnel-load`.")
        return
    labels = {
        "started_at": "Started (UTC)",
        "status": "Status",
        "records_read": "Records read",
        "events_loaded": "Events loaded",
        "duplicates_skipped": "Duplicates skipped",
        "errors": "Unreadable lines",
        "erased_skipped": "Erased skipped",
        "source_format": "Format",
        "source_file": "Source",
        "finished_at": "Finished (UTC)",
        "load_id": "Load id",
        "checksum": "Checksum",
    }
    shown = [column for column in labels if column in loads.columns]
    st.dataframe(
        loads[shown],
        hide_index=True,
        width="stretch",
        column_config={column: labels[column] for column in shown},
    )


PAGES = (nurture_page, quality_page)
