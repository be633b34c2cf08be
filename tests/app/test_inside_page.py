"""AppTest: the Seeing-inside page with every image source, several models, the RF overlay and bad input."""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import cnnviz
from cnnviz.inspect import weights
from tests.app.pages import open_page

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "inside.py")


@pytest.fixture(autouse=True)
def quick_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The offline LeNet-5 demo trains one epoch here (the page trains it on first use)."""
    monkeypatch.setattr(weights, "DEMO_EPOCHS", 1)


def page(**query: Any) -> AppTest:
    return open_page(PAGE, 180, **query)


def charts(at: AppTest) -> list:
    return at.get("plotly_chart")


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "warning", "error", "success")
                     for e in getattr(at, kind))


def rf_box(at: AppTest) -> tuple[int, ...]:
    """The theoretical RF box the page states: (top, bottom, left, right)."""
    found = re.search(r"input rows (-?\d+) to (-?\d+) and columns (-?\d+) to (-?\d+)", texts(at))
    assert found, "the receptive-field caption is missing"
    return tuple(int(v) for v in found.groups())


def test_default_page_shows_a_trained_lenet_on_an_mnist_digit() -> None:
    at = page()
    assert not at.error
    assert any("In use: Trained here on MNIST digits" in s.value for s in at.success)
    assert at.selectbox(key="in_model").value == "lenet5"
    assert at.radio(key="in_src").value == "mnist"
    assert len(charts(at)) == 2  # the prediction and the activation maps
    shown = at.get("image")
    assert len(shown) >= 4  # the model input and every preprocessing stage
    assert "features.act1" in at.selectbox(key="in_layer").value


@pytest.mark.parametrize("name, layer", [("lenet5", "features.c3"), ("vgg16", "features.15"),
                                         ("resnet18", "layer2.1.relu:2"), ("googlenet", "inception3a.cat")])
def test_maps_render_for_several_models(name: str, layer: str) -> None:
    at = page(in_model=name, in_weights="random", in_layer=layer)
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="in_layer").value == layer
    assert any("Random weights predict nothing" in i.value for i in at.info)
    figure = charts(at)[-1].proto.spec
    assert f"{layer} (" in figure and "channel %{customdata}" in figure


def test_each_image_source() -> None:
    at = page(in_src="photo", in_photo="coffee")
    assert any("A cup of coffee" in str(im.proto) for im in at.get("image"))
    stages = " ".join(c.value for c in at.caption)
    assert "to grey" in stages  # a colour photo for the grey LeNet-5

    at = page(in_src="mnist", in_digit=250)
    assert any("labelled 2" in str(im.proto) for im in at.get("image"))

    at = page(in_src="upload")
    assert any("Upload an image" in i.value for i in at.info)
    digit = Image.new("L", (100, 100), 255)
    digit.paste(0, (45, 10, 55, 90))  # a "1" drawn on white paper
    buf = io.BytesIO()
    digit.save(buf, format="PNG")
    at.file_uploader(key="in_upload").set_value(("one.png", buf.getvalue(), "image/png")).run()
    assert not at.exception and not at.error
    stages = " ".join(c.value for c in at.caption)
    assert "white on black" in stages and "20x20" in stages  # inverted and fitted like MNIST

    at = page(in_src="draw")
    assert any("Draw a digit" in i.value for i in at.info)  # the canvas is empty until drawn on


def test_bad_upload_is_a_message_not_a_traceback() -> None:
    at = page(in_src="upload")
    at.file_uploader(key="in_upload").set_value(("cat.png", b"\x89PNG\r\n\x1a\n broken", "image/png")).run()
    assert not at.exception
    assert any("cat.png: this is not an image file" in e.value for e in at.error)


def test_receptive_field_overlay_moves_with_the_unit() -> None:
    at = page(**{"in_tab": "Receptive field", "in_rf_layer": "features.c3"})
    assert not at.error
    choice = weights.find("lenet5", "mnist")
    row = cnnviz.summarize("lenet5", choice.input.input_shape, **dict(choice.settings)).row("features.c3")
    _, h, w = row.output_shape
    y, x = at.slider(key="in_uy"), at.slider(key="in_ux")
    assert (y.max, x.max) == (h - 1, w - 1)
    y.set_value(0)
    x.set_value(0)
    at.run()
    first = rf_box(at)
    at.slider(key="in_ux").set_value(w - 2).run()
    moved = rf_box(at)
    assert moved[:2] == first[:2] and moved[2] - first[2] == (w - 2) * row.jump  # moved right by the jump
    t, l, b, r = row.unit_region(0, w - 2)
    assert moved == (t, b, l, r)
    assert f"Unit (0, {w - 2}) of features.c3" in charts(at)[1].proto.spec
    assert any(m.label == "Gradient inside the box" and m.value == "100.0%" for m in at.metric)


def test_filters_gradcam_and_the_three_3x3_comparison() -> None:
    at = page(in_tab="Filters")
    assert "6 grey filters of 5x5" in charts(at)[1].proto.spec
    at = page(in_tab="Grad-CAM")
    assert "Where lenet5 looks for" in charts(at)[1].proto.spec
    at = page(in_tab="Grad-CAM", in_weights="random")
    assert any("Grad-CAM explains a trained network" in i.value for i in at.info)
    at = page(in_tab="Receptive field", in_cmp_s=3)
    assert "three 3x3 (stride 3): RF 27" in charts(at)[-1].proto.spec
    assert "3 → 9 → 27" in texts(at)


def test_memory_budget_and_bad_links_are_messages() -> None:
    at = page(in_model="vgg16", in_weights="random", in_size=1024)
    assert any("refused before allocating" in e.value for e in at.error)
    at = page(in_model="lenet5", in_layer="no.such.layer", in_digit="many")
    assert any("in_digit" in w.value for w in at.warning)
    assert at.selectbox(key="in_layer").value == "features.act1"
    assert len(charts(at)) == 2  # the prediction and the maps of the default layer


def test_weights_picker_says_what_is_missing_and_how_to_get_it(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty hub cache

    def offline(*args: Any, **kwargs: Any) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    at = page(in_model="resnet18")
    assert at.selectbox(key="in_weights").value == "random"  # the usable default offline
    assert "ImageNet" in " ".join(at.selectbox(key="in_weights").options)
    at.selectbox(key="in_weights").set_value("imagenet").run()
    assert any("not on this machine" in w.value and "resnet18-f37072fd.pth" in w.value for w in at.warning)
    assert not charts(at)  # nothing is shown with weights that are not there
    at.button(key="in_download").click().run()
    assert not at.exception
    assert any("could not download" in e.value and str(tmp_path) in e.value.replace("\\", "") for e in at.error)
