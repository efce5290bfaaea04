"""The crm-funnel dashboard: a Streamlit app over the marts of the configured dbt target.

Run it with ``make dashboard``, or::

    streamlit run loaders/crm_funnel/serve/dashboard/app.py [-- --profiles-dir DIR
        --target NAME --marts-schema marts --raw-schema raw --inbox-dir data/inbox]

It reads the same ``profiles.yml`` as dbt and ``funnel-load`` (``--profiles-dir`` /
``DBT_PROFILES_DIR``, ``--target`` / ``DBT_TARGET``), DuckDB read-only and one short
connection per page view, so ``dbt build`` can run while the dashboard is open.

This module is the app shell (settings, navigation, ``main``). Each page is a small
function made a :class:`~crm_funnel.serve.dashboard.reader.Page` by ``page``, which names
the tables it reads; when one of them is not in the warehouse the page says, in plain
words, which mart it needs and that it is not built yet, instead of failing. The pages
live by user in ``funnel``, ``lifecycle``, ``contacts``, ``queue``, ``operations`` and
``stored``; ``reader`` holds what they share.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from crm_funnel.errors import FunnelError
from crm_funnel.ingest.actions import DEFAULT_INBOX
from crm_funnel.serve.dashboard import contacts, funnel, lifecycle, operations, queue, stored
from crm_funnel.serve.dashboard.reader import Page, Settings, not_built_message, open_reader
from crm_funnel.warehouse.connections import one_line
from crm_funnel.warehouse.profile import load_target

APP_TITLE = "crm-funnel"
# The navigation, in order; the first page is the default.
PAGES: tuple[Page, ...] = (
    *funnel.PAGES,
    *lifecycle.PAGES,
    *contacts.PAGES,
    *queue.PAGES,
    *operations.PAGES,
    *stored.PAGES,
)


def parse_settings(argv: Sequence[str]) -> Settings:
    """Where the marts are: flags after ``--`` on the streamlit command line, else env."""
    parser = argparse.ArgumentParser(prog="crm_funnel.serve.dashboard", add_help=False)
    parser.add_argument("--profiles-dir", default=None)
    parser.add_argument("--target", default=os.environ.get("DBT_TARGET") or None)
    parser.add_argument("--marts-schema", default="marts")
    parser.add_argument("--raw-schema", default="raw")
    parser.add_argument("--inbox-dir", default=str(DEFAULT_INBOX))
    args, _ = parser.parse_known_args(list(argv))
    return Settings(
        args.profiles_dir, args.target, args.marts_schema, args.raw_schema, Path(args.inbox_dir)
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
