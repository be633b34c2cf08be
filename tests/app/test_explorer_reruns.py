"""AppTest: a widget change on the explorer rebuilds only the figures it affects, counted per figure kind."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Callable

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.ui import explorer as ex
from tests.app.pages import open_page

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "explorer.py")
CHARTS = ("params", "macs", "memory", "rf")


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Figure builds per kind, from an empty figure cache."""
    counts: Counter[str] = Counter()

    def counting(kind: str, build: Callable[..., go.Figure]) -> Callable[..., go.Figure]:
        def wrapped(*args: Any, **kwargs: Any) -> go.Figure:
            counts[kind] += 1
            return build(*args, **kwargs)
        return wrapped

    for kind, build in list(ex.FIGURES.items()):
        monkeypatch.setitem(ex.FIGURES, kind, counting(kind, build))
    ex._figure.clear()
    return counts


def change(at: AppTest, builds: Counter[str], widget: Any, value: Any) -> Counter[str]:
    """Set ``widget`` to ``value``, rerun, and return the figures that run built."""
    builds.clear()
    widget.set_value(value)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return Counter(builds)


def test_network_tab_builds_the_drawing_once_per_model(builds: Counter[str]) -> None:
    at = open_page(PAGE, 60, ex_model="resnet18")
    assert builds == {"drawing": 1}
    assert change(at, builds, at.number_input(key="ex_batch"), 8) == {}  # training memory only: no figure
    assert change(at, builds, at.selectbox(key="ex_opt"), "sgd") == {}
    assert change(at, builds, at.number_input(key="ex_num_classes"), 10) == {"drawing": 1}
    assert change(at, builds, at.number_input(key="ex_num_classes"), 1000) == {}  # the first drawing, kept


def test_closed_tabs_build_nothing_and_charts_follow_the_model_only(builds: Counter[str]) -> None:
    at = open_page(PAGE, 60, ex_model="resnet18", ex_tab="Charts")
    assert builds == {kind: 1 for kind in CHARTS}  # the Network tab is closed: no drawing
    assert change(at, builds, at.number_input(key="ex_batch"), 8) == {}
    assert change(at, builds, at.number_input(key="ex_num_classes"), 10) == {kind: 1 for kind in CHARTS}


def test_the_layer_table_fold_builds_no_figure(builds: Counter[str]) -> None:
    at = open_page(PAGE, 60, ex_model="resnet50", ex_tab="Layer table")
    assert builds == {}
    assert change(at, builds, at.radio(key="ex_fold"), "1") == {}
    assert len(at.dataframe[0].value) < 30  # the stages folded
