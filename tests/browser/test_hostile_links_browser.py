"""Hostile link values in a real browser: each is refused with a warning that shows it as text, and nothing
in the page (a link, an image, an HTML element) comes from it.

The AppTest fuzz (tests/app/test_fuzz.py) checks every key of every page quickly; this is the rendering pass:
chromium draws what Streamlit's Markdown makes of the warning.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import assert_no_exception, goto

# (page, a URL-bound key whose value is checked); one key per page is enough: every page warns through
# the same cnnviz.ui.state.ignored, which the AppTest fuzz exercises key by key.
KEYS = [("explorer", "ex_model"), ("layer_lab", "ll_h"), ("compare", "cmp_tab"), ("builder", "b_c"),
        ("inside", "in_tab"), ("training", "tr_subset"), ("augment", "ag_sec"), ("transfer", "tl_sec")]

# A fake "log in" link, an image fetched from anywhere, raw HTML: each would render if the value were Markdown.
VALUES = {"link": "[log in](http://evil.example/login)", "image": "![x](http://evil.example/p.png)",
          "html": '<b id="pwn">bold</b>'}


@pytest.mark.browser
@pytest.mark.parametrize("path,key", KEYS, ids=[p for p, _ in KEYS])
def test_a_hostile_link_value_is_shown_as_text(app_url: str, page: Page, path: str, key: str) -> None:
    for kind, value in VALUES.items():
        goto(page, app_url, path, **{key: value})
        assert_no_exception(page)
        warning = page.locator('[data-testid="stAlert"]').filter(has_text="Ignored the link's setting")
        expect(warning.first).to_be_visible()
        shown = warning.first.inner_text().replace("\u2060", "")  # the invisible joiner that stops auto-links
        assert value[:25] in shown, (kind, shown)  # the value itself, as the student would type it
        assert page.locator('a[href*="evil.example"]').count() == 0, kind
        assert page.locator('img[src*="evil.example"]').count() == 0, kind
        assert page.locator("#pwn").count() == 0, kind
