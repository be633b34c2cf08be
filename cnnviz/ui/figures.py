"""Figures for slides: every chart with visible SVG and PNG (3x) downloads, and the layer graph's files.

A chart's downloads are made in the browser from the chart plotly has drawn there (plotly draws SVG), so they
need no server-side renderer (kaleido would need its own Chrome) and carry the fonts the chart has on screen,
lecture mode's included. The PNG is that SVG painted at three times its pixels.
"""
from __future__ import annotations

import re
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from cnnviz.export.drawing import ORIENTATIONS, diagram, render
from cnnviz.ui.model_settings import cached_report

PNG_SCALE = 3

# Event delegation on the document, installed once: a click on a bar's button finds the last chart before the
# bar, copies plotly's drawing (on a white ground, which slides expect) and saves it.
_SCRIPT = """
<script>
if (!window.cnnvizFigures) {
  window.cnnvizFigures = true;
  const save = (blob, name) => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = name; document.body.appendChild(a); a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  };
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-cnnviz-fig]");
    if (!button) return;
    const bar = button.closest(".stElementContainer") || button;
    const charts = [...document.querySelectorAll(".stPlotlyChart")]
      .filter((c) => c.compareDocumentPosition(bar) & Node.DOCUMENT_POSITION_FOLLOWING);
    // plotly stacks several SVG layers at one origin (the plot, then titles, legend and annotations): one file
    // holds them all, in order, so the title and the legend are in it too
    const layers = charts.length ? [...charts[charts.length - 1].querySelectorAll("svg.main-svg")] : [];
    if (!layers.length) return;
    const NS = "http://www.w3.org/2000/svg";
    const w = +layers[0].getAttribute("width"), h = +layers[0].getAttribute("height");
    const copy = document.createElementNS(NS, "svg");
    copy.setAttribute("xmlns", NS); copy.setAttribute("xmlns:xlink", "http://www.w3.org/1999/xlink");
    copy.setAttribute("width", w); copy.setAttribute("height", h); copy.setAttribute("viewBox", `0 0 ${w} ${h}`);
    const ground = document.createElementNS(NS, "rect");
    ground.setAttribute("width", w); ground.setAttribute("height", h); ground.setAttribute("fill", "white");
    copy.appendChild(ground);
    for (const layer of layers) {
      const group = document.createElementNS(NS, "g");
      for (const child of layer.childNodes) group.appendChild(child.cloneNode(true));
      copy.appendChild(group);
    }
    const text = new XMLSerializer().serializeToString(copy);
    const name = button.dataset.name;
    if (button.dataset.cnnvizFig === "svg") {
      save(new Blob([text], {type: "image/svg+xml"}), name + ".svg");
      return;
    }
    const scale = +button.dataset.scale;
    const img = new Image();
    img.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
      const ctx = canvas.getContext("2d");
      ctx.scale(scale, scale); ctx.drawImage(img, 0, 0);
      canvas.toBlob((blob) => save(blob, name + ".png"), "image/png");
    };
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text);
  });
}
</script>
"""
_STYLE = """
<style>
.cnnviz-fig { display: flex; gap: .4rem; justify-content: flex-end; margin-top: -.6rem; }
.cnnviz-fig button { font-size: .8rem; padding: .1rem .6rem; border: 1px solid #ccc; border-radius: .4rem;
  background: white; color: #444; cursor: pointer; }
.cnnviz-fig button:hover { border-color: #ff4b4b; color: #ff4b4b; }
</style>
"""


def file_stem(fig: go.Figure) -> str:
    """A file name from the chart's title: ``Parameters per layer`` -> ``parameters-per-layer``."""
    title = fig.layout.title.text or "chart"
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"<[^>]*>", " ", title).lower()).strip("-")[:60] or "chart"


def download_bar(stem: str) -> str:
    """The bar of buttons under a chart (HTML; the script that serves it is installed once per page)."""
    return (_STYLE + _SCRIPT + f'<div class="cnnviz-fig">'
            f'<button data-cnnviz-fig="svg" data-name="{stem}" title="The chart as a vector drawing">SVG</button>'
            f'<button data-cnnviz-fig="png" data-scale="{PNG_SCALE}" data-name="{stem}" '
            f'title="The chart at {PNG_SCALE}x its pixels, for slides">PNG ({PNG_SCALE}x)</button></div>')


def chart_in(where: DeltaGenerator, fig: go.Figure, **kwargs: Any) -> Any:
    """``where.plotly_chart(fig, **kwargs)`` with SVG and PNG downloads under it; plotly's own camera button
    (always shown) also saves a PNG at 3x."""
    config = {"displaylogo": False, **kwargs.pop("config", {}), "displayModeBar": True,
              "toImageButtonOptions": {"format": "png", "scale": PNG_SCALE, "filename": file_stem(fig)}}
    out = where.plotly_chart(fig, config=config, **kwargs)
    where.html(download_bar(file_stem(fig)), unsafe_allow_javascript=True)
    return out


def chart(fig: go.Figure, **kwargs: Any) -> Any:
    """:func:`chart_in` the current container."""
    return chart_in(st, fig, **kwargs)


@st.cache_data(show_spinner="Drawing the layer graph...", max_entries=32)
def layer_graph_file(name: str, frozen: tuple, fmt: str, orientation: str, scale: float) -> bytes:
    """The zoo model's layer graph as a file (cached: a DenseNet takes seconds)."""
    return render(diagram(cached_report(name, frozen)), fmt, orientation, scale=scale)


def show_layer_graph(name: str, frozen: tuple, key: str) -> None:
    """The layer graph with its skip connections and branches: a preview and SVG, PNG (3x) and PDF downloads."""
    orientation = st.segmented_control("Layer graph", ORIENTATIONS, default="horizontal", key=f"{key}_orient",
                                       required=True, help="Every convolution, pooling, fully connected layer and "
                                       "merge as a box; shortcuts are red arcs, branches sit side by side")
    st.image(layer_graph_file(name, frozen, "png", orientation, 1.0), width="content")
    with st.container(horizontal=True):
        for fmt, scale, mime in (("svg", 1.0, "image/svg+xml"), ("png", float(PNG_SCALE), "image/png"),
                                 ("pdf", 1.0, "application/pdf")):
            st.download_button(f"{fmt.upper()}" + (f" ({PNG_SCALE}x)" if fmt == "png" else ""),
                               layer_graph_file(name, frozen, fmt, orientation, scale),
                               file_name=f"{name}-layers.{fmt}", mime=mime, key=f"{key}_{fmt}",
                               icon=":material/download:")
