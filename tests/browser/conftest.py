"""Browser-test fixtures: the app served the `make run` way, and Debian's chromium via playwright.

Every test in this folder gets the ``browser`` mark. Without chromium these tests are skipped,
except when ``CI=true``: there they fail, so CI can never pass without running them.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.helpers import screenshot
from tests.browser.server import ServerError, serve, tail

HERE = Path(__file__).resolve().parent
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
        report.sections.append(("streamlit server log (tail)", tail(log)))
    page = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and page is not None and not page.is_closed():
        try:
            path = screenshot(page, f"FAILED-{item.name}")
            report.sections.append(("screenshot", str(path)))
        except Exception as exc:  # noqa: BLE001 - a broken page must not hide the real failure
            report.sections.append(("screenshot", f"could not be taken: {exc}"))


@pytest.fixture(scope="session")
def app_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the app, started by ``scripts/serve`` exactly as ``make run`` starts it."""
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    request.config.stash[SERVER_LOG] = log
    try:
        with serve(tmp_path_factory.mktemp("app_home"), log) as (_, url):
            yield url
    except ServerError as exc:
        pytest.fail(str(exc))


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
