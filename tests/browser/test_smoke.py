"""The home page opens in a real browser without an error; a deep link works on a fresh server."""
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser.helpers import assert_no_exception, goto, screenshot
from tests.browser.server import serve


def test_home_page_opens(app_url: str, page: Page) -> None:
    goto(page, app_url)
    assert_no_exception(page)
    expect(page.locator('[data-testid="stMain"]')).to_contain_text("cnnviz")
    screenshot(page, "home")


def test_deep_link_is_the_first_visit_of_a_fresh_server(browser: Browser, tmp_path: Path) -> None:
    """A lecturer's link opens the configured page inside the app's navigation, even before anyone
    has opened the home page (cnnviz.ui.launch tells Streamlit up front that app.py navigates)."""
    with serve(tmp_path / "home", tmp_path / "streamlit.log") as (_, url):
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        try:
            page = context.new_page()
            goto(page, url, "explorer", ex_model="vgg16")
            assert_no_exception(page)
            nav = page.locator('[data-testid="stSidebarNav"]')
            expect(nav.get_by_text("Architecture explorer")).to_be_visible()
            expect(page.get_by_text("Lecture mode")).to_be_visible()
            expect(page.locator('[data-testid="stMain"]')).to_contain_text("Parameters138.36M")  # VGG-16
        finally:
            context.close()
