"""AppTest: the Compare page shows two to four configured models, their totals and what changed."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import cnnviz
from cnnviz.analysis import human_count
from cnnviz.ui.charts import rf_growth_chart
from tests.app.pages import open_page

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "compare.py")


def page(**query: Any) -> AppTest:
    return open_page(PAGE, 60, **query)


def totals(at: AppTest) -> pd.DataFrame:
    return at.table[0].value


def exact(cell: str) -> int:
    """``25.56M (25,557,032)`` -> 25557032."""
    return int(cell.split("(")[1].rstrip(")").replace(",", ""))


def changes(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_default_compares_resnet50_with_plain50() -> None:
    at = page()
    table = totals(at)
    assert list(table.columns) == ["1: resnet50", "2: plain50"]
    for column, name in zip(table.columns, ("resnet50", "plain50")):
        report = cnnviz.summarize(name)
        assert exact(table.loc["parameters", column]) == report.totals.params
        assert exact(table.loc["MACs", column]) == report.totals.macs
        assert table.loc["Depth (layers with weights)", column] == str(report.totals.depth) == "50"
        assert table.loc["receptive field (px)", column] == str(report.receptive_field["size"])
    delta = cnnviz.summarize("plain50").totals.params - cnnviz.summarize("resnet50").totals.params
    text = changes(at)
    assert f"-{human_count(-delta)} params" in text
    assert "downsample (the projection shortcuts): 4 x Conv2d 1x1, 4 x BatchNorm2d: 2.78M params" in text
    assert "only resnet50 has skip, shortcut, zero init residual" in text


@pytest.mark.parametrize("count", [3, 4])
def test_three_and_four_models(count: int) -> None:
    at = page(cmp_n=count)
    table = totals(at)
    assert len(table.columns) == count
    names = ["resnet50", "plain50", "vgg16", "googlenet"][:count]
    for column, name in zip(table.columns, names):
        assert exact(table.loc["parameters", column]) == cnnviz.summarize(name).totals.params
    assert changes(at).count(" against 1: resnet50") == count - 1


def test_a_setting_changes_its_column_and_the_words() -> None:
    at = page(c1_model="resnet18", c2_model="resnet18")
    assert "**Settings:** identical" in changes(at)
    at.number_input(key="c2_width_mult").set_value(0.5)
    at.run()
    table = totals(at)
    expected = cnnviz.summarize("resnet18", width_mult=0.5)
    assert list(table.columns) == ["1: resnet18", "2: resnet18 (width_mult=0.5)"]
    assert exact(table.loc["parameters", table.columns[1]]) == expected.totals.params
    text = changes(at)
    assert "width multiplier 1.0 → 0.5" in text
    delta = expected.totals.params - cnnviz.summarize("resnet18").totals.params
    assert f"-{human_count(-delta)} params" in text
    assert "Layers both run, resized" in text


def test_the_link_configures_every_model() -> None:
    at = page(cmp_n=3, c1_model="vgg16", c2_model="vgg16", c2_batch_norm=1, c3_model="lenet5", c3_variant="paper",
              cmp_tab="Parameters per stage")
    table = totals(at)
    expected = [cnnviz.summarize("vgg16"), cnnviz.summarize("vgg16", batch_norm=True),
                cnnviz.summarize("lenet5", variant="paper")]
    assert [exact(table.loc["parameters", c]) for c in table.columns] == [r.totals.params for r in expected]
    assert at.toggle(key="c2_batch_norm").value is True
    assert len(at.get("plotly_chart")) == 1


@pytest.mark.parametrize("tab", ["Cumulative MACs", "Parameters per stage", "Receptive field growth"])
def test_each_chart_renders(tab: str) -> None:
    at = page(cmp_n=4, cmp_tab=tab)
    assert len(at.get("plotly_chart")) == 1


def test_a_bad_setting_shows_its_message_and_keeps_the_rest() -> None:
    at = page(cmp_n=3, c3_model="vgg16")
    at.number_input(key="c3_input_size").set_value(16)
    at.run()
    assert not at.exception
    with pytest.raises(cnnviz.ConfigError) as info:
        cnnviz.summarize("vgg16", input_size=16)
    assert any(str(info.value) in e.value for e in at.error)
    assert list(totals(at).columns) == ["1: resnet50", "2: plain50"]  # the other two are still compared


def test_too_few_valid_models_says_so() -> None:
    at = page(c2_model="vgg16", c2_input_size=8)
    assert any("below the minimum" in e.value for e in at.error)
    assert not at.table
    assert any("at least two models" in i.value for i in at.info)


@pytest.mark.parametrize("a,b", [("alexnet_paper", "vgg16"), ("plain50", "resnet50"), ("lenet5", "resnet18"),
                                 ("mobilenet_v1", "vgg16")])
def test_no_parameters_for_a_parameter_free_layer(a: str, b: str) -> None:
    at = page(c1_model=a, c2_model=b)
    reports = [cnnviz.summarize(a), cnnviz.summarize(b)]
    free = {r.type for rep in reports for r in rep.layers} - {r.type for rep in reports for r in rep.layers
                                                              if r.params}
    assert "ReLU" in free
    text = changes(at)
    named = set(re.findall(r"(\w+) [+-][\d.,]+[KMGT]? params", text))  # "Conv2d -17.3M params"
    assert not named & free, named & free
    kinds = at.table[1].value  # by layer kind: kinds without weights show a count, never parameters
    for kind in ("pooling", "activation"):
        assert not any("params" in cell for cell in kinds.loc[kind]), kinds.loc[kind]
    assert all(kinds.loc["convolution", c].split(" ")[0].isdigit() for c in kinds.columns)


def test_unrelated_networks_are_compared_by_kind() -> None:
    at = page(c1_model="alexnet_paper", c2_model="vgg16")
    text = changes(at)
    assert "**vgg16 is built from:** 13 x Conv2d 3x3, 5 x MaxPool2d, 3 x Linear" in text
    assert "**Parameters by layer kind (vgg16 vs alexnet_paper):** convolution +12.38M, fully connected +65.01M." \
        in text
    assert totals(at).loc["Depth (layers with weights)"].tolist() == ["8", "16"]


def test_receptive_field_growth_follows_depth() -> None:
    """The chart's x axis is depth: residual and plain twins both end at depth 49 (the fc layer sees everything)."""
    fig = rf_growth_chart([cnnviz.summarize("resnet50"), cnnviz.summarize("plain50"), cnnviz.summarize("googlenet")],
                          ["resnet50", "plain50", "googlenet"])
    for trace, last in zip(fig.data, (49, 49, 21)):
        xs = list(trace.x)
        assert xs == sorted(xs) and xs[-1] == last


def test_a_kind_one_network_lacks_reads_none() -> None:
    """plain50 has no merges: its cell says so in a word, not a '-' that the table would draw as a bullet."""
    from cnnviz.ui import compare as cmp_ui

    assert cmp_ui.kind_text(None) == "none"
