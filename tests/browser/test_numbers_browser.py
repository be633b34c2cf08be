"""Numbers shown whole in a real browser: metric labels not cut with "...", layer tables without an inner scroll."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.helpers import assert_no_exception, goto, screenshot

# Metric labels and values cut with "...": an element inside them whose text is wider than its box.
CUT_METRICS = """() => [...document.querySelectorAll(
    '[data-testid="stMetricLabel"], [data-testid="stMetricValue"]')]
  .filter(part => [part, ...part.querySelectorAll('*')].some(el => el.scrollWidth > el.clientWidth + 1))
  .map(part => part.innerText)"""
# The data grid's scroller: any hidden rows show as a scroll height above the visible height.
TABLE_SCROLL = """() => { const s = document.querySelector('[data-testid="stDataFrame"] .dvn-scroller');
  return s ? [s.scrollHeight, s.clientHeight] : null; }"""


@pytest.mark.parametrize("lecture", [0, 1])
def test_explorer_metrics_are_not_cut(app_url: str, page: Page, lecture: int) -> None:
    """At the default 1280 px window, in normal and lecture mode (three metrics to a row, larger text)."""
    goto(page, app_url, "explorer", ex_model="alexnet", ex_batch=256, lecture=lecture)
    assert_no_exception(page)
    page.wait_for_selector('[data-testid="stMetricLabel"]')
    assert page.locator('[data-testid="stMetricLabel"]').count() >= 10
    assert page.evaluate(CUT_METRICS) == []
    assert "e+" not in page.locator('[data-testid="stMain"]').inner_text()
    screenshot(page, f"explorer-alexnet-totals-lecture{lecture}")


@pytest.mark.parametrize("model,fold,rows", [("lenet5", "every layer", 12), ("resnet18", "auto", 11)])
def test_a_short_layer_table_shows_every_row(app_url: str, page: Page, model: str, fold: str, rows: int) -> None:
    goto(page, app_url, "explorer", ex_model=model, ex_tab="Layer table", ex_fold=fold)
    assert_no_exception(page)
    page.wait_for_selector('[data-testid="stDataFrame"] .dvn-scroller')
    scroll, visible = page.evaluate(TABLE_SCROLL)
    assert scroll <= visible, (scroll, visible)
    assert page.get_by_text(f"{rows} rows", exact=False).count()
    screenshot(page, f"explorer-{model}-table")


def test_a_fractional_jump_says_why_next_to_it(app_url: str, page: Page) -> None:
    goto(page, app_url, "explorer", ex_model="vgg16", ex_input_size=1000)
    assert_no_exception(page)
    assert page.get_by_text("Jump 141.714 px", exact=False).count()
    assert page.get_by_text("an adaptive pool", exact=False).count()
