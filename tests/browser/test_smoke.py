"""The home page opens in a real browser without an error."""
from playwright.sync_api import Page, expect

from tests.browser.helpers import assert_no_exception, goto, screenshot


def test_home_page_opens(app_url: str, page: Page) -> None:
    goto(page, app_url)
    assert_no_exception(page)
    expect(page.locator('[data-testid="stMain"]')).to_contain_text("cnnviz")
    screenshot(page, "home")
