"""AppTest: the Architecture explorer renders every view, follows each setting, and shows bad settings as messages."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import cnnviz
from cnnviz.analysis import Report, human_count
from cnnviz.ui import explorer as ex
from cnnviz.ui import state
from cnnviz.ui.explorer import short_bytes
from cnnviz.zoo import Setting
from tests.app.pages import open_page

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "explorer.py")
TABS = ("Network", "Layer table", "Charts", "Export")


def page(**query: Any) -> AppTest:
    return open_page(PAGE, 60, **query)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def px(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return ("x".join(map(str, value)) if isinstance(value, list) else str(value)) + " px"


def expected_metrics(report: Report) -> dict[str, str]:
    t = report.totals
    rf = report.receptive_field
    return {"Parameters": human_count(t.params), "MACs": human_count(t.macs), "FLOPs": human_count(t.flops),
            "Depth (layers with weights)": str(t.depth), "Receptive field": px(rf["size"]), "Jump": px(rf["jump"]),
            "Activation values": human_count(t.activation_values),
            "Activation memory": short_bytes(t.activation_bytes), "Parameter memory": short_bytes(t.param_bytes)}


def assert_shows(at: AppTest, report: Report) -> None:
    shown = metrics(at)
    assert {k: shown[k] for k in expected_metrics(report)} == expected_metrics(report)


def exact_params(at: AppTest) -> int:
    """The exact parameter count, from the Parameters metric's help text."""
    help_text = next(m.proto.help for m in at.metric if m.label == "Parameters")
    return int(help_text.split(" ")[0].replace(",", ""))


@pytest.mark.parametrize("name", ["lenet5", "alexnet_paper", "vgg16", "googlenet", "resnet50", "densenet121",
                                  "mobilenet_v2", "resnet20"])
def test_every_view_renders_with_the_engine_numbers(name: str) -> None:
    at = page(ex_model=name)
    report = cnnviz.summarize(name)
    assert_shows(at, report)
    assert exact_params(at) == report.totals.params
    assert len(at.get("plotly_chart")) == 1  # the network drawing
    assert cnnviz.get_spec(name).description.split(" ")[0] in "\n".join(m.value for m in at.markdown)
    for tab in TABS[1:]:
        at.query_params["ex_tab"] = tab
        at.run()
        assert not at.exception, (tab, at.exception)
        assert not at.error, (tab, [e.value for e in at.error])
    at.query_params["ex_tab"] = "Charts"
    at.run()
    assert len(at.get("plotly_chart")) == 4


def other_value(setting: Setting) -> Any:
    """A valid value different from the default."""
    if setting.kind == "bool":
        return not setting.default
    if setting.kind == "choice":
        return next(c for c in setting.choices if c != setting.default)
    if setting.name == "input_size":
        return setting.default * 3 // 4 if setting.default >= 64 else setting.default + 8
    if setting.kind == "int":
        up = setting.default * 2
        return up if setting.max is None or up <= setting.max else max(setting.default // 2, int(setting.min or 1))
    half = setting.default / 2
    return half if setting.default and half >= (setting.min or 0) else (setting.min or 0) + 0.1


def set_widget(at: AppTest, setting: Setting, value: Any) -> None:
    key = f"ex_{setting.name}"
    widget = {"bool": at.toggle, "choice": at.selectbox}.get(setting.kind, at.number_input)(key=key)
    widget.set_value(value)
    at.run()


@pytest.mark.parametrize("name", ["lenet5", "vgg11", "resnet18", "googlenet", "mobilenet_v2", "tinyvgg"])
def test_each_setting_changes_the_numbers_as_the_engine_says(name: str) -> None:
    at = page(ex_model=name)
    for setting in cnnviz.get_spec(name).all_settings:
        value = other_value(setting)
        set_widget(at, setting, value)
        assert not at.exception, (setting.name, at.exception)
        try:
            expected = cnnviz.summarize(name, **{setting.name: value})
        except cnnviz.ConfigError as exc:  # the page must say what the engine says
            assert str(exc) in [e.value for e in at.sidebar.error], setting.name
        else:
            assert not at.error, (setting.name, [e.value for e in at.error])
            assert_shows(at, expected)
            assert exact_params(at) == expected.totals.params, setting.name
        set_widget(at, setting, setting.default)
    assert_shows(at, cnnviz.summarize(name))


def setting_of(name: str, key: str) -> Setting:
    return next(s for s in cnnviz.get_spec(name).all_settings if s.name == key)


def test_settings_that_change_numbers_do_change_them() -> None:
    at = page(ex_model="resnet18")
    before = metrics(at)
    for key, value, changed in (("input_size", 160, "MACs"), ("width_mult", 0.5, "Parameters"),
                                ("num_classes", 10, "Parameters"), ("in_channels", 1, "Parameters"),
                                ("batch_norm", False, "Parameters"), ("skip", False, "MACs")):
        setting = setting_of("resnet18", key)
        set_widget(at, setting, value)
        assert metrics(at)[changed] != before[changed], key
        set_widget(at, setting, setting.default)
    assert metrics(at) == before


def test_training_memory_follows_batch_size_and_optimizer() -> None:
    at = page(ex_model="resnet18")
    report = cnnviz.summarize("resnet18")
    assert metrics(at)["Training memory"] == short_bytes(report.training_memory(32, "adam")["total"])
    at.number_input(key="ex_batch").set_value(8)
    at.selectbox(key="ex_opt").set_value("sgd")
    at.run()
    assert metrics(at)["Training memory"] == short_bytes(report.training_memory(8, "sgd")["total"])
    at.toggle(key="ex_extra").set_value(True)
    at.run()
    assert metrics(at)["FLOPs"] == human_count(cnnviz.summarize("resnet18", include_extra=True).totals.flops)


def test_a_bad_setting_shows_the_engine_message_next_to_its_widget() -> None:
    at = page(ex_model="vgg16")
    at.number_input(key="ex_input_size").set_value(16)
    at.run()
    assert not at.exception
    with pytest.raises(cnnviz.ConfigError) as info:
        cnnviz.summarize("vgg16", input_size=16)
    assert [e.value for e in at.sidebar.error] == [str(info.value)]
    assert any(str(info.value) in e.value and "input size" in e.value for e in at.main.error)
    assert not at.metric  # no stale numbers
    assert any("Simonyan" in m.value for m in at.markdown)  # the rest of the page stays
    at.number_input(key="ex_input_size").set_value(224)
    at.run()
    assert not at.error
    assert_shows(at, cnnviz.summarize("vgg16"))


def test_a_bad_setting_in_the_link_shows_the_message() -> None:
    at = page(ex_model="inception_v3", ex_input_size=60)
    assert any("below the minimum 75" in e.value for e in at.sidebar.error)


def test_the_link_configures_the_page() -> None:
    at = page(ex_model="resnet50", ex_stride_placement="paper", ex_width_mult=0.5, ex_num_classes=10,
              ex_batch=8, ex_opt="sgd", ex_fold="every layer", ex_tab="Layer table")
    expected = cnnviz.summarize("resnet50", stride_placement="paper", width_mult=0.5, num_classes=10)
    assert_shows(at, expected)
    assert metrics(at)["Training memory"] == short_bytes(expected.training_memory(8, "sgd")["total"])
    assert at.selectbox(key="ex_stride_placement").value == "paper"
    assert at.number_input(key="ex_width_mult").value == 0.5
    assert len(at.dataframe[0].value) == len(expected.layers)
    assert at.query_params["ex_width_mult"] == "0.5"


def test_picking_another_model_starts_from_its_defaults() -> None:
    at = page(ex_model="resnet50", ex_width_mult=0.5, ex_input_size=160)
    at.selectbox(key="ex_model").set_value("vgg16")
    at.run()
    assert at.number_input(key="ex_width_mult").value == 1.0
    assert at.number_input(key="ex_input_size").value == 224
    assert "ex_skip" not in at.query_params  # the old model's settings left the URL
    assert_shows(at, cnnviz.summarize("vgg16"))


def test_layer_table_folds_a_resnet_stage_into_one_row() -> None:
    at = page(ex_model="resnet50", ex_tab="Layer table", ex_fold="1")
    table = at.dataframe[0].value
    stage = table[table["layer"] == "layer3"].iloc[0]
    assert (stage["type"], stage["repeat"]) == ("6 x Bottleneck", 6)
    report = cnnviz.summarize("resnet50")
    assert stage["params"] == sum(r.params for r in report.layers if r.name.startswith("layer3."))
    assert table["params"].sum() == report.totals.params


@pytest.mark.parametrize("name", ["lenet5", "vgg16", "resnet50"])
def test_numbers_match_the_command_line(name: str) -> None:
    out = subprocess.run([sys.executable, "-m", "cnnviz", "summary", name, "--format", "json"], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=120)
    cli = json.loads(out.stdout)
    at = page(ex_model=name, ex_tab="Layer table", ex_fold="every layer")
    table = at.dataframe[0].value
    assert list(table["layer"]) == [layer["name"] for layer in cli["layers"]]
    assert list(table["params"]) == [layer["params"] for layer in cli["layers"]]
    assert list(table["MACs"]) == [layer["macs"] for layer in cli["layers"]]
    assert exact_params(at) == cli["totals"]["params"]
    shown = metrics(at)
    assert shown["MACs"] == human_count(cli["totals"]["macs"])
    assert shown["Receptive field"] == f"{cli['receptive_field']['size']} px"
    assert shown["Training memory"] == short_bytes(cli["training_memory"]["total"])


def test_export_tab_shows_the_code_and_exports_onnx() -> None:
    at = page(ex_model="mlp", ex_hidden=64, ex_tab="Export")
    assert 'model = cnnviz.build("mlp", hidden=64)' in at.code[0].value
    export_button = next(b for b in at.button if b.label == "Export to ONNX")
    export_button.click()
    at.run()
    assert not at.exception and not at.error
    labels = [b.proto.label for b in at.get("download_button")]
    assert any(label.startswith("Download mlp_hidden-64.onnx") and "random weights" in label for label in labels)


def test_export_tab_offers_the_four_files() -> None:
    at = page(ex_model="resnet18", ex_tab="Export")
    assert not at.exception and not at.error
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels[:3] == ["PyTorch code (.py)", "Layer table (CSV)", "Layer table and totals (JSON)"]
    assert any(b.label == "Export to ONNX" for b in at.button)


def test_export_refuses_onnx_for_a_big_model() -> None:
    at = page(ex_model="vgg16", ex_tab="Export")
    assert not any(b.label == "Export to ONNX" for b in at.button)
    assert any("ONNX export here is limited" in w.value for w in at.warning)


def test_lecture_mode_hides_advanced_controls() -> None:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["lecture"] = True
    at.query_params["ex_model"] = "googlenet"
    at.query_params["ex_dropout"] = "0.3"
    at.run()
    assert not at.exception
    keys = {w.key for w in at.number_input} | {w.key for w in at.selectbox} | {w.key for w in at.toggle}
    assert {"ex_dropout", "ex_in_channels", "ex_transform_input", "ex_opt", "ex_extra"}.isdisjoint(keys)
    assert {"ex_input_size", "ex_batch_norm", "ex_batch"} <= keys
    assert_shows(at, cnnviz.summarize("googlenet"))


@pytest.mark.parametrize("model,fold,rows", [("lenet5", "every layer", 12), ("resnet18", "auto", 11),
                                             ("googlenet", "auto", 20), ("resnet50", "every layer", 175)])
def test_the_layer_table_is_as_tall_as_its_rows(monkeypatch: pytest.MonkeyPatch, model: str, fold: str,
                                                rows: int) -> None:
    """An 11- or 12-row table shows its output layer without an inner scroll; a long one scrolls in a fixed frame."""
    calls: list[dict[str, Any]] = []
    original = st.dataframe

    def recording(data: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append({"rows": len(data), **kwargs})
        return original(data, *args, **kwargs)

    monkeypatch.setattr(st, "dataframe", recording)
    page(ex_model=model, ex_tab="Layer table", ex_fold=fold)
    (call,) = calls
    assert call["rows"] == rows
    assert call["row_height"] == state.TABLE_ROW_PX
    shown = (call["height"] - 3) // call["row_height"] - 1  # the header takes one row, the frame 3 px
    assert shown == min(rows, state.TABLE_MAX_ROWS)


def test_a_fractional_jump_is_explained_next_to_it() -> None:
    at = page(ex_model="vgg16", ex_input_size=1000)
    assert metrics(at)["Jump"] == "141.714 px"
    captions = "\n".join(c.value for c in at.caption)
    assert "**Jump 141.714 px** is not a whole number: avgpool (AdaptiveAvgPool2d), an adaptive pool" in captions
    assert "Jump 32 px" not in "\n".join(c.value for c in page(ex_model="vgg16").caption)


@pytest.mark.parametrize("mib", [999.7, 1023.5, 1023.999])
def test_memory_never_in_scientific_notation(mib: float) -> None:
    text = short_bytes(mib * 2**20)
    assert "e+" not in text and text.endswith("MiB"), text
