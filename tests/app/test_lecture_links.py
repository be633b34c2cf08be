"""Lecture mode's scaling hooks, chart downloads and short links, through the whole app (app.py + a page)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import plotly.graph_objects as go
from streamlit.testing.v1 import AppTest

from cnnviz.ui import figures, state
from tests.app.pages import open_page

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _styles(at: AppTest) -> str:
    return " ".join(h.proto.body for h in at.get("html") if "<style" in h.proto.body)


def test_every_chart_has_svg_and_3x_png_downloads() -> None:
    at = open_page(APP, 120)
    charts = at.get("plotly_chart")
    bars = [h.proto.body for h in at.get("html") if 'data-cnnviz-fig="svg"' in h.proto.body]
    assert charts and len(bars) == len(charts)
    for chart, bar in zip(charts, bars):
        config = json.loads(chart.proto.config)
        assert config["toImageButtonOptions"]["scale"] == figures.PNG_SCALE == 3
        assert f'data-scale="{figures.PNG_SCALE}"' in bar and 'data-cnnviz-fig="png"' in bar
        stem = config["toImageButtonOptions"]["filename"]
        assert re.fullmatch(r"[a-z0-9-]+", stem) and f'data-name="{stem}"' in bar


def test_file_stem_is_a_safe_name_from_the_title() -> None:
    assert figures.file_stem(go.Figure(layout={"title": "Parameters <b>per</b> layer"})) == "parameters-per-layer"
    assert figures.file_stem(go.Figure()) == "chart"
    assert figures.file_stem(go.Figure(layout={"title": "<script>x</script> 3x3"})) == "x-3x3"


def test_lecture_mode_scales_the_root_font_and_table_rows() -> None:
    normal = open_page(APP, 120)
    assert "html { font-size" not in _styles(normal)
    lecture = open_page(APP, 120, lecture="1")
    assert f"html {{ font-size: {16 * state.LECTURE_SCALE:.1f}px" in _styles(lecture)
    assert state.LECTURE_SCALE >= 1.3
    assert lecture.session_state["lecture"] is True


def test_links_carry_only_settings_that_differ_from_the_defaults() -> None:
    at = open_page(APP, 120, lecture="0", hm_acc="top5")
    assert "lecture" not in at.query_params and at.query_params["hm_acc"] == "top5"  # defaults are dropped
    at.sidebar.toggle(key="lecture").set_value(True).run()
    assert at.query_params["lecture"] == "1"
    at.sidebar.toggle(key="lecture").set_value(False).run()
    assert "lecture" not in at.query_params


def test_copy_link_is_on_every_page() -> None:
    at = open_page(APP, 120)
    assert any("cnnviz-copy" in h.proto.body and "Copy link" in h.proto.body for h in at.get("html"))
