"""AppTest: the Layer lab page renders, answers every main setting, shows bad settings as messages."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

from tests.app.pages import open_page

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "layer_lab.py")


def _page(**query: str) -> AppTest:
    return open_page(PAGE, 60, **query)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _latex(at: AppTest) -> str:
    return "\n".join(e.value for e in at.latex)


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _torch_layer(settings: dict) -> tuple[tuple[int, ...], int]:
    """Output shape and parameter count of the layer, by running it in PyTorch (independent of cnnviz)."""
    s = {"kind": "conv", "h": 32, "w": 32, "c": 3, "f": 5, "k": 10, "s": 1, "pad": "number", "p": 2, "d": 1, "g": 1,
         "bias": True, **settings}
    padding = {"valid": 0, "same": "same"}.get(s["pad"], s["p"])
    if s["kind"] == "conv":
        layer = nn.Conv2d(s["c"], s["k"], s["f"], s["s"], padding, s["d"], s["g"], s["bias"])
    else:
        padding = (s["f"] - 1) // 2 if padding == "same" else padding
        layer = nn.MaxPool2d(s["f"], s["s"], padding, s["d"]) if s["kind"] == "max" else nn.AvgPool2d(
            s["f"], s["s"], padding)
    out = layer(torch.zeros(1, s["c"], s["h"], s["w"])).shape[1:]
    return (out[1], out[2], out[0]), sum(p.numel() for p in layer.parameters())


def test_renders_the_course_notes_exercise_by_default() -> None:
    at = _page()
    assert _metrics(at)["Output volume"] == "32x32x10"
    assert _metrics(at)["Parameters"] == "760"
    text = _latex(at)
    assert "\\frac{32 - 5 + 2 \\cdot 2}{1} + 1 \\\\ &= 31 + 1 = 32" in text
    assert "= 75 \\cdot 10 + 10 = 760" in text
    assert len(at.get("plotly_chart")) == 1  # the volume drawing


@pytest.mark.parametrize("key,value,settings", [
    ("ll_h", 64, {"h": 64}),
    ("ll_w", 17, {"w": 17}),
    ("ll_c", 16, {"c": 16}),
    ("ll_f", 3, {"f": 3}),
    ("ll_k", 64, {"k": 64}),
    ("ll_s", 3, {"s": 3}),
    ("ll_p", 0, {"p": 0}),
    ("ll_d", 2, {"d": 2}),
])
def test_each_number_setting_changes_the_numbers(key: str, value: int, settings: dict) -> None:
    at = _page()
    at.number_input(key=key).set_value(value).run()
    assert not at.exception and not at.error
    (h, w, d), params = _torch_layer(settings)
    assert _metrics(at)["Output volume"] == f"{h}x{w}x{d}"
    assert _metrics(at)["Parameters"] == f"{params:,}"
    assert at.query_params[key] == str(value)  # the link reproduces the page


def test_layer_kind_padding_groups_and_bias() -> None:
    at = _page()
    at.selectbox(key="ll_pad").set_value("valid").run()
    assert _metrics(at)["Output volume"] == "28x28x10"
    at.selectbox(key="ll_pad").set_value("same").run()
    assert _metrics(at)["Output volume"] == "32x32x10"
    assert "P = \\frac{F-1}{2} = \\frac{5-1}{2} = 2" in _latex(at)
    at.toggle(key="ll_bias").set_value(False).run()
    assert _metrics(at)["Parameters"] == "750"
    at.number_input(key="ll_c").set_value(4)
    at.number_input(key="ll_k").set_value(8)
    at.number_input(key="ll_g").set_value(4).run()
    (_, _, _), params = _torch_layer({"c": 4, "k": 8, "g": 4, "pad": "same", "bias": False})
    assert _metrics(at)["Parameters"] == f"{params:,}" == "200"  # 5x5x(4/4) weights per filter, 8 filters
    at.button_group(key="ll_kind").set_value("max").run()
    assert _metrics(at)["Output volume"] == "32x32x4" and _metrics(at)["Parameters"] == "0"
    assert "D_2 = D_1 = 4" in _latex(at)


@pytest.mark.parametrize("label,volume,params", [
    ("Course notes' exercise", "32x32x10", "760"),
    ("AlexNet CONV1", "55x55x96", "34,944"),
    ("AlexNet POOL1", "27x27x96", "0"),
    ("1x1 convolution", "28x28x32", "6,176"),
    ("Depthwise 3x3", "112x112x32", "288"),
])
def test_presets_load_the_worked_examples(label: str, volume: str, params: str) -> None:
    at = _page(ll_k="3")
    _button(at, label).click().run()
    assert _metrics(at)["Output volume"] == volume and _metrics(at)["Parameters"] == params


@pytest.mark.parametrize("changes,message", [
    ({"ll_s": 0}, "stride must be at least 1"),
    ({"ll_g": 2}, "must be divisible by the number of groups"),
    ({"ll_f": 40}, "smaller than the kernel"),
])
def test_a_bad_setting_shows_the_message_and_the_rest_stays(changes: dict, message: str) -> None:
    at = _page()
    widgets = len(at.number_input)
    for key, value in changes.items():
        at.number_input(key=key).set_value(value)
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and message in at.error[0].value
    assert len(at.number_input) == widgets  # every widget still there to fix it
    assert not at.metric and any("Change the setting" in i.value for i in at.info)
    at.number_input(key=next(iter(changes))).set_value({"ll_s": 1, "ll_g": 1, "ll_f": 5}[next(iter(changes))]).run()
    assert not at.error and _metrics(at)["Output volume"] == "32x32x10"


def test_url_sets_the_widgets() -> None:
    at = _page(ll_h="227", ll_w="227", ll_f="11", ll_k="96", ll_s="4", ll_pad="valid")
    assert at.number_input(key="ll_k").value == 96
    assert _metrics(at)["Output volume"] == "55x55x96"
    bad = _page(ll_k="lots")
    assert any("Ignored the link's setting ll_k" in w.value for w in bad.warning)
    assert _metrics(bad)["Output volume"] == "32x32x10"


# ---------------------------------------------------------------------------------------------
# The sliding window
# ---------------------------------------------------------------------------------------------
def test_sliding_window_max_pool_preset_steps_through_the_notes_example() -> None:
    at = _page(ll_sec="Sliding window")
    _button(at, "2x2 max pool").click().run()
    values = []
    for step in range(1, 5):
        at.slider(key="ll_step").set_value(step).run()
        values.append(_latex(at).split("=")[-1].strip(" $\n"))
    assert values == ["6", "8", "3", "4"]
    assert any("output is 2x2" in s.value for s in at.success)


@pytest.mark.parametrize("label,steps", [("7x7, S=1 → 5x5", 25), ("7x7, S=2 → 3x3", 9), ("7x7, P=1 → 7x7", 49)])
def test_sliding_window_presets_have_the_notes_output_sizes(label: str, steps: int) -> None:
    at = _page(ll_sec="Sliding window")
    _button(at, label).click().run()
    assert at.slider(key="ll_step").max == steps


def test_sliding_window_step_shows_the_right_sum() -> None:
    at = _page(ll_sec="Sliding window", ll_sx="1, 2, 3; 4, 5, 6; 7, 8, 9", ll_sw="1, 0; 0, -1")
    at.slider(key="ll_step").set_value(4).run()  # output (2, 2): 5*1 + 6*0 + 8*0 + 9*(-1)
    assert "5 \\cdot 1 + 6 \\cdot 0" in _latex(at) and "&= -4" in _latex(at)
    at.number_input(key="ll_ss").set_value(0).run()
    assert "stride must be at least 1" in at.error[0].value
    at.number_input(key="ll_ss").set_value(1)
    at.text_input(key="ll_sw").set_value("1, 2; 3").run()
    assert "same number of values" in at.error[0].value


def test_play_disables_the_step_slider() -> None:
    at = _page(ll_sec="Sliding window")
    at.toggle(key="ll_play").set_value(True).run()
    assert not at.exception and at.slider(key="ll_step").disabled


# ---------------------------------------------------------------------------------------------
# 1x1 convolutions and bottlenecks
# ---------------------------------------------------------------------------------------------
def test_bottleneck_story_recomputed_for_the_users_sizes() -> None:
    at = _page(ll_sec="1x1 & bottlenecks")
    text = _latex(at)
    assert "120{,}422{,}400 \\approx 120.4\\text{M}" in text and "= 12.4\\text{M}" in text
    assert "69{,}632" in text and "589{,}824" in text
    assert "28 \\times 28 \\times 672" in text
    assert "27C^2" in text and "49C^2" in text
    at.number_input(key="ll_bm").set_value(32).run()
    with_mid = 28 * 28 * 32 * 192 + 28 * 28 * 32 * 25 * 32
    assert f"= {with_mid / 1e6:.1f}\\text{{M}}" in _latex(at)
    at.number_input(key="ll_rm").set_value(128).run()
    assert f"{256 * 128 * 2 + 9 * 128 * 128:,}".replace(",", "{,}") in _latex(at)
    _button(at, "Course notes' module with 1x1 reductions: 28x28x192").click().run()
    assert "28 \\times 28 \\times (64 + 128 + 32 + 32) = 28 \\times 28 \\times 256" in _latex(at)
    at.number_input(key="ll_vn").set_value(2).run()
    assert "= 5" in _latex(at) and "18C^2" in _latex(at)


# ---------------------------------------------------------------------------------------------
# Activations, softmax and the other layers
# ---------------------------------------------------------------------------------------------
def test_activation_values_follow_the_slider() -> None:
    at = _page(ll_sec="Activations & softmax")
    at.slider(key="ll_x").set_value(-1.5).run()
    table = at.dataframe[0].value
    row = table[table["function"] == "Sigmoid"].iloc[0]
    assert row["f(x)"] == pytest.approx(torch.sigmoid(torch.tensor(-1.5)).item(), abs=1e-6)
    assert row["f'(x)"] == pytest.approx(0.149146, abs=1e-5)
    at.slider(key="ll_x").set_value(-6.0).run()
    table = at.dataframe[0].value
    assert bool(table[table["function"] == "Sigmoid"].iloc[0]["saturated"])
    assert not bool(table[table["function"] == "Leaky ReLU"].iloc[0]["saturated"])


def test_softmax_from_the_url_scores_and_temperature() -> None:
    at = _page(ll_sec="Activations & softmax", ll_scores="a:1,b:2,c:3", ll_temp="2.0")
    probs = at.dataframe[-1].value["probability"].to_numpy()
    np.testing.assert_allclose(probs, torch.softmax(torch.tensor([1.0, 2, 3]) / 2, 0).numpy(), rtol=1e-5)
    at.number_input(key="ll_temp").set_value(0.5).run()
    probs = at.dataframe[-1].value["probability"].to_numpy()
    np.testing.assert_allclose(probs, torch.softmax(torch.tensor([1.0, 2, 3]) / 0.5, 0).numpy(), rtol=1e-5)


def test_other_layers_fc_batch_norm_and_bad_input() -> None:
    at = _page(ll_sec="Dropout, BN, LRN, FC")
    assert "= 30{,}730" in _latex(at)
    at.number_input(key="ll_fn").set_value(100).run()
    assert "= 307{,}300" in _latex(at)
    at.text_input(key="ll_bnx").set_value("2, 4").run()
    assert "\\mu = 3" in _latex(at) and "\\sigma^2 = 1" in _latex(at)
    at.text_input(key="ll_bnx").set_value("2").run()
    assert "at least 2" in at.error[0].value
    assert "= 307{,}300" in _latex(at)  # the rest of the page stays


def test_lecture_mode_makes_charts_taller() -> None:
    normal = _page()
    lecture = AppTest.from_file(PAGE, default_timeout=60)
    lecture.session_state["lecture"] = True
    lecture.run()

    def height(at: AppTest) -> int:
        return json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["height"]

    assert height(lecture) > height(normal)


def _warnings(at: AppTest) -> str:
    return "\n".join(w.value for w in at.warning)


def test_a_stride_that_does_not_fit_says_so_with_the_numbers() -> None:
    at = _page(ll_h=7, ll_w=7, ll_f=3, ll_s=3, ll_pad="valid")
    assert _metrics(at)["Output volume"] == "2x2x10"  # floored, as PyTorch does
    text = _warnings(at)
    assert "(N - F + 2P)/S = (7 - 3 + 2·0)/3 = 4/3 is not a whole number" in text
    assert "the last row and column of the input are never covered" in text and "⌊4/3⌋ + 1 = 2" in text
    assert "Strides that fit: 1, 2, 4" in text
    assert _warnings(_page(ll_h=7, ll_w=7, ll_f=3, ll_s=2, ll_pad="valid")) == ""  # (7 - 3)/2 = 2 fits
    assert _warnings(_page()) == ""  # the course notes' exercise fits


def test_the_sliding_window_shows_the_misfit_and_its_preset() -> None:
    at = _page(ll_sec="Sliding window")
    _button(at, "7x7, S=3: does not fit").click().run()
    assert "4/3 is not a whole number" in _warnings(at)
    assert "Output 2x2 = 4 steps" in " ".join(c.value for c in at.caption)
    assert _warnings(_page(ll_sec="Sliding window")) == ""


def test_stacked_3x3_fields_explain_the_notes_3_9_27() -> None:
    at = _page(ll_sec="1x1 & bottlenecks")
    table = next(d.value for d in at.dataframe if "After layer" in d.value.columns)
    assert list(table["Stride 1 (as above)"]) == ["3x3", "5x5", "7x7"]
    assert list(table["Stride 3"]) == ["3x3", "9x9", "27x27"]
    text = " ".join(c.value for c in at.caption)
    assert "9x9 pixels and the third 27x27" in text and "stride 3" in text and "(3, 5, 7)" in text
