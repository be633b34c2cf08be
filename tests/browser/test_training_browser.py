"""The Training lab in a real browser: a run with the default settings, live curves, results; data; experiments."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.helpers import (assert_no_exception, click_button, goto, metric_value, screenshot, select_option,
                                   wait_idle)

RUN_TIMEOUT_MS = 300_000


def _percent(text: str) -> float:
    return float(text.strip().rstrip("%"))


def test_default_run_trains_live_and_reaches_97_percent(app_url: str, page: Page) -> None:
    """The acceptance run from the page: default settings, LeNet-5 on the bundled MNIST."""
    goto(page, app_url, "training")
    assert_no_exception(page)
    expect(page.get_by_text(re.compile(r"Device: cpu|Device: cuda|Device: mps"))).to_be_visible()
    page.get_by_role("button", name="Train", exact=True).click()
    # live: the progress text with the speed and the two curves appear while it trains
    expect(page.get_by_text(re.compile(r"training · epoch [1-9].* images/s"))).to_be_visible(timeout=90_000)
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(2)
    expect(page.get_by_role("button", name="Stop training")).to_be_visible()
    screenshot(page, "training-live")
    expect(page.get_by_text("Result on the held-out test split")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    assert_no_exception(page)
    accuracy = _percent(metric_value(page, "Test accuracy"))
    seconds = float(metric_value(page, "Training time").split()[0])
    assert accuracy >= 97.0, f"test accuracy {accuracy}%"
    assert seconds > 0, "the page shows the run's training time"  # how fast: bench/bench_train.py, not a timed test
    expect(page.get_by_text(re.compile(r"Reading the curves: "))).to_be_visible()
    expect(page.get_by_text(re.compile(r"Saved as checkpoint lenet5-mnist-"))).to_be_visible()
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(4)  # curves, confusion, per class
    screenshot(page, "training-result")


def test_stop_keeps_what_was_learned(app_url: str, page: Page) -> None:
    goto(page, app_url, "training", tr_ep=200)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_text(re.compile(r"epoch [1-9]"))).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Stop training").click()
    expect(page.get_by_text("Result on the held-out test split")).to_be_visible(timeout=60_000)
    expect(page.get_by_text(re.compile(r"stopped by you"))).to_be_visible()
    assert _percent(metric_value(page, "Test accuracy")) > 50.0  # far above chance: it kept what it learned
    assert_no_exception(page)


def test_data_browser_and_preprocessing(app_url: str, page: Page) -> None:
    goto(page, app_url, "training", tr_part="Data")
    assert_no_exception(page)
    assert metric_value(page, "Image size") == "28x28x1" and metric_value(page, "Test images") == "1,000"
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(5)  # samples, counts, 2 covariances, spectrum
    screenshot(page, "training-data-mnist")
    select_option(page, "Dataset", "CIFAR-shaped stand-in (generated)")
    expect(page.get_by_text("A stand-in, not CIFAR-10.")).to_be_visible()
    assert metric_value(page, "Image size") == "32x32x3"
    assert_no_exception(page)
    screenshot(page, "training-data-standin")


def test_experiment_overfit_shows_its_lesson_in_words_that_match_its_numbers(app_url: str, page: Page) -> None:
    goto(page, app_url, "training", tr_part="Experiments", tr_exp="overfit")
    click_button(page, "Run experiment")
    verdict = page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="This run showed the lesson.")
    expect(verdict).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Run experiment")).to_be_enabled(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert_no_exception(page)
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(1)  # the run's numbers
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(2)  # loss and accuracy curves
    page.mouse.move(0, 0)  # no tooltip over the table
    screenshot(page, "training-experiment-overfit")


def test_plain_vs_residual_shows_gradients_at_initialisation(app_url: str, page: Page) -> None:
    # computing the four nets' gradients takes a few seconds (minutes on a busy machine): no 60 s goto wait
    page.goto(f"{app_url}/training?tr_part=Experiments&tr_exp=depth")
    title = "Gradient norm per layer at initialisation, batch norm off"
    expect(page.get_by_text(title)).to_be_visible(timeout=180_000)
    wait_idle(page, timeout=180_000)
    page.locator('[data-testid="stCheckbox"]').filter(has=page.get_by_label("Batch norm in the nets")).locator(
        "label").click()
    expect(page.get_by_text(title.replace("off", "on"))).to_be_visible(timeout=180_000)
    wait_idle(page, timeout=180_000)
    assert_no_exception(page)
    screenshot(page, "training-experiment-gradients-at-init")
