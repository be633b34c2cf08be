"""The augmentation studio and the transfer page in a real browser: every part, every one-click experiment.

The experiments run with small sizes given in the link (the page's defaults are timed in the
closing notes); what is checked is that each part draws its result without an error.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.helpers import assert_no_exception, click_button, goto, screenshot, select_option, wait_idle

RESULT_TIMEOUT = 240_000  # ms: a busy 2-core machine can be slow


def _shot(page: Page, name: str, height: int = 1800) -> None:
    page.set_viewport_size({"width": 1280, "height": height})
    wait_idle(page)
    page.wait_for_timeout(800)  # let the images and charts paint
    screenshot(page, name)
    page.set_viewport_size({"width": 1280, "height": 720})


def _main(page: Page):  # noqa: ANN202 - a Locator
    return page.locator('[data-testid="stMain"]')


def _code(page: Page):  # noqa: ANN202 - a Locator
    return _main(page).locator('[data-testid="stCode"]').first


def _run(page: Page, button: str, result_text: str) -> None:
    """Click ``button``, wait for the job to finish, and check the result shows ``result_text``."""
    click_button(page, button)
    finished = _main(page).get_by_text(re.compile(r"^Finished in [\d.]+ s\.$"))
    ended = _main(page).get_by_text(re.compile(r"^(Finished in [\d.]+ s\.|Stopped before the end\.|.* failed: .*)$"))
    try:
        ended.first.wait_for(timeout=RESULT_TIMEOUT)
    except PlaywrightTimeout:
        screenshot(page, f"timeout-{button.lower().replace(' ', '-')}")
        raise AssertionError(f"{button!r} did not end in {RESULT_TIMEOUT / 1000:.0f} s; the page shows:\n"
                             f"{_main(page).inner_text()[:3000]}") from None
    assert finished.count() == 1, f"{button!r} did not finish: {ended.first.inner_text()}"
    wait_idle(page)
    assert_no_exception(page)
    expect(_main(page).get_by_text(result_text, exact=True).first).to_be_visible()
    expect(page.locator('[data-testid="stAlert"]').filter(has_text="failed")).to_have_count(0)


def test_augmentation_one_method_and_upload(app_url: str, page: Page, tmp_path: Path) -> None:
    goto(page, app_url, "augment")
    assert_no_exception(page)
    expect(_code(page)).to_contain_text("v2.RandomRotation(degrees=20.0")
    select_option(page, "Method", "Local (elastic) warping")
    assert_no_exception(page)
    expect(_code(page)).to_contain_text("v2.ElasticTransform(alpha=50.0, sigma=5.0)")
    _shot(page, "augment-one-method")

    picture = tmp_path / "stripes.png"
    arr = np.zeros((90, 120, 3), dtype=np.uint8)
    arr[:, ::20] = (255, 200, 0)
    arr[10:40, 10:50] = (40, 120, 255)  # a block at the top left: a mirror moves it
    Image.fromarray(arr).save(picture)
    goto(page, app_url, "augment", ag_src="upload", ag_m="flip")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(picture))
    wait_idle(page)
    expect(_main(page).get_by_text("stripes.png, 90x120 pixels")).to_be_visible()
    assert_no_exception(page)
    _shot(page, "augment-upload")


def test_augmentation_pipeline_and_pca(app_url: str, page: Page) -> None:
    goto(page, app_url, "augment", ag_sec="Pipeline")
    expect(_code(page)).to_contain_text("v2.RandomResizedCrop(")
    assert_no_exception(page)
    _shot(page, "augment-pipeline")

    goto(page, app_url, "augment", ag_sec="PCA colour", ag_pca_sigma="2.0")
    expect(_main(page).get_by_text("Eigen-decomposition of the RGB covariance")).to_be_visible()
    assert_no_exception(page)
    _shot(page, "augment-pca")


def test_augmentation_with_and_without(app_url: str, page: Page) -> None:
    goto(page, app_url, "augment", ag_sec="With vs without", ag_ww_n="100", ag_ww_ep="2")
    _run(page, "Train with and without", "Gap without augmentation")
    expect(_main(page).get_by_text("Gap with augmentation", exact=True)).to_be_visible()
    _shot(page, "augment-with-without")


def test_transfer_cases(app_url: str, page: Page) -> None:
    goto(page, app_url, "transfer", tl_n="3", tl_ep="3")
    assert_no_exception(page)
    _run(page, "Run the four cases", "3. Fine-tune all")
    expect(_main(page).locator('[data-testid="stMetric"]')).to_have_count(4)
    _shot(page, "transfer-cases", 2600)


def test_features_off_the_shelf(app_url: str, page: Page) -> None:
    goto(page, app_url, "transfer", tl_sec="Features off the shelf", tl_sh_n="5")
    _run(page, "Extract features and fit", "Features per image")
    _shot(page, "transfer-off-the-shelf", 1000)


def test_ensemble(app_url: str, page: Page) -> None:
    goto(page, app_url, "transfer", tl_sec="Ensembles", tl_en_k="3", tl_en_n="100", tl_en_ep="2")
    _run(page, "Train the ensemble", "Best single network")
    _shot(page, "transfer-ensemble")


def test_multicrop(app_url: str, page: Page) -> None:
    goto(page, app_url, "transfer", tl_sec="Multi-crop testing", tl_mc_n="200", tl_mc_ep="2")
    _run(page, "Train and compare", "10 crops")
    _shot(page, "transfer-multicrop")
