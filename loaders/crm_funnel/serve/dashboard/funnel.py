"""Reports pages: the funnel, channel effectiveness and intent by source."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from crm_funnel.serve.dashboard.reader import (
    Reader,
    fmt_int,
    fmt_num,
    fmt_pct,
    metric_cards,
    page,
    show_mart_rows,
    show_table,
)

# --- Funnel ------------------------------------------------------------------------


@page("Funnel", "funnel", "Reports", "marts.rpt_funnel", icon=":material/filter_alt:")
def funnel_page(reader: Reader) -> None:
    funnel = reader.frame(
        "select funnel_stage, contacts_current, contacts_reached, conversion_to_next, "
        f"drop_off_rate from {reader.rel('marts.rpt_funnel')} order by stage_order"
    )
    st.caption(
        "Contacts per funnel stage (`marts.rpt_funnel`): reached = at this stage or beyond; "
        "conversion and drop-off are to the next stage."
    )
    if funnel.empty:
        st.info("The funnel mart has no rows yet: load events and run `dbt build`.")
        return
    metric_cards(
        [(row.funnel_stage, fmt_int(row.contacts_reached)) for row in funnel.itertuples()],
        tooltip=lambda stage: f"Contacts that reached {stage} or beyond",
    )
    st.altair_chart(funnel_chart(funnel), width="stretch")
    show_table(
        funnel.rename(
            columns={
                "funnel_stage": "Stage",
                "contacts_current": "Contacts there now",
                "contacts_reached": "Reached (or beyond)",
                "conversion_to_next": "Conversion to next",
                "drop_off_rate": "Drop-off",
            }
        ),
        **{
            "Contacts there now": fmt_int,
            "Reached (or beyond)": fmt_int,
            "Conversion to next": fmt_pct,
            "Drop-off": fmt_pct,
        },
    )


def funnel_chart(funnel: pd.DataFrame) -> alt.LayerChart:
    """Centred bars, widest at the top: the classic funnel shape."""
    order = list(funnel["funnel_stage"])
    data = funnel.assign(
        half=funnel["contacts_reached"] / 2,
        label=funnel["contacts_reached"].map(fmt_int),
    )
    base = alt.Chart(data).encode(
        y=alt.Y("funnel_stage:N", sort=order, title=None, axis=alt.Axis(labelFontSize=14)),
    )
    bars = base.mark_bar(color="#4c78a8", cornerRadius=3).encode(
        x=alt.X("neg_half:Q", axis=None, title=None),
        x2="half:Q",
        tooltip=[
            alt.Tooltip("funnel_stage:N", title="Stage"),
            alt.Tooltip("contacts_reached:Q", title="Reached", format=","),
            alt.Tooltip("contacts_current:Q", title="There now", format=","),
        ],
    )
    labels = base.mark_text(color="white", fontWeight="bold", fontSize=13).encode(
        x=alt.datum(0), text="label:N"
    )
    chart: alt.LayerChart = (
        alt.layer(bars, labels)
        .transform_calculate(neg_half="-datum.half")
        .properties(height=60 * len(order))
    )
    return chart


# --- Channel effectiveness ------------------------------------------------------------

SPEND_MART = "marts.rpt_channel_spend"


@page(
    "Channel effectiveness",
    "channels",
    "Reports",
    "marts.rpt_channel_effectiveness",
    icon=":material/campaign:",
)
def channel_page(reader: Reader) -> None:
    rows = reader.frame(
        "select first_touch_channel, funnel_stage, stage_order, contacts_reached, "
        f"conversion_from_lead from {reader.rel('marts.rpt_channel_effectiveness')} "
        "order by first_touch_channel, stage_order"
    )
    st.caption(
        "The funnel per first-touch channel (`marts.rpt_channel_effectiveness`): leads each "
        "channel brought and the share of them that reached each later stage."
    )
    if rows.empty:
        st.info("The channel mart has no rows yet: load events and run `dbt build`.")
    else:
        stages = list(dict.fromkeys(rows.sort_values("stage_order")["funnel_stage"]))
        first, later = stages[0], stages[1:]
        leads = rows[rows["funnel_stage"] == first].set_index("first_touch_channel")[
            "contacts_reached"
        ]
        shares = rows.pivot(
            index="first_touch_channel", columns="funnel_stage", values="conversion_from_lead"
        )[later]
        table = pd.concat([leads.rename(f"{first}s"), shares.add_prefix("to ")], axis=1)
        table = table.sort_values(f"{first}s", ascending=False).reset_index()
        table = table.rename(columns={"first_touch_channel": "First-touch channel"})
        st.subheader("Conversion from lead, per first-touch channel")
        show_table(table, **{f"{first}s": fmt_int}, **{f"to {s}": fmt_pct for s in later})
        chart_rows = rows[rows["funnel_stage"].isin(later)]
        st.altair_chart(
            alt.Chart(chart_rows)
            .mark_bar()
            .encode(
                x=alt.X(
                    "first_touch_channel:N",
                    title="First-touch channel",
                    sort=list(table["First-touch channel"]),
                ),
                xOffset=alt.XOffset("funnel_stage:N", sort=later),
                y=alt.Y(
                    "conversion_from_lead:Q", title="Share of leads", axis=alt.Axis(format="%")
                ),
                color=alt.Color("funnel_stage:N", sort=later, title="Reached"),
                tooltip=[
                    alt.Tooltip("first_touch_channel:N", title="Channel"),
                    alt.Tooltip("funnel_stage:N", title="Stage"),
                    alt.Tooltip("contacts_reached:Q", title="Contacts", format=","),
                    alt.Tooltip("conversion_from_lead:Q", title="Of leads", format=".1%"),
                ],
            )
            .properties(height=360),
            width="stretch",
        )
    st.subheader("Cost per lead, CAC and LTV")
    if reader.has(SPEND_MART):
        show_mart_rows(reader, SPEND_MART)
    else:
        st.info(
            "CAC / LTV: needs the channel spend mart (issue: revenue analytics) — not built yet."
        )


# --- Intent by source -----------------------------------------------------------------


@page(
    "Intent by source",
    "intent",
    "Reports",
    "marts.rpt_intent_by_source",
    icon=":material/local_fire_department:",
)
def intent_page(reader: Reader) -> None:
    intent = reader.frame(
        "select lead_source, contacts, avg_intent_score, median_intent_score "
        f"from {reader.rel('marts.rpt_intent_by_source')} "
        "order by avg_intent_score desc, lead_source"
    )
    st.caption(
        "Current intent score of the contacts each lead source brought "
        "(`marts.rpt_intent_by_source`)."
    )
    if intent.empty:
        st.info("The intent mart has no rows yet: load events and run `dbt build`.")
        return
    long = intent.melt(
        id_vars=["lead_source", "contacts"],
        value_vars=["avg_intent_score", "median_intent_score"],
        var_name="measure",
        value_name="score",
    )
    long["measure"] = long["measure"].map(
        {"avg_intent_score": "average", "median_intent_score": "median"}
    )
    st.altair_chart(
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("lead_source:N", sort=list(intent["lead_source"]), title="Lead source"),
            yOffset="measure:N",
            x=alt.X("score:Q", title="Intent score"),
            color=alt.Color("measure:N", title=None),
            tooltip=[
                alt.Tooltip("lead_source:N", title="Lead source"),
                alt.Tooltip("measure:N", title="Measure"),
                alt.Tooltip("score:Q", title="Score", format=",.2f"),
                alt.Tooltip("contacts:Q", title="Contacts", format=","),
            ],
        )
        .properties(height=max(200, 44 * len(intent))),
        width="stretch",
    )
    show_table(
        intent.rename(
            columns={
                "lead_source": "Lead source",
                "contacts": "Contacts",
                "avg_intent_score": "Average intent",
                "median_intent_score": "Median intent",
            }
        ),
        Contacts=fmt_int,
        **{"Average intent": fmt_num, "Median intent": fmt_num},
    )


PAGES = (funnel_page, channel_page, intent_page)
