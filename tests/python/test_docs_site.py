"""The dbt docs site, generated for real and opened in a real browser.

``dbt docs generate`` writes the site into a temporary target directory, which is served the
way ``make docs`` serves it (``python -m http.server`` over the target directory: the
static ``index.html`` + ``manifest.json`` + ``catalog.json`` that ``dbt docs serve`` also
serves), and headless Chromium opens it: the app and its lineage graph load, the overview
is the project's own (a ``__overview__`` docs block headed "crm-funnel"), and searching for
``rpt_funnel`` opens the model with its description. Screenshots land in
``target/screenshots/docs-*.png``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, free_port, require_chromium, screenshot, serve, wait_for
from conftest import TARGET, ProfileRef, run_dbt, write_profiles

# One xdist worker runs this module: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("docs_site")

MODEL = "model.crm_funnel.rpt_funnel"
OVERVIEW_HEADING = "crm-funnel"

HEADINGS_JS = """
return Array.from(document.querySelectorAll('h1, h2, h3'))
  .filter(h => h.offsetParent !== null)
  .map(h => h.innerText.trim());
"""

CANVAS_DRAWN_JS = """
return Array.from(document.querySelectorAll('canvas')).some(c => {
  if (!c.width || !c.height || c.offsetParent === null) return false;
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < data.length; i += 4) if (data[i]) return true;
  return false;
});
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output of the real ``dbt docs generate`` (on a fresh DuckDB file)."""
    require_chromium()  # fail before spending time on dbt
    work = tmp_path_factory.mktemp("docs")
    path = work / "crm_funnel.duckdb"
    ref = ProfileRef(write_profiles(work / "profiles", "duckdb", path=path), TARGET, "duckdb",
                     {"path": path})  # fmt: skip
    run_dbt(ref, "docs", "generate", work_dir=work, artifacts=True)
    target = work / "target"
    for name in ("index.html", "manifest.json", "catalog.json"):
        assert (target / name).is_file(), f"dbt docs generate wrote no {name}"
    return target


@pytest.fixture(scope="module")
def docs_url(site: Path) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable, "-m", "http.server", str(port),
        "--bind", "127.0.0.1", "--directory", str(site),
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with serve(command, f"{url}/index.html", site.parent / "http.log"):
        yield url


@pytest.fixture(scope="module")
def driver(docs_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium")) as browser:
        yield browser


def open_overview(driver: Any, docs_url: str) -> None:
    driver.get("about:blank")  # a fresh load of the app, not just a change of the #! route
    driver.get(f"{docs_url}/#!/overview")
    wait_for(
        driver,
        lambda d: (
            d.title == "dbt Docs"
            and d.find_elements("css selector", "a[title='View Lineage Graph']")
            and "crm_funnel" in d.find_element("css selector", "body").text
            and d.execute_script(HEADINGS_JS)
        ),
        30,
        lambda: f"the docs app to load (title {driver.title!r})",
    )


def body_text(driver: Any) -> str:
    return " ".join(driver.find_element("css selector", "body").text.split())


def test_docs_app_and_lineage_graph_load(driver: Any, docs_url: str) -> None:
    open_overview(driver, docs_url)
    assert driver.title == "dbt Docs"
    text = body_text(driver)
    for part in ("Project", "Database", "Sources", "crm_funnel"):
        assert part in text, f"the docs navigation shows no {part!r}"
    driver.find_element("css selector", "a[title='View Lineage Graph']").click()
    wait_for(
        driver,
        lambda d: "Lineage Graph" in body_text(d) and d.execute_script(CANVAS_DRAWN_JS),
        30,
        "the lineage graph to draw",
    )
    screenshot(driver, "docs-lineage")


def test_docs_overview_is_the_projects(driver: Any, docs_url: str) -> None:
    open_overview(driver, docs_url)
    headings = driver.execute_script(HEADINGS_JS)
    screenshot(driver, "docs-overview", ".app-scroll")
    assert any(re.match(rf"{re.escape(OVERVIEW_HEADING)}\b", h) for h in headings), (
        f"the docs overview page has no heading {OVERVIEW_HEADING!r} (headings: {headings}): "
        "add a {% docs __overview__ %} block starting with '# crm-funnel' to the project's "
        "docs (e.g. models/overview.md)"
    )


def test_searching_rpt_funnel_opens_its_description(driver: Any, docs_url: str, site: Path) -> None:
    manifest = json.loads((site / "manifest.json").read_text())
    description = " ".join(manifest["nodes"][MODEL]["description"].replace("`", "").split())
    assert description, "rpt_funnel has no description in the manifest"

    open_overview(driver, docs_url)
    driver.find_element("css selector", "input#search").send_keys("rpt_funnel")
    result = wait_for(
        driver,
        lambda d: d.find_elements("css selector", f".search-result[href='#!/model/{MODEL}']"),
        30,
        "a search result for rpt_funnel",
    )
    result[0].click()
    wait_for(
        driver,
        lambda d: (
            d.current_url.endswith(f"/model/{MODEL}")
            and any(h.startswith("rpt_funnel") for h in d.execute_script(HEADINGS_JS))
            and description in body_text(d)
        ),
        30,
        lambda: f"the rpt_funnel page with its description; it shows: {body_text(driver)[:1500]}",
    )
    assert "one row per stage" in description
    screenshot(driver, "docs-rpt_funnel", ".app-scroll")
