"""The crm-funnel dashboard: a Streamlit app over the marts of the configured dbt target.

Run it with ``make dashboard``, or::

    streamlit run loaders/crm_funnel/dashboard.py [-- --profiles-dir DIR --target NAME
                                                    --marts-schema marts --raw-schema raw]

It reads the same ``profiles.yml`` as dbt and ``funnel-load`` (``--profiles-dir`` /
``DBT_PROFILES_DIR``, ``--target`` / ``DBT_TARGET``), DuckDB read-only and one short
connection per page view, so ``dbt build`` can run while the dashboard is open.

The dashboard holds no business logic: every figure it shows is a value of a mart (or of
``raw.loads``), formatted for reading; it never recomputes a rule. Each page is a small
function registered with :func:`page`, which names the tables it reads; when one of them
is not in the warehouse the page says, in plain words, which mart it needs and that it is
not built yet, instead of failing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from crm_funnel.connections import connect_duckdb, connect_postgres, one_line
from crm_funnel.errors import FunnelError
from crm_funnel.profile import DuckDBTarget, Target, load_target

APP_TITLE = "crm-funnel"
MISSING = "–"  # shown for a null value (an en dash, so it never reads as a minus sign)
MATCH_LIMIT = 50

# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """Where the marts are: flags after ``--`` on the streamlit command line, else env."""

    profiles_dir: str | None
    target: str | None
    marts_schema: str
    raw_schema: str


def parse_settings(argv: Sequence[str]) -> Settings:
    parser = argparse.ArgumentParser(prog="crm_funnel.dashboard", add_help=False)
    parser.add_argument("--profiles-dir", default=None)
    parser.add_argument("--target", default=os.environ.get("DBT_TARGET") or None)
    parser.add_argument("--marts-schema", default="marts")
    parser.add_argument("--raw-schema", default="raw")
    args, _ = parser.parse_known_args(list(argv))
    return Settings(args.profiles_dir, args.target, args.marts_schema, args.raw_schema)


# --------------------------------------------------------------------------- reading


class Reader:
    """Read-only queries on one open connection; ``?`` placeholders on both backends."""

    def __init__(self, target: Target, connection: Any, settings: Settings) -> None:
        self.target = target
        self.settings = settings
        self._con = connection
        self._tables: set[str] | None = None

    def rel(self, name: str) -> str:
        """``marts.x`` / ``raw.x`` with the configured schema names."""
        schema, _, table = name.partition(".")
        schema = {"marts": self.settings.marts_schema, "raw": self.settings.raw_schema}[schema]
        return f"{schema}.{table}"

    def tables(self) -> set[str]:
        """``schema.table`` of every table and view in the marts and raw schemas.

        On PostgreSQL this reads ``pg_catalog``, which lists a table whatever the login may
        read (``information_schema`` hides tables without privileges, which would make an
        unreadable mart look "not built").
        """
        if self._tables is None:
            if isinstance(self.target, DuckDBTarget):
                sql = (
                    "select table_schema, table_name from information_schema.tables "
                    "where table_schema in (?, ?)"
                )
            else:
                sql = (
                    "select n.nspname, c.relname from pg_catalog.pg_class c "
                    "join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
                    "where n.nspname in (?, ?) and c.relkind in ('r', 'p', 'v', 'm', 'f')"
                )
            rows = self.rows(sql, [self.settings.marts_schema, self.settings.raw_schema])
            self._tables = {f"{schema}.{table}" for schema, table in rows}
        return self._tables

    def has(self, name: str) -> bool:
        return self.rel(name) in self.tables()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._run(sql, params)[1]

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        columns, rows = self._run(sql, params)
        return pd.DataFrame.from_records(rows, columns=columns)

    def _run(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        if isinstance(self.target, DuckDBTarget):
            cursor = self._con.execute(sql, list(params))
            return [d[0] for d in cursor.description], cursor.fetchall()
        with self._con.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), list(params))
            return [d[0] for d in cursor.description], cursor.fetchall()


@contextmanager
def open_reader(target: Target, settings: Settings) -> Iterator[Reader]:
    if isinstance(target, DuckDBTarget):
        con = connect_duckdb(target, read_only=True)
    else:
        con = connect_postgres(target, application_name="funnel-dashboard")
        con.set_session(readonly=True, autocommit=True)
    try:
        yield Reader(target, con, settings)
    finally:
        con.close()


# --------------------------------------------------------------------------- formatting


def fmt_int(value: Any) -> str:
    return MISSING if _is_null(value) else f"{int(value):,}"


def fmt_pct(value: Any) -> str:
    return MISSING if _is_null(value) else f"{100 * float(value):.1f}%"


def fmt_num(value: Any) -> str:
    return MISSING if _is_null(value) else f"{float(value):,.2f}"


def fmt_time(value: Any) -> str:
    if _is_null(value):
        return MISSING
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def fmt_day(value: Any) -> str:
    return fmt_time(value.date() if isinstance(value, datetime) else value)


def fmt_text(value: Any) -> str:
    return MISSING if _is_null(value) or value == "" else str(value)


def _is_null(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def show_table(frame: pd.DataFrame, **formats: Callable[[Any], str]) -> None:
    """A static table (the values as text, formatted per column), first column as labels."""
    shown = frame.copy()
    for column in shown.columns:
        shown[column] = shown[column].map(formats.get(column, fmt_text))
    st.table(shown.set_index(shown.columns[0]))


# --------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class Page:
    """One dashboard page: what it shows, the tables it reads, and the issue that builds them."""

    title: str
    url_path: str
    section: str
    reads: tuple[str, ...]
    render: Callable[[Reader], None]
    built_by: str = ""
    icon: str = ""
    about: str = ""

    def missing(self, reader: Reader) -> list[str]:
        return [name for name in self.reads if not reader.has(name)]


PAGES: list[Page] = []


def page(
    title: str,
    url_path: str,
    section: str,
    *reads: str,
    built_by: str = "",
    icon: str = "",
    about: str = "",
) -> Callable[[Callable[[Reader], None]], Callable[[Reader], None]]:
    """Register a page function that reads the tables ``reads`` (``marts.x`` / ``raw.x``).

    ``built_by`` names the issue that builds a mart the page needs, ``about`` says what the
    page will show: both are only used in the "not built yet" message.
    """

    def register(render: Callable[[Reader], None]) -> Callable[[Reader], None]:
        PAGES.append(Page(title, url_path, section, tuple(reads), render, built_by, icon, about))
        return render

    return register


def not_built_message(page: Page, missing: Sequence[str], reader: Reader) -> str:
    names = " and ".join(f"`{reader.rel(name)}`" for name in missing)
    mart_word = "mart" if len(missing) == 1 else "marts"
    issue = f" (issue: {page.built_by})" if page.built_by else ""
    about = f" It will show {page.about}." if page.about else ""
    return (
        f"**Not built yet.** This page needs the {mart_word} {names}{issue}, "
        f"which is not in {reader.target.describe()} yet.{about} It appears here once the "
        "model exists and `dbt build` has run."
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
    for column, row in zip(st.columns(len(funnel)), funnel.itertuples(), strict=True):
        column.metric(
            row.funnel_stage,
            fmt_int(row.contacts_reached),
            help=f"Contacts that reached {row.funnel_stage} or beyond",
            border=True,
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
    return (
        alt.layer(bars, labels)
        .transform_calculate(neg_half="-datum.half")
        .properties(height=60 * len(order))
    )


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


# --- Lifecycle ------------------------------------------------------------------------

NO_FUNNEL = "No funnel"
ENTRY = "(entry)"
LIST_LIMIT = 200  # rows of a long list shown as a static table


def build_as_of(reader: Reader) -> Any:
    """The ``as_of`` of the build (``dim_contacts.state_as_of``): "now" for every page."""
    return reader.rows(f"select max(state_as_of) from {reader.rel('marts.dim_contacts')}")[0][0]


def as_of_caption(as_of: Any) -> str:
    return f"As of {fmt_time(as_of)} UTC (the build's `as_of`)."


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
    cards = [("Contacts", int(states["contacts"].sum()))]
    cards += [(f"{f} funnel" if f != NO_FUNNEL else f, int(per_funnel[f])) for f in funnels]
    for column, (label, value) in zip(st.columns(len(cards)), cards, strict=True):
        column.metric(label, fmt_int(value), border=True)

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


def show_numbered(frame: pd.DataFrame, limit: int = LIST_LIMIT, **formats: Any) -> None:
    """A list as a static table numbered 1.., at most ``limit`` rows (a note says so)."""
    if len(frame) > limit:
        st.caption(f"The first {limit:,} of {len(frame):,}.")
    shown = frame.head(limit).copy()
    shown.insert(0, "#", range(1, len(shown) + 1))
    show_table(shown, **{"#": str}, **formats)


# --- Contact search -------------------------------------------------------------------

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
    for row in (cards[:3], cards[3:]):
        for column, (label, value) in zip(st.columns(len(row)), row, strict=True):
            column.metric(label, value, border=True)
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
    manual = " (set by a person)" if not _is_null(overridden) and bool(overridden) else ""
    cards = (
        ("Lifecycle state", fmt_text(c360["lifecycle_state"]) + manual),
        ("In that state since", fmt_day(c360["lifecycle_state_since"])),
        ("Open queue items", fmt_int(c360["open_queue_items"])),
    )
    for column, (label, value) in zip(st.columns(len(cards)), cards, strict=True):
        column.metric(label, value, border=True)
    funnel = f"**Lifecycle funnel:** {fmt_text(c360['lifecycle_funnel'])}"
    if _is_null(c360["next_action"]):
        st.markdown(f"{funnel}  \n**Next action:** none (no open item in the orchestrator queue).")
    else:
        st.markdown(
            f"{funnel}  \n**Next action:** {c360['next_action']} · due "
            f"{fmt_time(c360['next_action_due_at'])} UTC · owner {fmt_text(c360['owner'])}"
        )
    left, right = st.columns([1, 1])
    with left:
        st.markdown("**Last interactions** (latest first)")
        text = "" if _is_null(c360["last_interactions"]) else str(c360["last_interactions"])
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
    return "not reached" if _is_null(value) else fmt_time(value)


# --- Orchestrator queue ---------------------------------------------------------------

PRIORITIES = {1: "Urgent", 2: "High", 3: "Normal"}
ALL = "All"
UNASSIGNED = "Unassigned"


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
    st.caption(
        "The contacts that need a person (`marts.rpt_orchestrator_queue`), by priority "
        f"(1 urgent, 2 high, 3 normal), then due date. {as_of_caption(as_of)} An item is "
        "overdue when its due date is before that."
    )
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
    items = reader.frame(
        "select priority, due_at, title, recommended_action, email, "
        "coalesce(due_at < ?, false) as is_overdue, orchestrator, owner_department, "
        f"lifecycle_state, queue_type from {queue} {where} "
        "order by priority, due_at, email, queue_type",
        [as_of, *params],
    )
    cards = [("Open items", len(items))]
    cards += [
        (f"{name} ({p})", int((items["priority"] == p).sum())) for p, name in PRIORITIES.items()
    ]
    cards += [("Overdue", int(items["is_overdue"].sum()) if as_of is not None else None)]
    for column, (label, value) in zip(st.columns(len(cards)), cards, strict=True):
        column.metric(label, fmt_int(value), border=True)
    if items.empty:
        st.success("Nothing in the queue for this selection.")
        return

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

    st.subheader("Items, by priority then due date")
    show_numbered(
        items.assign(is_overdue=items["is_overdue"].map({True: "overdue", False: "no"}))[
            ["priority", "due_at", "is_overdue", "title", "recommended_action", "email",
             "orchestrator", "owner_department"]
        ].rename(
            columns={
                "priority": "Priority",
                "due_at": "Due (UTC)",
                "is_overdue": "Overdue",
                "title": "Item",
                "recommended_action": "Recommended action",
                "email": "Contact",
                "orchestrator": "Orchestrator",
                "owner_department": "Department",
            }
        ),
        Priority=fmt_int,
        **{"Due (UTC)": fmt_time},
    )  # fmt: skip


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
    cards = [("Due contacts", len(due))]
    cards += [(f"via {channel}", int(n)) for channel, n in channels.items()]
    for column, (label, value) in zip(st.columns(len(cards)), cards, strict=True):
        column.metric(label, fmt_int(value), border=True)

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
    for column, (label, value) in zip(st.columns(len(cards)), cards, strict=True):
        column.metric(label, value, border=True)

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


# --- Marts shown as stored (no dedicated view yet) ----------------------------------


def show_mart_rows(reader: Reader, name: str, limit: int = 1000) -> None:
    """A mart without a dedicated view yet: its rows as stored."""
    st.caption(f"`{reader.rel(name)}` as stored (first {limit:,} rows).")
    st.dataframe(
        reader.frame(f"select * from {reader.rel(name)} limit {int(limit)}"),
        hide_index=True,
        width="stretch",
    )


def planned_page(
    title: str, url_path: str, section: str, mart: str, built_by: str, icon: str, about: str
) -> None:
    """A page for a mart that has no dedicated view yet: its rows as stored."""
    page(title, url_path, section, mart, built_by=built_by, icon=icon, about=about)(
        lambda reader: show_mart_rows(reader, mart)
    )


planned_page(
    "Cohort heatmap",
    "cohorts",
    "Cohorts and campaigns",
    "marts.rpt_cohorts",
    "cohorts and stage velocity",
    ":material/grid_on:",
    "signup-month cohorts by months since signup, with the share that reached MQL, SQL "
    "and Customer",
)
planned_page(
    "Stage velocity",
    "velocity",
    "Cohorts and campaigns",
    "marts.rpt_stage_velocity",
    "cohorts and stage velocity",
    ":material/speed:",
    "median and 75th-percentile days between stages, by channel",
)
planned_page(
    "Campaign performance",
    "campaigns",
    "Cohorts and campaigns",
    "marts.rpt_campaign_performance",
    "campaign performance",
    ":material/mail:",
    "per campaign and sequence step: sent, delivered, opened, clicked, replied, bounced, "
    "complained, unsubscribed and conversions",
)


# --------------------------------------------------------------------------- the app


def show(page: Page, settings: Settings) -> None:
    """Render one page; a missing mart or an unreachable warehouse is a plain message."""
    st.title(page.title)
    try:
        target = load_target(settings.profiles_dir, settings.target)
    except FunnelError as exc:
        st.warning(f"Cannot find the warehouse: {exc}")
        return
    try:
        with open_reader(target, settings) as reader:
            missing = page.missing(reader)
            if missing:
                st.info(not_built_message(page, missing, reader))
                return
            page.render(reader)
    except FunnelError as exc:
        st.warning(f"Cannot read the marts: {exc}")
    except Exception as exc:  # a page must never show a traceback
        st.warning(f"Cannot read this page's data from {target.describe()}: {one_line(exc)}")


def sidebar(settings: Settings) -> None:
    with st.sidebar:
        try:
            target = load_target(settings.profiles_dir, settings.target)
        except FunnelError:
            return
        st.caption(f"Target `{target.target}`: {target.describe()}")


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_settings(sys.argv[1:] if argv is None else argv)
    st.set_page_config(page_title=APP_TITLE, page_icon=":material/filter_alt:", layout="wide")
    sections: dict[str, list[Any]] = {}
    for index, registered in enumerate(PAGES):

        def view(registered: Page = registered) -> None:
            show(registered, settings)

        view.__name__ = f"page_{registered.url_path}"
        sections.setdefault(registered.section, []).append(
            st.Page(
                view,
                title=registered.title,
                url_path=registered.url_path,
                icon=registered.icon or None,
                default=index == 0,
            )
        )
    current = st.navigation(sections)
    sidebar(settings)
    current.run()


if __name__ == "__main__":
    main()
