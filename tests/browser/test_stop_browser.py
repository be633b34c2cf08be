"""Stop, clicked the moment it appears, stops the run: ten times in a row in a real browser."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.helpers import assert_no_exception, goto

ROUNDS = 10


def test_stop_clicked_at_once_always_stops(app_url: str, page: Page) -> None:
    goto(page, app_url, "training", tr_ep=1000)  # a long run: it can only end by Stop
    train = page.get_by_role("button", name="Train", exact=True)
    stop = page.get_by_role("button", name="Stop training")
    for i in range(ROUNDS):
        expect(train).to_be_enabled(timeout=30_000)
        train.click()
        stop.wait_for(state="visible", timeout=30_000)
        stop.click()  # once, as soon as it is there
        expect(stop, f"round {i + 1}: the run did not stop").to_be_hidden(timeout=60_000)
        expect(page.get_by_text(re.compile(r"Last run: .* stopped\."))).to_be_visible(timeout=30_000)
        assert_no_exception(page)
