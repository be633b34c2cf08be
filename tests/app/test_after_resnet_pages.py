"""AppTest: the networks after ResNet are in the explorer's model picker (their own family) and ringed as zoo
models on the home page's accuracy-against-compute chart."""
from __future__ import annotations

import json
from pathlib import Path

import cnnviz
from cnnviz.analysis import human_count
from cnnviz.zoo.base import AFTER_RESNET
from tests.app.pages import open_page

ROOT = Path(__file__).resolve().parents[2]
NAMES = [s.name for s in cnnviz.list_models(AFTER_RESNET)]


def test_explorer_lists_and_opens_them() -> None:
    at = open_page(str(ROOT / "pages" / "explorer.py"), 120, ex_model="swin_t")
    options = at.selectbox(key="ex_model").options
    group = [i for i, o in enumerate(options) if o.startswith("after ResNet · ")]
    assert sorted(options[i] for i in group) == sorted(f"after ResNet · {n}" for n in NAMES)
    assert group == list(range(group[0], group[0] + len(NAMES)))  # one group of their own, together
    assert group[-1] == len(options) - 1 or options[group[-1] + 1].endswith("· custom")  # after the course's
    assert len(NAMES) == 8
    assert not at.exception and not at.error
    report = cnnviz.summarize("swin_t")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Parameters"] == human_count(report.totals.params) and shown["MACs"] == human_count(report.totals.macs)


def test_home_chart_rings_them() -> None:
    at = open_page(str(ROOT / "app.py"), 120)
    fig = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
               if "against compute" in json.loads(c.proto.spec)["layout"]["title"]["text"])
    ring = {cd[0]: w for trace in fig["data"] for cd, w in zip(trace["customdata"], trace["marker"]["line"]["width"])}
    assert all(ring[cnnviz.get_spec(n).torchvision] == 3 for n in NAMES)
