"""The Network builder in a real browser: LeNet-5 clicked together, broken and fixed, sent as a link, trained, looked into."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from cnnviz.ui.builder import arg_label
from tests.browser.helpers import (SCREENSHOTS, assert_no_exception, click_button, goto, metric_value, screenshot,
                                   select_option, wait_idle)

RUN_TIMEOUT_MS = 300_000  # as the Training lab's own browser test allows
FIRST_USE_MS = 300_000
LENET5 = "conv(6,5) tanh avgpool(2) conv(16,5) tanh avgpool(2) fc(120) tanh fc(84) tanh fc(10)"
# the course's LeNet-5 shapes, layer by layer (H x W x C)
SHAPES = ["28x28x6", "28x28x6", "14x14x6", "10x10x16", "10x10x16", "5x5x16", "120", "120", "84", "84", "10"]


def set_number(page: Page, label: str, value: int, nth: int = -1) -> None:
    """Type ``value`` into the ``nth`` number input labelled ``label`` (the last: the row just added)."""
    fields = page.locator('[data-testid="stNumberInput"]').get_by_label(label, exact=True)
    field = fields.nth(nth) if nth >= 0 else fields.last
    field.fill(str(value))
    field.press("Enter")
    wait_idle(page)


def add_layer(page: Page, kind: str, **values: int) -> None:
    select_option(page, "New layer", kind)
    click_button(page, "Add layer")
    for name, value in values.items():
        set_number(page, arg_label(name), value)  # the row's input for a grammar argument: "C (channels)"


def row_outputs(page: Page) -> list[str]:
    texts = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="→").all_inner_texts()
    return [re.search(r"→\s*(\S+)", t).group(1) for t in texts]


@pytest.mark.timeout(900)  # clicking 11 layers together, then a full training run on a busy machine
def test_click_lenet5_together_break_it_share_it_train_it_look_inside(app_url: str, page: Page,
                                                                        browser: Browser) -> None:
    goto(page, app_url, "builder")
    assert_no_exception(page)
    select_option(page, "Start from", "Empty")
    expect(page.get_by_text("Add a layer, type a network in the text box")).to_be_visible()
    set_number(page, "Input height", 32)  # the 1998 paper's input: MNIST's 28x28 digits padded to 32x32
    set_number(page, "Input width", 32)

    # LeNet-5 (1998), layer by layer with the table
    add_layer(page, "conv", C=6, K=5)
    add_layer(page, "tanh")
    add_layer(page, "avgpool")  # its window starts at 2
    add_layer(page, "conv", C=16, K=5)
    add_layer(page, "tanh")
    add_layer(page, "avgpool")
    add_layer(page, "fc", N=120)
    add_layer(page, "tanh")
    add_layer(page, "fc", N=84)
    add_layer(page, "tanh")
    add_layer(page, "fc")  # 10 outputs to start with
    assert_no_exception(page)
    expect(page.get_by_role("textbox", name="Network (text)")).to_have_value(LENET5)
    assert metric_value(page, "Parameters") == "61,706"
    assert row_outputs(page) == SHAPES
    screenshot(page, "builder-lenet5")  # the whole page (a tall viewport)
    page.screenshot(path=str(SCREENSHOTS / "builder-lenet5-1280x720.png"))  # what a laptop shows first

    # break C3: a 40x40 kernel on 14x14 maps; the message sits at its row
    set_number(page, arg_label("K"), 40, nth=2)  # K of rows 1 (conv), 3 (avgpool), 4 (conv)
    error = page.locator('[data-testid="stAlertContentError"]').filter(has_text="Row 4: ")
    expect(error).to_contain_text("kernel 40 larger than the input 14x14")
    assert metric_value(page, "Parameters") == "?"
    screenshot(page, "builder-broken-row")
    set_number(page, arg_label("K"), 5, nth=2)
    assert metric_value(page, "Parameters") == "61,706"

    # the link opens the same network in a fresh browser
    link = page.url
    # this network and input are the builder's defaults (LeNet-5 at 32x32): a short link leaves them out
    assert "b_net=" not in link and "b_h=" not in link
    fresh = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        other = fresh.new_page()
        other.goto(link)
        wait_idle(other)
        assert_no_exception(other)
        # a fresh browser loads the widgets' code first: on a busy machine that takes a while
        expect(other.get_by_role("textbox", name="Network (text)")).to_have_value(LENET5, timeout=60_000)
        assert metric_value(other, "Parameters") == "61,706" and row_outputs(other) == SHAPES
    finally:
        fresh.close()

    # Train it: the Training lab opens on this network and the bundled MNIST
    page.get_by_role("tab", name="Train, compare, export").click()
    wait_idle(page)
    page.get_by_role("link", name="Train it").click()
    wait_idle(page)
    assert "/training" in page.url
    assert_no_exception(page)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_text("Result on the held-out test split")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    assert_no_exception(page)
    accuracy = float(metric_value(page, "Test accuracy").rstrip("%"))
    assert accuracy >= 97.0, f"test accuracy {accuracy}%"
    screenshot(page, "builder-trained")

    # See inside: the network with the weights it just learned
    page.goto(link)
    wait_idle(page)
    page.get_by_role("tab", name="Train, compare, export").click()
    wait_idle(page)
    page.get_by_role("link", name="See inside").click()
    wait_idle(page, timeout=FIRST_USE_MS)
    assert "/inside" in page.url
    assert_no_exception(page)
    expect(page.get_by_text(re.compile(r"In use: Trained here: custom-mnist"))).to_be_visible()
    expect(page.locator(".st-key-in_pred")).to_contain_text("Prediction: 0", timeout=60_000)  # a held-out digit
    screenshot(page, "builder-see-inside")
