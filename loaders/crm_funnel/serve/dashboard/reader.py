"""What every dashboard page shares: the read-only ``Reader``, the page registry, the
formatting helpers and the widgets (tables, metric cards).

The dashboard holds no business logic: every figure it shows is a value of a mart (or of
``raw.loads``), formatted for reading; it never recomputes a rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from crm_funnel.ingest.actions import DEFAULT_INBOX
from crm_funnel.warehouse.connections import Session, read_only_session
from crm_funnel.warehouse.profile import Target

MISSING = "–"  # shown for a null value (an en dash, so it never reads as a minus sign)
ENTRY = "(entry)"  # the "from" state of a contact's first lifecycle state
LIST_LIMIT = 200  # rows of a long list shown as a static table

# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Settings:
    """Where the marts are: flags after ``--`` on the streamlit command line, else env."""

    profiles_dir: str | None
    target: str | None
    marts_schema: str
    raw_schema: str
    inbox: Path = DEFAULT_INBOX  # where queue actions go when the warehouse is busy


class Reader:
    """Read-only queries on one open session; ``?`` placeholders on every engine."""

    def __init__(self, target: Target, session: Session, settings: Settings) -> None:
        self.target = target
        self.settings = settings
        self._session = session
        self._tables: set[str] | None = None

    def rel(self, name: str) -> str:
        """``marts.x`` / ``raw.x`` with the configured schema names."""
        schema, _, table = name.partition(".")
        schema = {"marts": self.settings.marts_schema, "raw": self.settings.raw_schema}[schema]
        return f"{schema}.{table}"

    def tables(self) -> set[str]:
        """``schema.table`` of every table and view in the marts and raw schemas."""
        if self._tables is None:
            schemas = [self.settings.marts_schema, self.settings.raw_schema]
            rows = self.rows(self._session.catalog_sql, schemas)
            self._tables = {f"{schema}.{table}" for schema, table in rows}
        return self._tables

    def has(self, name: str) -> bool:
        return self.rel(name) in self.tables()

    def columns(self, name: str) -> list[str]:
        """The column names of a table (``marts.x`` / ``raw.x``)."""
        return self._session.run(f"select * from {self.rel(name)} where 1 = 0", [])[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._session.run(sql, params)[1]

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        columns, rows = self._session.run(sql, params)
        return pd.DataFrame.from_records(rows, columns=columns)


@contextmanager
def open_reader(target: Target, settings: Settings) -> Iterator[Reader]:
    with read_only_session(target, "funnel-dashboard") as session:
        yield Reader(target, session, settings)


def build_as_of(reader: Reader) -> Any:
    """The ``as_of`` of the build (``dim_contacts.state_as_of``): "now" for every page."""
    return reader.rows(f"select max(state_as_of) from {reader.rel('marts.dim_contacts')}")[0][0]


def as_of_caption(as_of: Any) -> str:
    return f"As of {fmt_time(as_of)} UTC (the build's `as_of`)."


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


def page(
    title: str,
    url_path: str,
    section: str,
    *reads: str,
    built_by: str = "",
    icon: str = "",
    about: str = "",
) -> Callable[[Callable[[Reader], None]], Page]:
    """Make a page function that reads the tables ``reads`` (``marts.x`` / ``raw.x``) a Page.

    ``built_by`` names the issue that builds a mart the page needs, ``about`` says what the
    page will show: both are only used in the "not built yet" message.
    """

    def make(render: Callable[[Reader], None]) -> Page:
        return Page(title, url_path, section, tuple(reads), render, built_by, icon, about)

    return make


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


# --------------------------------------------------------------------------- formatting


def fmt_int(value: Any) -> str:
    return MISSING if is_null(value) else f"{int(value):,}"


def fmt_pct(value: Any) -> str:
    return MISSING if is_null(value) else f"{100 * float(value):.1f}%"


def fmt_num(value: Any) -> str:
    return MISSING if is_null(value) else f"{float(value):,.2f}"


def fmt_time(value: Any) -> str:
    if is_null(value):
        return MISSING
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def fmt_day(value: Any) -> str:
    return fmt_time(value.date() if isinstance(value, datetime) else value)


def fmt_text(value: Any) -> str:
    return MISSING if is_null(value) or value == "" else str(value)


def is_null(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- widgets


def metric_cards(
    cards: Sequence[tuple[str, str]], tooltip: Callable[[str], str] | None = None
) -> None:
    """One row of bordered metric cards, one per (label, formatted value); ``tooltip`` gives
    a card's tooltip from its label."""
    for column, (label, value) in zip(st.columns(len(cards)), cards, strict=True):
        column.metric(label, value, help=tooltip(label) if tooltip else None, border=True)


def show_table(frame: pd.DataFrame, **formats: Callable[[Any], str]) -> None:
    """A static table (the values as text, formatted per column), first column as labels."""
    shown = frame.copy()
    for column in shown.columns:
        shown[column] = shown[column].map(formats.get(column, fmt_text))
    st.table(shown.set_index(shown.columns[0]))


def show_numbered(frame: pd.DataFrame, **formats: Callable[[Any], str]) -> None:
    """A list as a static table numbered 1.., at most ``LIST_LIMIT`` rows (a note says so)."""
    if len(frame) > LIST_LIMIT:
        st.caption(f"The first {LIST_LIMIT:,} of {len(frame):,}.")
    shown = frame.head(LIST_LIMIT).copy()
    shown.insert(0, "#", range(1, len(shown) + 1))
    show_table(shown, **{"#": str}, **formats)


def show_mart_rows(reader: Reader, name: str, limit: int = 1000) -> None:
    """A mart's rows as stored (the first ``limit``)."""
    st.caption(f"`{reader.rel(name)}` as stored (first {limit:,} rows).")
    st.dataframe(
        reader.frame(f"select * from {reader.rel(name)} limit {int(limit)}"),
        hide_index=True,
        width="stretch",
    )
