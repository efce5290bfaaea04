"""Shared browser helpers for the end-to-end UI tests: Debian's Chromium driven by selenium.

Nothing here downloads a browser: the tests use ``/usr/bin/chromium`` and
``/usr/bin/chromedriver`` (Debian packages ``chromium`` and ``chromium-driver``) and fail,
not skip, when they are missing.

``require_chromium()``                 fail with the apt-get line when the binaries are missing
``chromium(tmp_dir)``                  context manager: a headless Chrome WebDriver (quit at exit)
``free_port()``                        a free TCP port on 127.0.0.1
``serve(command, url, ...)``           context manager: start a server process, wait until
                                       ``url`` answers, stop the process at exit
``wait_until_answers(url, ...)``       poll ``url`` until it answers HTTP 200
``wait_for(driver, condition, ...)``   poll a ``condition(driver)`` until it is truthy
``screenshot(driver, name, ...)``      save ``target/screenshots/<name>.png`` at the repo root
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "target" / "screenshots"

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

T = TypeVar("T")


def require_chromium() -> None:
    """Fail the test (never skip) when Debian's Chromium or chromedriver is missing."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: the browser tests need Debian's Chromium; "
            "install it with: apt-get install -y chromium chromium-driver",
            pytrace=False,
        )


@contextlib.contextmanager
def chromium(
    tmp_dir: str | os.PathLike[str] | None = None, width: int = 1440, height: int = 1000
) -> Iterator[Any]:
    """A headless Chromium WebDriver with a fresh profile; quit (and profile removed) at exit."""
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_dir))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    service = Service(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(60)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answers(
    url: str,
    timeout: float = 60,
    process: subprocess.Popen[Any] | None = None,
    log: Path | None = None,
) -> None:
    """Poll ``url`` until it answers 200; fail early (with the log's tail) if ``process`` died."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(
                f"the server for {url} exited with code {process.returncode} before answering:"
                f"\n{_tail(log)}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.25)
    pytest.fail(f"{url} did not answer within {timeout:.0f} s ({last}):\n{_tail(log)}")


@contextlib.contextmanager
def serve(
    command: Sequence[str | os.PathLike[str]],
    url: str,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` (output to ``log``), wait until ``url`` answers; stop it at exit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(part) for part in command],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
        )
    try:
        wait_until_answers(url, timeout=timeout, process=process, log=log)
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[Any], grace: float = 10) -> None:
    """Terminate the process we started (SIGTERM, then SIGKILL after ``grace`` seconds)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


def wait_for(
    driver: Any,
    condition: Callable[[Any], T],
    timeout: float = 30,
    message: str | Callable[[], str] = "condition",
    poll: float = 0.2,
) -> T:
    """Poll ``condition(driver)`` until it returns something truthy; fail with ``message``."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            value = condition(driver)
            if value:
                return value
        except Exception as exc:  # stale elements and the like: poll again
            last_exc = exc
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            extra = f" (last: {type(last_exc).__name__}: {last_exc})" if last_exc else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {text}{extra}")
        time.sleep(poll)


def screenshot(
    driver: Any, name: str, scroll_selector: str | None = None, max_height: int = 6000
) -> Path:
    """Save ``target/screenshots/<name>.png``; tall enough to show the whole scroll area.

    ``scroll_selector`` names the elements that scroll (Streamlit and the dbt docs scroll a
    block of the page, not the document); the window is made as tall as their content for
    the shot (at most ``max_height`` pixels), then the original size is restored.
    """
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    size = driver.get_window_size()
    script = """
        const scrollers = arguments[0] ? Array.from(document.querySelectorAll(arguments[0])) : [];
        let need = document.documentElement.scrollHeight;
        for (const el of scrollers) {
            need = Math.max(need, el.scrollHeight + window.innerHeight - el.clientHeight);
        }
        return [need, window.outerHeight - window.innerHeight];
    """
    need, chrome = driver.execute_script(script, scroll_selector)
    height = min(max(int(need) + int(chrome), size["height"]), max_height)
    try:
        if height != size["height"]:
            driver.set_window_size(size["width"], height)
            time.sleep(0.5)  # let the page lay out and charts redraw at the new size
        driver.save_screenshot(str(path))
    finally:
        if height != size["height"]:
            driver.set_window_size(size["width"], size["height"])
    return path


def _tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
