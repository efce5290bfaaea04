"""The Streamlit dashboard, end to end in a real browser.

A small data set (``funnel-generate --events 2000 --seed 3``) is loaded with the real
``funnel-load`` into a fresh DuckDB file and built with the real ``dbt build``; the real
``streamlit run`` serves the dashboard on a free loopback port with ``DBT_PROFILES_DIR`` /
``DBT_TARGET`` pointing at that profile, and headless Chromium walks every page through
the sidebar. Each page must show the marts' own values (read here straight from the
DuckDB file), no error text, and the pages of marts that are not built yet must say so.
A screenshot of each page lands in ``target/screenshots/dashboard-<page>.png``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import (
    REPO_ROOT,
    chromium,
    free_port,
    require_chromium,
    screenshot,
    serve,
    wait_for,
)
from conftest import (
    MODELS_ONLY,
    TARGET,
    ProfileRef,
    execute,
    fetch,
    run_dbt,
    run_funnel_load,
    write_profiles,
)
from crm_funnel.serve.dashboard import app as dashboard

# One xdist worker runs this module: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("dashboard")

AS_OF = "2026-07-01T00:00:00Z"
APP = REPO_ROOT / "loaders" / "crm_funnel" / "serve" / "dashboard" / "app.py"
STREAMLIT = Path(sys.executable).with_name("streamlit")
BAD_WORDS = ("Traceback", "Error", "Exception")
PAGES = {p.title: p for p in dashboard.PAGES}
BUILT = (
    "Funnel",
    "Channel effectiveness",
    "Intent by source",
    "Lifecycle",
    "Contact search",
    "Orchestrator queue",
    "Nurture lists",
    "Data quality",
)
AS_STORED = ("Cohort heatmap", "Stage velocity", "Campaign performance")
AS_OF_SQL = "(select max(state_as_of) from marts.dim_contacts)"  # the build's as_of


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> ProfileRef:
    """A fresh DuckDB file: 2,000 generated events, loaded and built (as_of pinned)."""
    require_chromium()  # fail before spending time on the build
    work = tmp_path_factory.mktemp("dashboard")
    path = work / "crm_funnel.duckdb"
    ref = ProfileRef(write_profiles(work / "profiles", "duckdb", path=path), TARGET, "duckdb",
                     {"path": path})  # fmt: skip
    events = work / "events.ndjson"
    generated = subprocess.run(
        [sys.executable, "-m", "crm_funnel.devtools.generate", "--events", "2000", "--seed", "3",
         "--out", str(events), "--quiet"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    loaded = run_funnel_load(events, *ref.cli_args())
    assert loaded.returncode == 0, loaded.stderr
    run_dbt(ref, "build", *MODELS_ONLY, work_dir=work, dbt_vars={"as_of": AS_OF})
    return ref


@pytest.fixture(scope="module")
def expected(warehouse: ProfileRef) -> dict[str, Any]:
    """The marts' values, read before the dashboard starts (DuckDB allows one writer)."""
    ref = warehouse
    contact = fetch(
        ref,
        """
        select c.contact_id, c.email, c.funnel_stage, c.nurture_track, c.first_touch_channel,
               c.intent_score, c.events_total, c.became_lead_at,
               (select count(*) from marts.fct_activities a where a.contact_id = c.contact_id)
        from marts.dim_contacts c
        where c.stage_order >= 3
          and not exists (select 1 from marts.dim_contacts o
                          where o.email <> c.email and strpos(o.email, c.email) > 0)
        order by exists (select 1 from marts.rpt_orchestrator_queue q
                         where q.contact_id = c.contact_id) desc,
                 c.events_total desc, c.email
        limit 1
        """,
    )[0]
    domain = "@" + contact[1].split("@", 1)[1]
    return {
        **lifecycle_expected(ref, contact[0]),
        **queue_expected(ref),
        **nurture_expected(ref),
        "funnel": fetch(
            ref,
            "select funnel_stage, contacts_current, contacts_reached, conversion_to_next, "
            "drop_off_rate from marts.rpt_funnel order by stage_order",
        ),
        "channels": fetch(
            ref,
            "select first_touch_channel, funnel_stage, stage_order, contacts_reached, "
            "conversion_from_lead from marts.rpt_channel_effectiveness",
        ),
        "intent": fetch(
            ref,
            "select lead_source, contacts, avg_intent_score, median_intent_score "
            "from marts.rpt_intent_by_source",
        ),
        "contact": dict(
            zip(
                [
                    "contact_id",
                    "email",
                    "stage",
                    "track",
                    "first_touch",
                    "intent_score",
                    "events_total",
                    "became_lead_at",
                    "activities",
                ],
                contact,
                strict=True,
            )
        ),  # fmt: skip
        "domain": domain,
        "domain_matches": fetch(
            ref, "select count(*) from marts.dim_contacts where strpos(email, ?) > 0", [domain]
        )[0][0],
        "loads": fetch(
            ref, "select events_loaded from raw.loads order by started_at desc, load_id"
        ),
        "quarantine": dict(
            fetch(
                ref,
                "select rejection_reason, count(*) from marts.fct_quarantined_events "
                "group by rejection_reason",
            )
        ),
    }


def lifecycle_expected(ref: ProfileRef, contact_id: str) -> dict[str, Any]:
    """Lifecycle figures, computed here from the core tables (not from the page's marts)."""
    first_queue_item = fetch(
        ref,
        "select recommended_action, due_at, orchestrator from marts.rpt_orchestrator_queue "
        "where contact_id = ? order by priority, due_at, queue_type limit 1",
        [contact_id],
    )
    return {
        "states": {
            (state, funnel or "No funnel"): n
            for state, funnel, n in fetch(
                ref,
                "select lifecycle_state, lifecycle_funnel, count(*) from marts.dim_contacts "
                "group by all",
            )
        },
        # every transition from the fact table, grouped here (not read from the summary)
        "moves": fetch(
            ref,
            "select coalesce(from_state, '(entry)') || ' → ' || to_state, trigger, count(*), "
            "count(distinct contact_id) from marts.fct_lifecycle_transitions group by all",
        ),
        "recent": fetch(
            ref,
            "select t.transitioned_at, c.email, coalesce(t.from_state, '(entry)'), t.to_state, "
            "t.trigger from marts.rpt_lifecycle_movements t "
            "join marts.dim_contacts c using (contact_id) "
            "order by t.transitioned_at desc, c.email, t.to_state",
        ),
        "contact_lifecycle": fetch(
            ref,
            "select lifecycle_state, lifecycle_funnel, "
            "(select count(*) from marts.rpt_orchestrator_queue q "
            " where q.contact_id = c.contact_id) "
            "from marts.dim_contacts c where contact_id = ?",
            [contact_id],
        )[0],
        "contact_next": first_queue_item[0] if first_queue_item else None,
        "contact_transitions": fetch(
            ref,
            "select transition_number, coalesce(from_state, '(entry)'), to_state, trigger "
            "from marts.fct_lifecycle_transitions where contact_id = ? "
            "order by transitioned_at",
            [contact_id],
        ),
        "contact_latest": fetch(
            ref,
            "select event_at, event_type from marts.fct_activities where contact_id = ? "
            "order by event_at desc, activity_id desc limit 1",
            [contact_id],
        )[0],
    }


QUEUE_BUCKETS = ("today", "backlog", "snoozed", "escalated")  # the page's lists, in order


def queue_expected(ref: ProfileRef) -> dict[str, Any]:
    """The queue's counts per department / orchestrator / priority / type, by SQL; the item
    lists as the page shows them: one per work_bucket once the mart has it (issue 17)."""
    bucketed = fetch(
        ref,
        "select count(*) from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'rpt_orchestrator_queue' and column_name = 'work_bucket'",
    )[0][0]
    lists = []
    for bucket in QUEUE_BUCKETS if bucketed else (None,):
        rows = fetch(
            ref,
            "select priority, strftime(due_at, '%Y-%m-%d %H:%M'), "
            f"case when due_at < {AS_OF_SQL} then 'overdue' else 'no' end, "
            "title, recommended_action, email from marts.rpt_orchestrator_queue "
            + ("where work_bucket = ? " if bucket else "")
            + "order by priority, due_at, email, queue_type",
            [bucket] if bucket else None,
        )
        if rows:
            lists.append(rows)
    return {
        "queue": fetch(
            ref,
            "select owner_department, coalesce(orchestrator, 'Unassigned'), priority, title, "
            f"due_at < {AS_OF_SQL} from marts.rpt_orchestrator_queue",
        ),
        "queue_items": lists,
    }


def nurture_expected(ref: ProfileRef) -> dict[str, Any]:
    """Due contacts per track and per channel of the track, by SQL."""
    return {
        "nurture_tracks": dict(
            fetch(ref, "select nurture_track, count(*) from marts.rpt_nurture_lists group by 1")
        ),
        "nurture_cells": {
            (track, channel): n
            for track, channel, n in fetch(
                ref,
                "select nurture_track, channel, count(*) from ("
                "  select nurture_track, unnest(string_split(channels, '|')) as channel"
                "  from marts.rpt_nurture_lists) group by all",
            )
        },
    }


@pytest.fixture(scope="module")
def app_url(
    warehouse: ProfileRef, expected: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The real ``streamlit run`` on a free loopback port; stopped at the end."""
    work = tmp_path_factory.mktemp("streamlit")
    port = free_port()
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(warehouse.profiles_dir),
        "DBT_TARGET": warehouse.target,
        "HOME": str(work),  # no ~/.streamlit of the machine
    }
    command = [
        STREAMLIT, "run", APP,
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with serve(command, f"{url}/_stcore/health", work / "streamlit.log", env=env, cwd=work):
        yield url


@pytest.fixture(scope="module")
def driver(app_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium")) as browser:
        browser.get(app_url)
        wait_for(browser, lambda d: _sidebar_links(d), 60, "the dashboard's sidebar")
        yield browser


# --------------------------------------------------------------------------- page helpers


def _sidebar_links(driver: Any) -> dict[str, Any]:
    links = driver.find_elements("css selector", "[data-testid='stSidebarNavLink']")
    titles = {}
    for link in links:
        text = link.text.strip().splitlines()
        if text:
            titles[text[-1].strip()] = link  # the icon's ligature name comes first
    return titles


def _idle(driver: Any) -> bool:
    return bool(
        driver.find_elements(
            "css selector", "[data-testid='stApp'][data-test-script-state='notRunning']"
        )
    )


def main_text(driver: Any) -> str:
    return driver.find_element("css selector", "[data-testid='stMain']").text


def open_page(driver: Any, title: str, ready: str) -> str:
    """Click ``title`` in the sidebar; wait until the page shows ``ready``; return its text."""
    _sidebar_links(driver)[title].click()
    wait_for(
        driver,
        lambda d: (
            _idle(d)
            and d.find_element("css selector", "[data-testid='stMain'] h1").text.strip() == title
            and ready in main_text(d)
        ),
        30,
        lambda: f"page {title!r} to show {ready!r}; it shows:\n{main_text(driver)[:2000]}",
    )
    return settled_text(driver)


def settled_text(driver: Any) -> str:
    """The main area's text once the script is idle and the text stopped changing."""
    last = None
    for _ in range(20):
        wait_for(driver, _idle, 30, "the dashboard to finish running")
        text = main_text(driver)
        if text == last:
            return text
        last = text
        time.sleep(0.3)
    return last or ""


def assert_clean(text: str, page: str) -> None:
    for word in BAD_WORDS:
        assert word not in text, f"page {page!r} shows {word!r}:\n{text[:3000]}"


def metrics(driver: Any) -> dict[str, str]:
    """``st.metric`` cards of the main area: label -> value text."""
    cards = {}
    for card in driver.find_elements(
        "css selector", "[data-testid='stMain'] [data-testid='stMetric']"
    ):
        label = card.find_element("css selector", "[data-testid='stMetricLabel']").text.strip()
        value = card.find_element("css selector", "[data-testid='stMetricValue']").text.strip()
        cards[label] = value
    return cards


TABLES_JS = """
return Array.from(document.querySelectorAll("[data-testid='stMain'] [data-testid='stTable'] table"))
  .map(t => Array.from(t.querySelectorAll('tr'))
    .map(r => Array.from(r.children).map(c => c.innerText.trim())));
"""


def tables(driver: Any) -> list[dict[str, dict[str, str]]]:
    """Every ``st.table`` of the main area as ``{first cell: {header: cell}}``."""
    out = []
    for rows in driver.execute_script(TABLES_JS):
        header, *body = [row for row in rows if any(row)]
        out.append({row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in body})
    return out


def table_with(driver: Any, column: str) -> dict[str, dict[str, str]]:
    for table in tables(driver):
        if table and column in next(iter(table.values())):
            return table
    pytest.fail(f"no table with a column {column!r} on the page:\n{main_text(driver)[:2000]}")


def table_rows(driver: Any, column: str) -> list[dict[str, str]]:
    """The rows, in order, of the ``st.table`` with ``column``; the first column is "label"."""
    return tables_rows(driver, column)[0]


def tables_rows(driver: Any, column: str) -> list[list[dict[str, str]]]:
    """The rows of every ``st.table`` with ``column``, in page order (see ``table_rows``)."""
    found = []
    for rows in driver.execute_script(TABLES_JS):
        header, *body = [row for row in rows if any(row)]
        header = ["label", *header[1:]]  # the label column's header cell is empty
        if column in header:
            found.append([dict(zip(header, row, strict=True)) for row in body])
    if not found:
        pytest.fail(f"no table with a column {column!r} on the page:\n{main_text(driver)[:2000]}")
    return found


def _selectbox(driver: Any, label: str) -> Any:
    """The input of the ``st.selectbox`` labelled ``label`` (a combobox named by the label)."""
    found = driver.find_elements(
        "css selector",
        f"[data-testid='stMain'] [data-testid='stSelectbox'] input[aria-label='{label}']",
    )
    return found[0] if found else None


def choose(driver: Any, label: str, option: str) -> str:
    """Pick ``option`` in the ``st.selectbox`` labelled ``label``; return the settled text."""
    wait_for(driver, _idle, 30, "the dashboard to be idle")
    wait_for(driver, lambda d: _selectbox(d, label), 30, f"a selectbox {label!r}").click()
    wanted = wait_for(
        driver,
        lambda d: [o for o in d.find_elements("css selector", "[role='option']")
                   if o.text.strip() == option],
        10,
        f"option {option!r} of {label!r}",
    )  # fmt: skip
    wanted[0].click()
    wait_for(
        driver,
        lambda d: _selectbox(d, label).get_attribute("value") == option,
        30,
        lambda: f"{label!r} to show {option!r}",
    )
    time.sleep(0.3)  # let the rerun start
    return settled_text(driver)


def count(text: str) -> int:
    return int(text.replace(",", ""))


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def num(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def shoot(driver: Any, page: str) -> None:
    screenshot(driver, f"dashboard-{PAGES[page].url_path}", "[data-testid='stMain']")


# --------------------------------------------------------------------------- tests


def test_every_page_names_the_tables_it_reads() -> None:
    assert set(PAGES) == set(BUILT) | set(AS_STORED)
    assert len({p.url_path for p in dashboard.PAGES}) == len(dashboard.PAGES)
    for page in dashboard.PAGES:
        assert page.reads, page.title
        assert all(name.split(".")[0] in ("marts", "raw") for name in page.reads), page.title
    for title in AS_STORED:
        assert PAGES[title].built_by, f"{title} must name the issue that builds its mart"


def test_funnel_page_shows_rpt_funnel(driver: Any, expected: dict[str, Any]) -> None:
    text = open_page(driver, "Funnel", "Reached (or beyond)")
    assert_clean(text, "Funnel")
    cards = metrics(driver)
    table = table_with(driver, "Reached (or beyond)")
    assert list(table) == [stage for stage, *_ in expected["funnel"]]
    for stage, current, reached, conversion, drop_off in expected["funnel"]:
        assert count(cards[stage]) == reached, stage
        row = table[stage]
        assert count(row["Reached (or beyond)"]) == reached, stage
        assert count(row["Contacts there now"]) == current, stage
        assert row["Conversion to next"] == pct(conversion), stage
        assert row["Drop-off"] == pct(drop_off), stage
    charts = "[data-testid='stMain'] .vega-embed canvas, [data-testid='stMain'] .vega-embed svg"
    assert driver.find_elements("css selector", charts), "no funnel chart on the page"
    shoot(driver, "Funnel")


def test_channel_page_shows_rpt_channel_effectiveness(
    driver: Any, expected: dict[str, Any]
) -> None:
    text = open_page(driver, "Channel effectiveness", "Conversion from lead")
    assert_clean(text, "Channel effectiveness")
    table = table_with(driver, "Leads")
    rows = expected["channels"]
    leads = {channel: reached for channel, _, order, reached, _ in rows if order == 1}
    assert {c: count(r["Leads"]) for c, r in table.items()} == leads
    for channel, stage, order, _, from_lead in rows:
        if order > 1:
            assert table[channel][f"to {stage}"] == pct(from_lead), (channel, stage)
    assert "CAC / LTV: needs the channel spend mart (issue: revenue analytics)" in text
    assert "not built yet" in text
    shoot(driver, "Channel effectiveness")


def test_intent_page_shows_rpt_intent_by_source(driver: Any, expected: dict[str, Any]) -> None:
    text = open_page(driver, "Intent by source", "Median intent")
    assert_clean(text, "Intent by source")
    table = table_with(driver, "Median intent")
    assert set(table) == {source for source, *_ in expected["intent"]}
    for source, contacts, avg, median in expected["intent"]:
        assert count(table[source]["Contacts"]) == contacts, source
        assert table[source]["Average intent"] == num(avg), source
        assert table[source]["Median intent"] == num(median), source
    shoot(driver, "Intent by source")


def _search(driver: Any, typed: str) -> None:
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element("css selector", "input[aria-label='Email, or part of it']")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(typed, Keys.ENTER)


def test_contact_search_shows_one_story(driver: Any, expected: dict[str, Any]) -> None:
    contact = expected["contact"]
    text = open_page(driver, "Contact search", "press Enter")
    assert_clean(text, "Contact search")

    # Part of an email: every contact of that domain matches.
    matches = expected["domain_matches"]
    _search(driver, expected["domain"].upper() + "  ")  # typed case and spaces do not matter
    if matches > 1:
        label = f"{'more than ' if matches > 50 else ''}{min(matches, 50)} contacts match"
        wait_for(driver, lambda d: label in main_text(d), 30, f"{label!r}")

    _search(driver, contact["email"])
    wait_for(
        driver,
        lambda d: _idle(d) and "Activity history" in main_text(d)
        and contact["email"] in main_text(d) and "contacts match" not in main_text(d),
        30,
        lambda: f"the story of {contact['email']}:\n{main_text(driver)[:2000]}",
    )  # fmt: skip
    text = settled_text(driver)
    assert_clean(text, "Contact search")
    cards = metrics(driver)
    assert cards["Stage"] == contact["stage"]
    assert cards["Nurture track"] == contact["track"]
    assert cards["First touch"] == contact["first_touch"]
    assert cards["Intent score"] == num(contact["intent_score"])
    assert count(cards["Activities"]) == contact["events_total"]
    assert f"Activity history ({contact['activities']:,} activities" in text
    assert contact["activities"] == contact["events_total"]
    stage_dates = table_with(driver, "Reached at (UTC)")
    assert stage_dates["Lead"]["Reached at (UTC)"] == contact["became_lead_at"].strftime(
        "%Y-%m-%d %H:%M"
    )
    assert stage_dates[contact["stage"]]["Reached at (UTC)"] != "not reached"

    # lifecycle state, next action, last interactions and transitions
    state, funnel, open_items = expected["contact_lifecycle"]
    assert cards["Lifecycle state"].startswith(state)
    assert f"Lifecycle funnel: {funnel or '–'}" in text
    assert count(cards["Open queue items"]) == open_items
    assert open_items > 0, "the chosen contact should have an open queue item"
    action, due_at, owner = expected["contact_next"]
    assert f"Next action: {action} · due {due_at:%Y-%m-%d %H:%M} UTC · owner {owner or '–'}" in text
    latest_at, latest_type = expected["contact_latest"]
    interactions = text.split("Last interactions (latest first)", 1)[1]
    assert interactions.lstrip().startswith(f"{latest_at:%Y-%m-%d %H:%M} {latest_type}")
    transitions = expected["contact_transitions"]
    assert transitions, "every contact has at least its entry transition"
    assert f"Lifecycle transitions ({len(transitions):,})" in text
    rows = table_rows(driver, "Trigger")
    assert [(count(r["label"]), r["From"], r["To"], r["Trigger"]) for r in rows] == transitions
    assert rows[-1]["To"] == state  # the current state is the last transition's
    shoot(driver, "Contact search")


def test_data_quality_page_shows_loads_and_quarantine(
    driver: Any, expected: dict[str, Any]
) -> None:
    text = open_page(driver, "Data quality", "Loads, latest first")
    assert_clean(text, "Data quality")
    cards = metrics(driver)
    assert count(cards["Loads"]) == len(expected["loads"])
    assert count(cards["Events it loaded"]) == expected["loads"][0][0]
    quarantine = expected["quarantine"]
    assert quarantine, "the generated data should have quarantined events"
    assert count(cards["Quarantined events"]) == sum(quarantine.values())
    table = table_with(driver, "Events")
    assert {reason: count(row["Events"]) for reason, row in table.items()} == quarantine
    shoot(driver, "Data quality")


@pytest.mark.parametrize("title", AS_STORED)
def test_pages_without_a_dedicated_view_show_their_mart(
    driver: Any, warehouse: ProfileRef, title: str
) -> None:
    (name,) = PAGES[title].reads
    text = open_page(driver, title, "as stored")
    assert_clean(text, title)
    assert f"{name} as stored" in text
    assert fetch(warehouse, f"select count(*) from {name}")[0][0] > 0, f"{name} is empty"
    shoot(driver, title)


def test_a_missing_mart_is_a_plain_message(driver: Any, warehouse: ProfileRef) -> None:
    """Take a built mart away: its page says which mart it needs instead of failing."""
    wait_for(driver, _idle, 30, "the dashboard to be idle")
    execute(warehouse, "alter table marts.rpt_intent_by_source rename to rpt_intent_hidden")
    try:
        open_page(driver, "Funnel", "Reached (or beyond)")
        text = open_page(driver, "Intent by source", "Not built yet.")
        assert_clean(text, "Intent by source")
        assert "needs the mart marts.rpt_intent_by_source" in text
    finally:
        wait_for(driver, _idle, 30, "the dashboard to be idle")
        execute(warehouse, "alter table marts.rpt_intent_hidden rename to rpt_intent_by_source")


def test_lifecycle_page_shows_states_and_movements(driver: Any, expected: dict[str, Any]) -> None:
    text = open_page(driver, "Lifecycle", "Recent movements")
    assert_clean(text, "Lifecycle")
    states = expected["states"]
    cards = metrics(driver)
    assert count(cards["Contacts"]) == sum(states.values())
    funnels = {funnel for _, funnel in states}
    for funnel in funnels:
        label = funnel if funnel == "No funnel" else f"{funnel} funnel"
        assert count(cards[label]) == sum(n for (_, f), n in states.items() if f == funnel)

    # lifecycle_state x lifecycle_funnel, as counted from dim_contacts
    matrix = table_with(driver, "Total")
    assert set(matrix) == {state for state, _ in states}
    for state, row in matrix.items():
        assert count(row["Total"]) == sum(n for (s, _), n in states.items() if s == state)
        for funnel in funnels:
            assert count(row[funnel]) == states.get((state, funnel), 0), (state, funnel)

    # from -> to by trigger: the summary equals the transitions grouped here
    moves = table_rows(driver, "Trigger")
    shown = sorted(
        (r["label"], r["Trigger"], count(r["Transitions"]), count(r["Contacts"])) for r in moves
    )
    assert shown == sorted(expected["moves"])
    total = sum(n for _, _, n, _ in expected["moves"])
    assert f"Every recorded transition ({total:,})" in text

    recent = expected["recent"]
    assert f"Recent movements ({len(recent):,})" in text
    if recent:
        rows = table_rows(driver, "Set by")
        assert [(r["When (UTC)"], r["Email"], r["From"], r["To"], r["Trigger"]) for r in rows] == [
            (at.strftime("%Y-%m-%d %H:%M"), *rest) for at, *rest in recent[:200]
        ]
    charts = "[data-testid='stMain'] .vega-embed canvas, [data-testid='stMain'] .vega-embed svg"
    assert driver.find_elements("css selector", charts), "no chart on the Lifecycle page"
    shoot(driver, "Lifecycle")


def _queue_shown(driver: Any, items: list[tuple[Any, ...]]) -> None:
    """The cards, the per-type table and the item list show exactly ``items``."""
    cards = metrics(driver)
    assert count(cards["Open items"]) == len(items)
    for priority, name in ((1, "Urgent"), (2, "High"), (3, "Normal")):
        assert count(cards[f"{name} ({priority})"]) == sum(1 for i in items if i[2] == priority)
    assert count(cards["Overdue"]) == sum(1 for i in items if i[4])
    per_type: dict[str, int] = {}
    for item in items:
        per_type[item[3]] = per_type.get(item[3], 0) + 1
    if items:
        table = table_with(driver, "Items")
        assert {title: count(row["Items"]) for title, row in table.items()} == per_type


def test_queue_page_shows_rpt_orchestrator_queue(driver: Any, expected: dict[str, Any]) -> None:
    text = open_page(driver, "Orchestrator queue", "Open items")
    assert_clean(text, "Orchestrator queue")
    queue = expected["queue"]
    assert queue, "the generated data should put contacts in the queue"
    assert "As of 2026-07-01 00:00 UTC" in text
    _queue_shown(driver, queue)

    # the lists (one per work bucket once the mart has them): by priority then due date,
    # with title, action, contact and overdue flag
    lists = [
        [(count(r["Priority"]), r["Due (UTC)"], r["Overdue"], r["Item"], r["Recommended action"],
          r["Contact"]) for r in rows]
        for rows in tables_rows(driver, "Recommended action")
    ]  # fmt: skip
    assert lists == [items[:200] for items in expected["queue_items"]]
    assert sum(map(len, expected["queue_items"])) == len(queue)
    for shown in lists:
        assert [p for p, *_ in shown] == sorted(p for p, *_ in shown)
    shoot(driver, "Orchestrator queue")

    # the department filter: only that department's items, counted again
    departments: dict[str, int] = {}
    for department, *_ in queue:
        departments[department] = departments.get(department, 0) + 1
    department = min(departments, key=lambda d: (departments[d], d))
    text = choose(driver, "Department", department)
    assert_clean(text, "Orchestrator queue")
    in_department = [item for item in queue if item[0] == department]
    _queue_shown(driver, in_department)
    rows = [row for rows in tables_rows(driver, "Recommended action") for row in rows]
    assert {r["Department"] for r in rows} == {department}
    assert len(rows) == len(in_department) != len(queue)

    # and the orchestrator filter within it
    orchestrator = sorted({item[1] for item in in_department})[0]
    text = choose(driver, "Orchestrator", orchestrator)
    assert_clean(text, "Orchestrator queue")
    _queue_shown(driver, [item for item in in_department if item[1] == orchestrator])
    shown = [row for rows in tables_rows(driver, "Recommended action") for row in rows]
    assert {r["Orchestrator"] for r in shown} == {orchestrator}
    choose(driver, "Department", "All")
    settled_text(driver)
    _queue_shown(driver, queue)


def test_nurture_page_shows_rpt_nurture_lists(driver: Any, expected: dict[str, Any]) -> None:
    text = open_page(driver, "Nurture lists", "Due contacts per track and channel")
    assert_clean(text, "Nurture lists")
    tracks, cells = expected["nurture_tracks"], expected["nurture_cells"]
    assert tracks, "the generated data should have contacts due a nurture touch"
    cards = metrics(driver)
    assert count(cards["Due contacts"]) == sum(tracks.values())
    channels = {channel for _, channel in cells}
    for channel in channels:
        n = sum(v for (_, c), v in cells.items() if c == channel)
        assert count(cards[f"via {channel}"]) == n, channel
    table = table_with(driver, "Due contacts")
    assert {track: count(row["Due contacts"]) for track, row in table.items()} == tracks
    for track, row in table.items():
        for channel in channels:
            assert count(row[channel]) == cells.get((track, channel), 0), (track, channel)
    shoot(driver, "Nurture lists")

    track = min(tracks, key=lambda t: (tracks[t], t))
    text = choose(driver, "Nurture track", track)
    assert_clean(text, "Nurture lists")
    assert count(metrics(driver)["Due contacts"]) == tracks[track]
    assert set(table_with(driver, "Due contacts")) == {track}
    choose(driver, "Nurture track", "All")
