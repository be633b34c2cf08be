"""The Seeing-inside page in a real browser: every image source, maps of several models, the moving RF overlay."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.helpers import assert_no_exception, goto, screenshot, wait_idle

FIRST_USE_MS = 300_000  # the first page trains the offline LeNet-5 demo and loads the models
MAPS = ".st-key-in_maps_chart .heatmaplayer image"
RF_CAPTION = re.compile(r"input rows (-?\d+) to (-?\d+) and columns (-?\d+) to (-?\d+)")


def open_inside(page: Page, app_url: str, **query: str) -> None:
    url = f"{app_url}/inside" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.goto(url)
    wait_idle(page, timeout=FIRST_USE_MS)
    assert_no_exception(page)


def choose_source(page: Page, label: str) -> None:
    page.locator(".st-key-in_src").get_by_text(label, exact=True).click()
    wait_idle(page, timeout=FIRST_USE_MS)
    assert_no_exception(page)


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_every_image_source(app_url: str, page: Page) -> None:
    open_inside(page, app_url)  # LeNet-5 trained here on MNIST, a held-out digit
    expect(page.locator(MAPS)).to_have_count(1)
    expect(page.locator(".st-key-in_pred")).to_contain_text("Prediction: 0")
    screenshot(page, "inside-mnist-digit")

    choose_source(page, "Photo")
    expect(page.get_by_text("Chelsea the cat: 28x28 pixels, grey")).to_be_visible()
    expect(page.get_by_text("to grey: 0.299 R")).to_be_visible()  # the preprocessing step
    expect(page.locator(MAPS)).to_have_count(1)
    screenshot(page, "inside-photo-on-lenet")

    choose_source(page, "Upload")
    seven = Image.new("L", (120, 160), 250)  # a dark "7" on light paper
    seven.paste(20, (20, 20, 100, 34))
    seven.paste(20, (80, 20, 94, 140))
    page.locator(".st-key-in_upload input[type=file]").set_input_files(
        files=[{"name": "seven.png", "mimeType": "image/png", "buffer": png(seven)}])
    wait_idle(page, timeout=FIRST_USE_MS)
    assert_no_exception(page)
    expect(page.get_by_text("dark ink on light paper")).to_be_visible()  # inverted, like MNIST
    expect(page.locator(MAPS)).to_have_count(1)
    screenshot(page, "inside-upload")
    page.locator(".st-key-in_upload input[type=file]").set_input_files(
        files=[{"name": "broken.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\nnot really"}])
    wait_idle(page)
    assert_no_exception(page)
    expect(page.locator('[data-testid="stAlertContentError"]')).to_contain_text(
        "broken.png: the image could not be read")

    choose_source(page, "Draw a digit")
    canvas = page.locator(".st-key-in_canvas canvas.upper-canvas")
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 140, box["y"] + 60)
    page.mouse.down()
    for i in range(1, 31):  # a vertical stroke: a "1"
        page.mouse.move(box["x"] + 140 + i * 0.5, box["y"] + 60 + i * 6, steps=2)
    page.mouse.up()
    wait_idle(page, timeout=FIRST_USE_MS)
    assert_no_exception(page)
    expect(page.get_by_text("your drawing: 28x28 pixels")).to_be_visible()
    expect(page.locator(".st-key-in_pred")).to_contain_text("Prediction: 1")
    screenshot(page, "inside-drawing")


@pytest.mark.parametrize("name, layer", [("vgg16", "features.3"), ("resnet18", "layer1.0.relu:2"),
                                         ("googlenet", "inception3a.cat")])
def test_maps_render_for_big_models(app_url: str, page: Page, name: str, layer: str) -> None:
    open_inside(page, app_url, in_model=name, in_weights="random", in_src="photo", in_photo="astronaut",
                in_layer=layer)
    expect(page.locator(MAPS)).to_have_count(1)
    expect(page.locator(".st-key-in_maps_chart")).to_contain_text(f"{layer} (")
    screenshot(page, f"inside-maps-{name}")


def rf_box(page: Page) -> tuple[int, ...]:
    found = RF_CAPTION.search(page.get_by_text(RF_CAPTION).inner_text())
    assert found
    return tuple(int(v) for v in found.groups())


def test_receptive_field_overlay_moves_when_another_unit_is_clicked(app_url: str, page: Page) -> None:
    open_inside(page, app_url, in_tab="Receptive+field", in_rf_layer="features.c3", in_uy="1", in_ux="1")
    overlay = page.locator(".st-key-in_rf_overlay")
    before_box, before_picture = rf_box(page), overlay.screenshot()
    screenshot(page, "inside-rf-before")
    chart = page.locator('[class*="st-key-in_rf_pick_"] .js-plotly-plot')
    chart.scroll_into_view_if_needed()
    # the pixel position of unit (y=5, x=6) in the clickable layer map
    x, y = chart.evaluate("g => { const L = g._fullLayout; return [L.xaxis._offset + L.xaxis.l2p(6), "
                          "L.yaxis._offset + L.yaxis.l2p(5)]; }")
    where = chart.bounding_box()
    assert where is not None
    page.mouse.click(where["x"] + x, where["y"] + y)
    wait_idle(page)
    assert_no_exception(page)
    expect(page.locator(".st-key-in_rf_overlay")).to_contain_text("Unit (5, 6) of features.c3")
    after_box = rf_box(page)
    assert after_box[0] > before_box[0] and after_box[2] > before_box[2]  # moved down and right
    assert after_box[1] - after_box[0] == before_box[1] - before_box[0]  # same size
    assert overlay.screenshot() != before_picture
    screenshot(page, "inside-rf-after")
