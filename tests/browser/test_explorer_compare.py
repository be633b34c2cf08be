"""The Architecture explorer and Compare pages in a real browser: settings change the numbers, no exception box."""
from __future__ import annotations

import re

import onnx
from playwright.sync_api import Page, expect

import cnnviz
from cnnviz.analysis import human_count
from cnnviz.ui.words import setting_label
from tests.browser.helpers import (assert_no_exception, goto, metric_value, screenshot, select_option, set_number,
                                   toggle, wait_idle)


def set_number_by_key(page: Page, key: str, value: float) -> None:
    """Fill the number input with widget key ``key`` (labels repeat on the Compare page)."""
    field = page.locator(f".st-key-{key} input")
    field.fill(str(value))
    field.press("Enter")
    wait_idle(page)


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    wait_idle(page)


def test_explorer_settings_change_the_numbers(app_url: str, page: Page) -> None:
    goto(page, app_url, "explorer", ex_model="vgg16")
    assert_no_exception(page)
    assert metric_value(page, "Parameters") == human_count(cnnviz.summarize("vgg16").totals.params)
    expect(page.get_by_text("24M x 4 bytes", exact=False)).to_be_visible()  # the course notes' convention note
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(1)  # the network drawing
    screenshot(page, "explorer-vgg16")

    set_number(page, "Input size", 160)
    assert metric_value(page, "MACs") == human_count(cnnviz.summarize("vgg16", input_size=160).totals.macs)
    toggle(page, "Batch norm", True)
    expected = cnnviz.summarize("vgg16", input_size=160, batch_norm=True).totals
    assert metric_value(page, "Parameters") == human_count(expected.params)
    assert_no_exception(page)

    select_option(page, "Model", "ResNet · resnet18")
    assert metric_value(page, "Parameters") == human_count(cnnviz.summarize("resnet18").totals.params)
    assert "ex_model=resnet18" in page.url
    screenshot(page, "explorer-resnet18-network")
    open_tab(page, "Layer table")
    expect(page.locator('[data-testid="stDataFrame"]')).to_be_visible()
    screenshot(page, "explorer-resnet18-table")
    open_tab(page, "Charts")
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(4)
    screenshot(page, "explorer-resnet18-charts")
    open_tab(page, "Export")
    expect(page.get_by_text('cnnviz.build("resnet18")')).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "explorer-resnet18-export")


def test_explorer_bad_setting_shows_the_message(app_url: str, page: Page) -> None:
    goto(page, app_url, "explorer", ex_model="vgg16")
    set_number(page, "Input size", 16)
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.get_by_text("below the minimum 32")).to_be_visible()
    expect(page.get_by_role("tab", name="Network")).to_be_visible()  # the rest of the page stays
    assert_no_exception(page)
    screenshot(page, "explorer-error")
    set_number(page, "Input size", 224)
    assert metric_value(page, "Parameters") == human_count(cnnviz.summarize("vgg16").totals.params)


def test_explorer_lecture_mode(app_url: str, page: Page) -> None:
    goto(page, app_url, "explorer", ex_model="googlenet", lecture=1)
    assert_no_exception(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.get_by_label("Dropout", exact=True)).to_have_count(0)  # advanced settings hidden
    assert metric_value(page, "Parameters") == human_count(cnnviz.summarize("googlenet").totals.params)
    screenshot(page, "explorer-googlenet-lecture")


def test_explorer_exports_onnx(app_url: str, page: Page) -> None:
    goto(page, app_url, "explorer", ex_model="lenet5", ex_tab="Export")
    page.get_by_role("button", name="Export to ONNX").click()
    wait_idle(page, timeout=120_000)
    assert_no_exception(page)
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile(r"Download lenet5\.onnx .*random weights")).click()
    path = info.value.path()
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["image"]
    screenshot(page, "explorer-lenet5-export")


def test_compare_models_and_what_changed(app_url: str, page: Page) -> None:
    goto(page, app_url, "compare")
    assert_no_exception(page)
    main = page.locator('[data-testid="stMain"]')
    expect(main.get_by_text("downsample (the projection shortcuts)", exact=False)).to_be_visible()
    screenshot(page, "compare-default")

    page.locator('[data-testid="stRadio"]').filter(has_text="Number of models").get_by_text(
        "3", exact=True).click()
    wait_idle(page)
    expect(main.get_by_text("3: vgg16 against 1: resnet50")).to_be_visible()

    page.get_by_text("Settings of model 2", exact=True).click()
    set_number_by_key(page, "c2_width_mult", 0.5)
    expected = cnnviz.summarize("plain50", width_mult=0.5).totals.params
    expect(main.get_by_text(f"{expected:,}", exact=False)).to_be_visible()
    expect(main.get_by_text(f"{setting_label('width_mult').lower()} 1.0 → 0.5", exact=False)).to_be_visible()
    assert_no_exception(page)
    open_tab(page, "Receptive field growth")
    expect(main.locator('[data-testid="stPlotlyChart"]')).to_have_count(1)
    screenshot(page, "compare-three")
