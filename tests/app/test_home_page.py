"""AppTest: the app shell (navigation in course order, lecture mode) and the Home page's charts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torchvision
from streamlit.testing.v1 import AppTest
from torchvision.models import get_model_weights, list_models

from cnnviz.ui.home import COURSE, available_pages
from cnnviz.zoo import list_models as zoo_models
from tests.app.pages import open_page

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def _app(**query: str) -> AppTest:
    return open_page(APP, 120, **query)


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _timeline(at: AppTest) -> dict:
    return next(f for f in _figures(at) if "ILSVRC" in f["layout"]["title"]["text"])


def _bubbles(at: AppTest) -> dict:
    return next(f for f in _figures(at) if "against compute" in f["layout"]["title"]["text"])


def _torchvision_classifiers() -> dict[str, dict]:
    """Every torchvision classifier with ImageNet metadata, read independently of cnnviz."""
    out = {}
    for name in list_models(module=torchvision.models):
        meta = get_model_weights(name).DEFAULT.meta
        out[name] = meta["_metrics"]["ImageNet-1K"] | {"gmacs": meta["_ops"], "params": meta["num_params"]}
    return out


def test_home_renders_with_links_to_every_page_in_course_order() -> None:
    at = _app()
    assert "cnnviz" in at.title[0].value
    links = [e.proto.label for e in at.main.get("page_link")]  # the sidebar has its own
    expected = [p.title for section, pages in available_pages().items() if section != "Start" for p in pages]
    assert links == expected and "Layer lab" in links
    order = list(COURSE)
    shown = [h.value for h in at.subheader]
    assert [s for s in order if s in shown] == [s for s in shown if s in order]  # sections keep the course order


def test_navigation_lists_only_pages_that_exist(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    for stem in ("home", "layer_lab", "training"):
        (tmp_path / "pages" / f"{stem}.py").write_text("")
    pages = available_pages(tmp_path)
    assert list(pages) == ["Start", "Layers", "Training"]
    assert [p.stem for p in pages["Training"]] == ["training"]
    assert list(COURSE) == ["Start", "Layers", "Architectures", "Seeing inside", "Training"]


def test_timeline_shows_the_notes_numbers_and_human_error() -> None:
    fig = _timeline(_app())
    bars = fig["data"][0]
    results = {x.split("<br>")[1]: (y, x.split("<br>")[2:]) for x, y in zip(bars["x"], bars["y"])}
    assert results["AlexNet"] == (16.4, ["8 layers"]) and results["ZFNet"] == (11.7, ["8 layers"])
    assert results["GoogLeNet"] == (6.7, ["22 layers"]) and results["VGG"] == (7.3, ["19 layers"])
    assert results["ResNet"] == (3.57, ["152 layers"])
    assert results["NEC-UIUC"] == (28.2, []) and results["XRCE"] == (25.8, [])  # before CNNs
    assert fig["layout"]["shapes"][0]["y0"] == 5.1  # the human error line
    assert "15.3%" in " ".join(bars["customdata"])  # the course notes' other AlexNet number is explained


def test_runners_up_toggle() -> None:
    at = _app()
    assert len(_timeline(at)["data"][0]["x"]) == 8
    at.toggle(key="hm_runner").set_value(False).run()
    x = _timeline(at)["data"][0]["x"]
    assert len(x) == 6 and not any("VGG" in t for t in x)


def test_bubble_chart_has_every_torchvision_classifier() -> None:
    at = _app()
    fig = _bubbles(at)
    reference = _torchvision_classifiers()
    points = {cd[0]: (x, y) for trace in fig["data"] for cd, x, y in zip(trace["customdata"], trace["x"], trace["y"])}
    assert set(points) == set(reference)
    for name, (gmacs, top1) in points.items():
        assert (gmacs, top1) == (reference[name]["gmacs"], reference[name]["acc@1"])
    assert fig["layout"]["xaxis"]["type"] == "log"


def test_zoo_toggle_and_top5() -> None:
    at = _app(hm_zoo="1")
    assert at.toggle(key="hm_zoo").value is True  # set by the link
    zoo = {s.torchvision for s in zoo_models() if s.torchvision} & set(_torchvision_classifiers())
    names = {cd[0] for trace in _bubbles(at)["data"] for cd in trace["customdata"]}
    assert names == zoo and len(names) >= 20
    assert all(w == 3 for trace in _bubbles(at)["data"] for w in trace["marker"]["line"]["width"])  # all ringed
    at.button_group(key="hm_acc").set_value("top5").run()
    reference = _torchvision_classifiers()
    for trace in _bubbles(at)["data"]:
        for cd, y in zip(trace["customdata"], trace["y"]):
            assert y == reference[cd[0]]["acc@5"]


@pytest.mark.parametrize("query", [{}, {"lecture": "1"}])
def test_lecture_mode_in_the_sidebar_enlarges_charts(query: dict) -> None:
    at = _app(**query)
    assert at.sidebar.toggle(key="lecture").value is bool(query)
    height = _timeline(at)["layout"]["height"]
    at.sidebar.toggle(key="lecture").set_value(not query).run()
    assert (_timeline(at)["layout"]["height"] > height) is not bool(query)


def test_a_zoo_model_opens_in_the_explorer() -> None:
    at = _app()
    if "explorer" not in [p.stem for pages in available_pages().values() for p in pages]:
        pytest.skip("the explorer page is not in this checkout")
    assert at.selectbox(key="hm_open").options == sorted(s.name for s in zoo_models() if s.torchvision
                                                         and s.torchvision in _torchvision_classifiers())
    at.selectbox(key="hm_open").set_value("vgg16").run()
    link = next(e.proto for e in at.get("page_link") if e.proto.label.startswith("Open vgg16"))
    assert (link.page, link.query_string) == ("explorer", "ex_model=vgg16")


def test_resnets_label_sits_above_the_human_line() -> None:
    fig = _timeline(_app())
    bars = fig["data"][0]
    resnet = next(i for i, x in enumerate(bars["x"]) if "ResNet" in x)
    assert bars["text"][resnet] == ""  # not just above the 3.57 bar, where the 5.1 line runs
    label = next(a for a in fig["layout"]["annotations"] if a["text"] == "3.57%")
    assert label["y"] == 3.57 and label["ay"] > 5.1 + 2 and label["yanchor"] == "bottom"  # arrow from above the line
    assert all(t for x, t, y in zip(bars["x"], bars["text"], bars["y"]) if y > 5.1)  # the others keep theirs
