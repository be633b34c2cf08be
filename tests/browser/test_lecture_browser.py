"""Lecture mode on a 1280x720 projector, chart downloads for slides, short links, Copy link and embed mode.

Key content per page (what a lecturer projects first; it must start on the first screen in lecture mode, at
1280x720 and 1920x1080): home, the title and the course's first page links; layer lab, the section buttons and the
layer's output volume, parameters and MACs; explorer, the title and the model's parameters, MACs and FLOPs;
compare, the title, the model picker and the models' parameters; builder, the title and the challenges; seeing
inside, the title, the image source and the picture; training, the title, its sections and the dataset choice;
augmentation, the title, its sections and the first results; transfer, the title and its sections; practice, the
title and the first exercise card with its question and answer box; lecture sequences, the title, the ready
sequences heading and the first ready sequence with its first view; class board, the title and the join and
open-a-class forms with their buttons.
"""
from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from cnnviz import exercises
from tests.browser.helpers import SCREENSHOTS, assert_no_exception, goto, unfold_sidebar, wait_idle

MAIN = '[data-testid="stMain"]'
SCALE = 1.3  # the acceptance bar: lecture-mode text at least 1.3x normal mode


def rendered_px(locator: Locator) -> float:
    """The font size an element is drawn at (computed size times any CSS zoom)."""
    return locator.evaluate("e => parseFloat(getComputedStyle(e).fontSize) * (e.currentCSSZoom || 1)")


def open_page(page: Page, app_url: str, path: str, wait_for: str, **query: object) -> None:
    goto(page, app_url, path, **query)
    page.locator(wait_for).first.wait_for(state="attached", timeout=90_000)
    wait_idle(page)
    assert_no_exception(page)


def open_sidebar(page: Page) -> None:
    """Lecture mode folds the sidebar: its arrow at the top left opens it again, the select in reach."""
    unfold_sidebar(page)
    select = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
    select.scroll_into_view_if_needed()  # the sidebar scrolls on its own
    expect(select).to_be_in_viewport()


def font_sizes(page: Page) -> dict[str, float]:
    """Table cell, tab label, radio, metric, select and select option sizes on the explorer's layer table.

    The table is a canvas grid that draws its text at the root font size it reads when it mounts; its cells'
    accessible copies inherit the same size, which is what is measured here.
    """
    sizes = {
        "table cell": rendered_px(page.locator('[data-testid="stDataFrame"] table td').first),
        "table header": rendered_px(page.locator('[data-testid="stDataFrame"] table th').first),
        "tab label": rendered_px(page.locator('[data-testid="stTab"] p').first),
        "radio option": rendered_px(page.locator('[data-testid="stRadio"] label p').first),
        "metric label": rendered_px(page.locator('[data-testid="stMetricLabel"] p').first),
    }
    open_sidebar(page)  # folded in lecture mode, and its controls still reachable
    select = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
    sizes["select value"] = rendered_px(select.locator("input").first)
    select.locator("input").click()  # its dropdown opens in a portal outside the main container and the sidebar
    option = page.locator('[data-testid="stSelectboxVirtualDropdown"] [role="option"]').first
    option.wait_for(timeout=10_000)
    sizes["select option"] = rendered_px(option)
    page.keyboard.press("Escape")
    return sizes


def test_lecture_mode_scales_tables_tabs_and_selects(page: Page, app_url: str) -> None:
    table = '[data-testid="stDataFrame"] table td'
    open_page(page, app_url, "explorer", table, ex_tab="Layer table")
    expect(page.locator('[data-testid="stExpandSidebarButton"]')).to_have_count(0)  # the sidebar is open
    normal = font_sizes(page)
    open_page(page, app_url, "explorer", table, ex_tab="Layer table", lecture=1)
    expect(page.locator('[data-testid="stExpandSidebarButton"]')).to_be_visible()  # folded away
    lecture = font_sizes(page)
    small = {k: (normal[k], lecture[k]) for k in normal if lecture[k] < SCALE * normal[k]}
    assert not small, f"not scaled {SCALE}x in lecture mode (normal px, lecture px): {small}"


FIRST_CARD = next(iter(exercises.EXERCISES.values()))  # the practice page's first exercise card

# page path -> selectors (inside the main area) whose first match must start within the first screen in lecture mode
KEY = {
    "": ["h1", 'a:has-text("Layer lab")', 'a:has-text("Architecture explorer")'],
    "layer_lab": ['[data-testid="stButtonGroup"]', '[data-testid="stMetricLabel"]:has-text("Output volume")',
                  '[data-testid="stMetricLabel"]:has-text("Parameters")',
                  '[data-testid="stMetricLabel"]:has-text("MACs")'],
    "explorer": ["h1", '[data-testid="stMetricLabel"]:has-text("Parameters")',
                 '[data-testid="stMetricLabel"]:has-text("MACs")', '[data-testid="stMetricLabel"]:has-text("FLOPs")'],
    "compare": ["h1", '[data-testid="stSelectbox"]', ':text("parameters")'],
    "builder": ["h1", '[data-testid="stExpander"]'],
    "inside": ["h1", '[data-testid="stRadio"]', '[data-testid="stImage"]'],
    "training": ["h1", '[data-testid="stButtonGroup"]', '[data-testid="stSelectbox"]'],
    "augment": ["h1", '[data-testid="stButtonGroup"]', '[data-testid="stImage"]'],
    "transfer": ["h1", '[data-testid="stButtonGroup"]'],
    "practice": ["h1", f':text("{FIRST_CARD.title}")', f':text("{FIRST_CARD.question()}")',
                 '[data-testid="stTextInput"] input'],
    "sequence": ["h1", 'h2:has-text("Ready sequences")', '[data-testid="stExpander"]',
                 'button:has-text("View 1")'],
    "board": ["h1", '[data-testid="stForm"]:has-text("Join a class")', 'button:has-text("Join")',
              '[data-testid="stForm"]:has-text("Open a class")', 'button:has-text("Open a class")'],
}


@pytest.mark.parametrize("path", list(KEY))
def test_key_content_of_each_page_fits_the_first_screen(browser: Browser, app_url: str, path: str) -> None:
    """Screenshots of the first screen at 1920x1080 and 1280x720 land in artifacts/screenshots/lecture-*."""
    for width, height in ((1920, 1080), (1280, 720)):
        context = browser.new_context(viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            open_page(page, app_url, path, f"{MAIN} h1", lecture=1)
            page.wait_for_timeout(1000)  # charts lay out after the script ends
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"lecture-{path or 'home'}-{width}x{height}.png"))
            below = {}
            for selector in KEY[path]:
                key = page.locator(MAIN).locator(selector).first
                key.wait_for(timeout=60_000)
                box = key.bounding_box()
                if box is None or box["y"] < 0 or box["y"] + min(box["height"], 100) > height:
                    below[selector] = box
            assert not below, f"{path or 'home'} at {width}x{height}: key content not on the first screen: {below}"
        finally:
            context.close()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_chart_downloads_are_valid_svg_and_3x_png(page: Page, app_url: str, tmp_path: Path) -> None:
    open_page(page, app_url, "", '[data-testid="stPlotlyChart"] svg.main-svg', lecture=1)
    svg_box = page.locator('[data-testid="stPlotlyChart"] svg.main-svg').first
    width, height = (float(svg_box.get_attribute(a)) for a in ("width", "height"))
    bar = page.locator(".cnnviz-fig").first
    with page.expect_download() as svg_download:
        bar.get_by_role("button", name="SVG").click()
    svg = ET.parse(svg_download.value.path()).getroot()
    assert svg.tag.endswith("svg") and svg.get("width") and "ILSVRC" in "".join(svg.itertext())
    sizes = [float(t.get("style", "").split("font-size:")[1].split("px")[0])
             for t in svg.iter() if "font-size:" in t.get("style", "")]
    assert max(sizes) >= 20  # lecture mode's chart fonts travel into the file
    with page.expect_download() as png_download:
        bar.get_by_role("button", name="PNG (3x)").click()
    assert png_size(Path(png_download.value.path()).read_bytes()) == (round(3 * width), round(3 * height))


def test_layer_graph_downloads_from_the_explorer(page: Page, app_url: str) -> None:
    open_page(page, app_url, "explorer", '[data-testid="stExpander"]', ex_model="resnet18")
    page.get_by_text("Layer graph for slides").click()
    wait_idle(page)
    for name, head in (("SVG", b"<?xml"), ("PNG (3x)", b"\x89PNG"), ("PDF", b"%PDF-")):
        with page.expect_download() as download:
            page.get_by_role("button", name=name, exact=False).filter(has_text=name).last.click()
        data = Path(download.value.path()).read_bytes()
        assert data.startswith(head), (name, data[:20])
        if name == "SVG":
            assert sum(e.get("id", "").startswith("skip-") for e in ET.fromstring(data).iter()) == 8


def test_links_carry_only_changed_settings_and_copy(page: Page, app_url: str) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_page(page, app_url, "explorer", '[data-testid="stMetric"]', ex_model="vgg16")
    assert page.url.endswith("/explorer?ex_model=vgg16")  # every other setting is at its default
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("button", name="Link copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == page.url


@pytest.mark.parametrize("value", ["true", "1"])
def test_embed_shows_the_page_without_navigation_or_sidebar(page: Page, app_url: str, value: str) -> None:
    goto(page, app_url, "explorer", ex_model="vgg16", embed=value)
    page.wait_for_url("**embed=true**")  # ?embed=1 is turned into Streamlit's own ?embed=true
    page.locator('[data-testid="stMetric"]').first.wait_for(timeout=90_000)
    wait_idle(page)
    assert_no_exception(page)
    expect(page.locator(MAIN)).to_contain_text("138.36M")  # VGG-16's parameters: the link's settings hold
    for hidden in ('[data-testid="stSidebar"]', '[data-testid="stSidebarNav"]', '[data-testid="stMainMenu"]',
                   '[data-testid="stExpandSidebarButton"]', "button.cnnviz-copy"):
        assert not page.locator(hidden).first.is_visible(), hidden
