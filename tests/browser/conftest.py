"""Browser-test fixtures: the app served the `make run` way, and Debian's chromium via playwright.

Every test in this folder gets the ``browser`` mark. Without chromium these tests are skipped,
except when ``CI=true``: there they fail, so CI can never pass without running them.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.helpers import screenshot

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
STARTUP_TIMEOUT_S = 120
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_LOG = pytest.StashKey[Path]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder as a browser test."""
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """On a failed browser test: add the server log's tail to the report and save a screenshot."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    log = item.config.stash.get(SERVER_LOG, None)
    if log is not None and log.exists():
        report.sections.append(("streamlit server log (tail)", _tail(log)))
    page = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and page is not None and not page.is_closed():
        try:
            path = screenshot(page, f"FAILED-{item.name}")
            report.sections.append(("screenshot", str(path)))
        except Exception as exc:  # noqa: BLE001 - a broken page must not hide the real failure
            report.sections.append(("screenshot", f"could not be taken: {exc}"))


def _tail(path: Path, lines: int = 80) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    """Wait until ``/_stcore/health`` answers ``ok``; fail with the server log otherwise."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the app exited with code {server.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as reply:
                if reply.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"the app was not healthy after {STARTUP_TIMEOUT_S} s:\n{_tail(log)}")


def _stop(server: subprocess.Popen) -> None:
    """Stop the server and anything it started (it leads its own process group)."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.fixture(scope="session")
def app_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of the app, started by ``scripts/serve`` exactly as ``make run`` starts it."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    request.config.stash[SERVER_LOG] = log
    env = {
        **os.environ,
        "PORT": str(port),
        "ADDRESS": "127.0.0.1",
        "PYTHON": sys.executable,
        "CNNVIZ_HOME": str(tmp_path_factory.mktemp("app_home")),
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(ROOT / "scripts" / "serve")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, log)
        yield url
    finally:
        _stop(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium (never a playwright-downloaded one)."""
    executable = shutil.which("chromium")
    if executable is None:
        message = "chromium is not installed (`make test` installs Debian's chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: CI must run the browser tests")
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh 1280x720 page in its own browser context."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        yield context.new_page()
    finally:
        context.close()
