"""Playwright helpers for driving the Streamlit app (selectors checked against streamlit 1.67).

Streamlit marks its root element ``[data-testid="stApp"]`` with
``data-test-connection-state`` (``CONNECTED`` once the websocket is up) and
``data-test-script-state`` (``running`` while the page script runs, ``notRunning`` when done);
:func:`wait_idle` waits on those. Widgets are found by their label (the input's ``aria-label``).
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
MAX_SHOT_HEIGHT = 12_000

# Idle: connected, script not running, no "Running..." icon. The wait ends once the app has
# been idle for ``settleMs`` after a run seen during the wait, or for ``quietMs`` if no run was
# seen (a widget change is sent after a short debounce, so a rerun may start a little late).
# Pages with a live ``st.fragment(run_every=...)`` flip between running and idle all the time:
# the end of any seen run counts, so the wait still ends.
_IDLE = """([quietMs, settleMs]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = app !== null
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && document.querySelector('[data-testid="stStatusWidgetRunningIcon"]') === null;
  const now = performance.now();
  if (!idle) { window.__cnnvizIdleSince = null; window.__cnnvizSawRun = true; return false; }
  if (window.__cnnvizIdleSince == null) window.__cnnvizIdleSince = now;
  return now - window.__cnnvizIdleSince >= (window.__cnnvizSawRun ? settleMs : quietMs);
}"""


def wait_idle(
    page: Page, timeout: float = 60_000, quiet_ms: int = 500, settle_ms: int = 250
) -> None:
    """Wait until the app has finished its script run (see ``_IDLE`` for the rule)."""
    page.wait_for_timeout(150)  # let a just-changed widget send its rerun request
    page.evaluate("window.__cnnvizIdleSince = null; window.__cnnvizSawRun = false")
    try:
        page.wait_for_function(_IDLE, arg=[quiet_ms, settle_ms], timeout=timeout, polling=50)
    except PlaywrightTimeout:
        state = page.evaluate(
            """() => { const a = document.querySelector('[data-testid="stApp"]');
                       return a ? [a.getAttribute('data-test-connection-state'),
                                   a.getAttribute('data-test-script-state')] : null; }"""
        )
        raise AssertionError(
            f"app not idle after {timeout / 1000:.0f} s at {page.url} (connection, script): {state}"
        ) from None


def goto(page: Page, app_url: str, path: str = "", **query: object) -> None:
    """Open ``app_url/path?query`` and wait for the page script to finish."""
    url = f"{app_url.rstrip('/')}/{path.lstrip('/')}"
    if query:
        url += "?" + urlencode({key: str(value) for key, value in query.items()})
    page.goto(url)
    wait_idle(page)


def assert_no_exception(page: Page) -> None:
    """Fail if the page shows a Streamlit exception box or a traceback."""
    boxes = page.locator('[data-testid="stException"]')
    if boxes.count():
        raise AssertionError(f"exception shown at {page.url}:\n{boxes.first.inner_text()}")
    traceback = page.get_by_text(re.compile(r"\bTraceback\b"))
    if traceback.count():
        raise AssertionError(f"traceback shown at {page.url}:\n{traceback.first.inner_text()}")


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as ``artifacts/screenshots/<name>.png`` and return its path.

    Streamlit scrolls inside ``stMain``, not the document, so the viewport is made as tall
    as that content for the shot (at most ``MAX_SHOT_HEIGHT``) and restored afterwards.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate(
        """() => { const main = document.querySelector('[data-testid="stMain"]');
                   return main ? main.scrollHeight : 0; }"""
    )
    if size is None or height <= size["height"]:
        page.screenshot(path=str(path), full_page=True)
        return path
    page.set_viewport_size({"width": size["width"], "height": min(height, MAX_SHOT_HEIGHT)})
    try:
        page.wait_for_timeout(300)  # let charts re-layout to the new size
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(size)
    return path


def _widget(page: Page, testid: str, label: str) -> Locator:
    """The input of the ``testid`` widget labelled exactly ``label``."""
    return page.locator(f'[data-testid="{testid}"]').get_by_label(label, exact=True)


def set_number(page: Page, label: str, value: float) -> None:
    """Type ``value`` into the st.number_input labelled ``label`` and submit it."""
    field = _widget(page, "stNumberInput", label)
    field.fill(str(value))
    field.press("Enter")
    wait_idle(page)


def select_option(page: Page, label: str, option: str) -> None:
    """Choose ``option`` in the st.selectbox labelled ``label``.

    The option list is virtualised (long lists render only what is on screen), so the
    option's text is typed into the box first to filter the list down to it.
    """
    box = _widget(page, "stSelectbox", label)
    choice = page.locator('[data-testid="stSelectboxVirtualDropdown"]').get_by_role(
        "option", name=option, exact=True
    )
    for _ in range(3):  # a rerender just after the click can close the list again
        box.click()
        box.fill(option)
        try:
            choice.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    else:
        raise AssertionError(f"selectbox {label!r} does not offer {option!r}")
    choice.click()
    wait_idle(page)


def click_button(page: Page, text: str) -> None:
    """Click the button whose text is exactly ``text``."""
    page.get_by_role("button", name=text, exact=True).click()
    wait_idle(page)


def unfold_sidebar(page: Page) -> None:
    """Lecture mode folds the sidebar: its arrow at the top left opens it again."""
    unfold = page.locator('[data-testid="stExpandSidebarButton"]')
    if unfold.is_visible():
        unfold.click()


def toggle(page: Page, label: str, on: bool | None = None) -> bool:
    """Flip the st.toggle / st.checkbox labelled ``label`` (or set it to ``on``); return its state."""
    widget = page.locator('[data-testid="stCheckbox"]').filter(
        has=page.get_by_label(label, exact=True)
    )
    box = widget.get_by_label(label, exact=True)
    if on is None or box.is_checked() != on:
        widget.locator("label").click()
        wait_idle(page)
    return box.is_checked()


def metric_value(page: Page, label: str) -> str:
    """The displayed value of the st.metric labelled ``label``."""
    name = page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True)
    metric = page.locator('[data-testid="stMetric"]').filter(has=name)
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
