"""The Layer lab's sections: widgets bound to the URL, the numbers from :mod:`cnnviz.lab`, charts.

Every key starts with ``ll_`` so the lab's query parameters never clash with another page's.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from cnnviz import lab
from cnnviz.analysis import human_count, significant
from cnnviz.ui import practice
from cnnviz.ui.state import (font_size, friendly_errors, ignored, style_chart, url_number, url_select, url_text,
                             url_sets, url_toggle, url_widget)
from cnnviz.ui.figures import chart

SECTIONS = ("Conv & pool arithmetic", "Sliding window", "1x1 & bottlenecks", "Activations & softmax",
            "Dropout, BN, LRN, FC")

INPUT_COLOR, FILTER_COLOR, OUTPUT_COLOR = "#4C78A8", "#E45756", "#54A24B"
SHORT_KINDS = {"conv": "Conv", "max": "Max pool", "avg": "Avg pool"}


def _set(values: dict[str, Any]) -> None:
    """Button callback: load a preset into the widgets (before they are drawn)."""
    for key, value in values.items():
        st.session_state[key] = value


def _number_row(*fields: tuple[Any, ...]) -> list[Any]:
    """``url_number`` widgets side by side in equal columns; returns their values.

    Each field is ``(label, key, default, min, max)``, optionally followed by a dict of further
    keyword arguments (``step``, ``help``, ``disabled``, ``widget``...).
    """
    values = []
    for column, field in zip(st.columns(len(fields)), fields):
        args, kwargs = (field[:-1], field[-1]) if isinstance(field[-1], dict) else (field, {})
        with column:
            values.append(url_number(*args, **kwargs))
    return values


def _presets(presets: dict[str, dict[str, Any]], columns: int = 3) -> None:
    """A row of buttons, each loading a worked example of the course (its settings in the tooltip)."""
    cols = st.columns(columns)
    for i, (label, values) in enumerate(presets.items()):
        values = dict(values)
        tip = values.pop("help", None)
        cols[i % columns].button(label, on_click=_set, args=(values,), width="stretch", help=tip)


# ---------------------------------------------------------------------------------------------
# Convolution and pooling arithmetic
# ---------------------------------------------------------------------------------------------
def _layer(tip: str, kind: str, size: int, depth: int, f: int, s: int, pad: str | int, k: int = 10, g: int = 1,
           bias: bool = True) -> dict[str, Any]:
    """A preset of the arithmetic section (``help`` is the button's tooltip)."""
    numeric = isinstance(pad, int)
    return dict(help=tip, ll_kind=kind, ll_h=size, ll_w=size, ll_c=depth, ll_f=f, ll_k=k, ll_s=s,
                ll_pad="number" if numeric else pad, ll_p=pad if numeric else 2, ll_d=1, ll_g=g, ll_bias=bias)


LAYER_PRESETS = {
    "Course notes' exercise": _layer("32x32x3 input, ten 5x5 filters, stride 1, pad 2 -> 32x32x10, 760 parameters",
                              "conv", 32, 3, 5, 1, 2),
    "AlexNet CONV1": _layer("227x227x3, 96 filters 11x11, stride 4 -> 55x55x96", "conv", 227, 3, 11, 4, "valid", 96),
    "AlexNet POOL1": _layer("55x55x96, 3x3 max pooling, stride 2 -> 27x27x96", "max", 55, 96, 3, 2, "valid"),
    "1x1 convolution": _layer("28x28x192 -> 32 filters 1x1 -> 28x28x32", "conv", 28, 192, 1, 1, "valid", 32),
    "Depthwise 3x3": _layer("112x112x32, 32 filters 3x3, groups 32 (MobileNet): each filter sees one channel",
                            "conv", 112, 32, 3, 1, "same", 32, g=32, bias=False),
    "VGG 3x3 conv": _layer("224x224x64, 64 filters 3x3, same -> 224x224x64, 36,928 parameters", "conv", 224, 64, 3, 1,
                           "same", 64),
}


def _layer_widgets(kind: str) -> lab.LayerConfig:
    h, w, c = _number_row(("Height H1", "ll_h", 32, 1, 4096), ("Width W1", "ll_w", 32, 1, 4096),
                          ("Depth D1", "ll_c", 3, 1, 4096))
    f, k, s = _number_row(
        ("Filter size F", "ll_f", 5, 1, 512),
        ("Filters K", "ll_k", 10, 1, 4096, dict(disabled=kind != "conv", help="Pooling keeps the depth: D2 = D1")),
        ("Stride S", "ll_s", 1, 0, 64),
    )
    c1, c2 = st.columns(2)
    with c1:
        pad_mode = url_select("Padding", "ll_pad", lab.PADDINGS, "number",
                              help="valid = no padding; same = keep the size (stride 1); or a number of zeros "
                                   "on every side")
    with c2:
        p = url_number("Zeros per side P", "ll_p", 2, 0, 256, disabled=pad_mode != "number")
    with st.expander("Dilation, groups, bias", expanded=url_sets({"ll_d": 1, "ll_g": 1, "ll_bias": True})):
        c1, c2, c3 = st.columns(3)
        with c1:
            d = url_number("Dilation d", "ll_d", 1, 1, 32, help="Gaps between the filter's taps: F' = d(F-1)+1")
        with c2:
            g = url_number("Groups g", "ll_g", 1, 1, 4096, disabled=kind != "conv",
                           help="1 = ordinary; D1 = depthwise (each filter sees one channel)")
        with c3:
            bias = url_toggle("Bias", "ll_bias", True, disabled=kind != "conv")
    padding = p if pad_mode == "number" else pad_mode
    return lab.LayerConfig(kind=kind, height=h, width=w, channels=c, kernel=f, filters=k, stride=s,
                           padding=padding, dilation=d, groups=g, bias=bias)


@st.cache_data(show_spinner=False, max_entries=256)
def _layer_numbers(cfg: lab.LayerConfig) -> lab.LayerNumbers:
    return lab.layer_numbers(cfg)


def conv_section() -> None:
    """Output size, parameters and MACs of one convolution or pooling layer, with the formulas."""
    st.markdown("Load a worked example of the course, or set your own layer.")
    _presets(LAYER_PRESETS)
    kind = url_select("Layer", "ll_kind", list(lab.KINDS), "conv", widget="segmented", required=True,
                      format_func=lab.KINDS.get)
    predicting = practice.predict_first("ll_predict")
    metrics = st.container()
    left, right = st.columns([1, 1] if st.session_state.get("lecture") else [2, 3], gap="large")
    numbers = None
    with left:
        cfg = _layer_widgets(kind)
        with friendly_errors("This layer cannot be built"):
            numbers = _layer_numbers(cfg)
    with right:
        if numbers is None:
            st.info("Change the setting named in the message on the left to see the numbers.")
            return
        if predicting:  # the numbers, the formulas, the drawing and the misfit notes would give the answers away
            practice.predict_layer(cfg, numbers)
            return
        c2, h2, w2 = numbers.out_shape
        m1, m2, m3 = metrics.columns(3)
        m1.metric("Output volume", f"{h2}x{w2}x{c2}", help="H2 x W2 x D2")
        m2.metric("Parameters", f"{numbers.params:,}", help="weights + biases")
        m3.metric("MACs", _short(numbers.macs), help=f"{numbers.macs:,} multiply-accumulates; FLOPs = 2 x MACs")
        for caption, latex in lab.formulas(cfg, numbers):
            st.caption(caption)
            st.latex(latex)
        for misfit in lab.layer_misfits(cfg):
            st.warning(misfit.message(), icon=":material/warning:")
    if numbers is not None:
        chart(volume_figure(cfg, numbers), width="stretch")
        st.caption("Side lengths are drawn proportional to the square root of the sizes, so a 227x227x3 image "
                   "and a 13x13x384 map both fit. The red box is one filter (F x F x D1 for a convolution, "
                   "F x F on one channel for pooling); it makes the one green value of the output.")


def _short(n: int) -> str:
    """A count in at most about 6 characters: 768K, 105.4M, 15.5G."""
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.4g}{suffix}"
    return str(n)


def _box(x0: float, y0: float, z0: float, dx: float, dy: float, dz: float, color: str, opacity: float,
         name: str) -> list[go.BaseTraceType]:
    """A cuboid (mesh) with its edges."""
    xs = [x0, x0 + dx, x0 + dx, x0, x0, x0 + dx, x0 + dx, x0]
    ys = [y0, y0, y0 + dy, y0 + dy, y0, y0, y0 + dy, y0 + dy]
    zs = [z0, z0, z0, z0, z0 + dz, z0 + dz, z0 + dz, z0 + dz]
    mesh = go.Mesh3d(x=xs, y=ys, z=zs, i=[7, 0, 0, 0, 4, 4, 6, 6, 4, 0, 3, 2], j=[3, 4, 1, 2, 5, 6, 5, 2, 0, 1, 6, 3],
                     k=[0, 7, 2, 3, 6, 7, 1, 1, 5, 5, 7, 6], color=color, opacity=opacity, name=name,
                     hoverinfo="name", flatshading=True, showscale=False)
    edges = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]
    ex, ey, ez = [], [], []
    for a, b in edges:
        ex += [xs[a], xs[b], None]
        ey += [ys[a], ys[b], None]
        ez += [zs[a], zs[b], None]
    line = go.Scatter3d(x=ex, y=ey, z=ez, mode="lines", line=dict(color=color, width=3), hoverinfo="skip",
                        showlegend=False)
    return [mesh, line]


def volume_figure(cfg: lab.LayerConfig, numbers: lab.LayerNumbers) -> go.Figure:
    """Input volume, one filter and the output volume, drawn as the course draws them
    (depth along the flow, sides proportional to the square root of the sizes)."""
    def s(n: float) -> float:
        return float(np.sqrt(n))

    c2, h2, w2 = numbers.out_shape
    d1, h1, w1 = s(cfg.channels), s(cfg.height), s(cfg.width)
    gap = max(d1, s(c2), 2.0) * 1.5
    x_out = d1 + gap
    f = s(cfg.effective_kernel)
    f_depth = d1 if cfg.kind == "conv" else min(d1, s(1))
    traces = _box(0, 0, 0, d1, w1, h1, INPUT_COLOR, 0.18, f"input {cfg.height}x{cfg.width}x{cfg.channels}")
    traces += _box(d1 - f_depth, 0, h1 - f, f_depth, min(f, w1), min(f, h1), FILTER_COLOR, 0.55,
                   f"filter {cfg.kernel}x{cfg.kernel}" + (f"x{cfg.channels // cfg.groups}" if cfg.kind == "conv"
                                                          else " (one channel)"))
    d2o, h2o, w2o = s(c2), s(h2), s(w2)
    traces += _box(x_out, 0, 0, d2o, w2o, h2o, OUTPUT_COLOR, 0.18, f"output {h2}x{w2}x{c2}")
    cell = min(1.0, d2o, w2o, h2o)
    traces += _box(x_out, 0, h2o - cell, cell, cell, cell, OUTPUT_COLOR, 0.9, "one output value")
    # Dashed rays from the filter to the value it computes.
    fy, fz = min(f, w1), min(f, h1)
    for (y0, z0), (y1, z1) in (((0, h1 - fz), (0, h2o - cell)), ((fy, h1 - fz), (cell, h2o - cell)),
                               ((0, h1), (0, h2o)), ((fy, h1), (cell, h2o))):
        traces.append(go.Scatter3d(x=[d1, x_out], y=[y0, y1], z=[z0, z1], mode="lines",
                                   line=dict(color=FILTER_COLOR, width=2, dash="dash"), hoverinfo="skip",
                                   showlegend=False))
    labels = go.Scatter3d(
        x=[d1 / 2, x_out + d2o / 2], y=[w1 / 2, w2o / 2], z=[h1 * 1.12 + 0.5, h2o * 1.12 + 0.5], mode="text",
        text=[f"{cfg.height}x{cfg.width}x{cfg.channels}", f"{h2}x{w2}x{c2}"],
        textfont=dict(size=font_size() + 3), hoverinfo="skip", showlegend=False)
    fig = go.Figure(traces + [labels])
    axis = dict(visible=False)
    fig.update_layout(scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="data",
                                 camera=dict(eye=dict(x=-0.42, y=-1.3, z=0.62), up=dict(x=0, y=0, z=1),
                                             projection=dict(type="orthographic"))),
                      showlegend=False)
    kind = "convolution" if cfg.kind == "conv" else lab.KINDS[cfg.kind].lower()
    return style_chart(fig, f"Input volume -> {kind} -> output volume (H x W x D)", height=400)


# ---------------------------------------------------------------------------------------------
# The sliding window, step by step
# ---------------------------------------------------------------------------------------------
SEVEN = ("3, 0, 1, 2, 7, 4, 1; 1, 5, 8, 9, 3, 1, 2; 2, 7, 2, 5, 1, 3, 0; 0, 1, 3, 1, 7, 8, 1; "
         "4, 2, 1, 6, 2, 8, 3; 2, 4, 5, 2, 3, 9, 1; 1, 3, 2, 1, 4, 2, 6")
EDGE = "1, 0, -1; 1, 0, -1; 1, 0, -1"
POOL_4X4 = "1, 1, 2, 4; 5, 6, 7, 8; 3, 2, 1, 0; 1, 2, 3, 4"
SIX = "1, 2, 3, 6, 5, 8; 3, 5, 5, 1, 3, 4; 2, 1, 3, 4, 9, 3; 4, 7, 8, 5, 7, 9; 1, 5, 3, 7, 4, 8; 5, 4, 9, 8, 3, 5"

SLIDE_PRESETS = {
    "7x7, S=1 → 5x5": dict(ll_sop="conv", ll_sx=SEVEN, ll_sw=EDGE, ll_ss=1, ll_sp=0, ll_sd=1, ll_step=1),
    "7x7, S=2 → 3x3": dict(ll_sop="conv", ll_sx=SEVEN, ll_sw=EDGE, ll_ss=2, ll_sp=0, ll_sd=1, ll_step=1),
    "7x7, S=3: does not fit": dict(ll_sop="conv", ll_sx=SEVEN, ll_sw=EDGE, ll_ss=3, ll_sp=0, ll_sd=1, ll_step=1),
    "7x7, P=1 → 7x7": dict(ll_sop="conv", ll_sx=SEVEN, ll_sw=EDGE, ll_ss=1, ll_sp=1, ll_sd=1, ll_step=1),
    "2x2 max pool": dict(ll_sop="max", ll_sx=POOL_4X4, ll_sf=2, ll_ss=2, ll_sp=0, ll_sd=1,
                                          ll_step=1),
    "6x6, 1x1 filter": dict(ll_sop="conv", ll_sx=SIX, ll_sw="2", ll_ss=1, ll_sp=0, ll_sd=1, ll_step=1),
    "7x7, dilation 2": dict(ll_sop="conv", ll_sx=SEVEN, ll_sw=EDGE, ll_ss=1, ll_sp=0, ll_sd=2,
                                         ll_step=1),
}


def _text_parser(limit: int) -> Any:
    def parse(raw: str) -> str:
        if len(raw) > limit:
            raise ValueError(f"longer than {limit} characters")
        return raw

    return parse


def _slide_settings() -> tuple[str, int | None, int, int, int]:
    """The row above the drawing: operation, pooling size, stride, padding, dilation."""
    c0, c1, c2, c3, c4 = st.columns([3, 1, 1, 1, 1])
    with c0:
        op = url_select("Operation", "ll_sop", list(lab.KINDS), "conv", widget="segmented", required=True,
                        format_func=lab.KINDS.get)
    with c1:
        size = url_number("Pool size F", "ll_sf", 2, 1, lab.MAX_GRID, disabled=op == "conv",
                          help="The filter's size comes from the filter you type")
    with c2:
        stride = url_number("Stride", "ll_ss", 1, 0, 8)
    with c3:
        pad = url_number("Padding", "ll_sp", 0, 0, 4)
    with c4:
        dil = url_number("Dilation", "ll_sd", 1, 1, 4)
    return op, size, stride, pad, dil


def _slide(op: str, size: int | None, stride: int, pad: int, dil: int) -> lab.Slide | None:
    """The input and filter boxes, and the slide they make (None, with the message shown, if impossible)."""
    text = url_widget("ll_sx", SEVEN, _text_parser(1200), st.text_area, label="Input (rows separated by ';')",
                      height=110, max_chars=1200)
    filt = url_text("Filter (rows separated by ';')", "ll_sw", EDGE, max_chars=400, disabled=op != "conv")
    result = None
    with friendly_errors("Cannot slide this filter"):
        x = lab.parse_matrix(text, "input")
        if op == "conv":
            result = lab.slide(x, "conv", kernel=lab.parse_matrix(filt, "filter"), stride=stride, padding=pad,
                               dilation=dil)
        else:
            result = lab.slide(x, op, size=size, stride=stride, padding=pad, dilation=dil)
    return result


def _label(v: float) -> str:
    if np.isneginf(v):
        return "-inf"
    return significant(v) if not float(v).is_integer() else str(int(v))


def _outlines(cells: Any, x0: float, inset: float = 0.5) -> tuple[list, list]:
    """One polyline through the borders of every ``(row, col)`` cell of a panel starting at ``x0``."""
    xs: list = []
    ys: list = []
    for r, c in cells:
        x, y = x0 + c, r
        xs += [x - inset, x + inset, x + inset, x - inset, x - inset, None]
        ys += [y - inset, y - inset, y + inset, y + inset, y - inset, None]
    return xs, ys


def slide_figure(sl: lab.Slide, current: int) -> go.Figure:
    """Padded input with the window, the filter, and the output filled up to step ``current``.

    The panels share one pair of axes (offset along x), so every cell has the same size; the
    borders are a few line traces, which keeps a frame of the animation fast to build.
    """
    step = sl.steps[current]
    done = np.zeros(sl.output.shape, dtype=bool)
    for s in sl.steps[:current + 1]:
        done[s.out_row, s.out_col] = True
    panels = [("padded input" if sl.pad else "input", sl.padded, "Blues", None)]
    if sl.kernel is not None:
        panels.append(("filter", sl.kernel, "RdBu", 0.0))
    panels.append(("output", sl.output, "Greens", None))
    fig = go.Figure()
    offsets = []
    x0 = 0.0
    for name, grid, scale, mid in panels:
        is_out = grid is sl.output
        z = np.where(np.isfinite(grid) & (done if is_out else True), grid, np.nan)
        text = [[_label(v) if (not is_out or done[i, j]) else "" for j, v in enumerate(row)]
                for i, row in enumerate(grid)]
        fig.add_trace(go.Heatmap(z=z, x0=x0, dx=1, y0=0, dy=1, text=text, texttemplate="%{text}",
                                 textfont=dict(size=font_size() + 1), colorscale=scale, zmid=mid, showscale=False,
                                 hoverinfo="skip", xgap=2, ygap=2))
        fig.add_annotation(x=x0 + (grid.shape[1] - 1) / 2, y=-0.9, text=f"{name} {grid.shape[0]}x{grid.shape[1]}",
                           showarrow=False, font=dict(size=font_size() + 1))
        offsets.append(x0)
        x0 += grid.shape[1] + 1.5
    n_rows, n_cols = sl.padded.shape
    p = sl.pad
    pad_cells = [(r, c) for r in range(n_rows) for c in range(n_cols)
                 if p and not (p <= r < n_rows - p and p <= c < n_cols - p)]
    out_x = offsets[-1]
    layers = [
        (_outlines(pad_cells, 0, 0.47), dict(fill="toself", fillcolor="rgba(200,200,200,0.55)", line_width=0)),
        (_outlines(zip(*np.nonzero(~done)), out_x, 0.45), dict(line=dict(color="lightgrey", width=1))),
        (_outlines([(r, c) for r in step.rows for c in step.cols], 0), dict(line=dict(color=FILTER_COLOR, width=3))),
        (_outlines([(step.out_row, step.out_col)], out_x), dict(line=dict(color=FILTER_COLOR, width=4))),
    ]
    for (xs, ys), style in layers:
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False, **style))
    rows = max(g.shape[0] for _, g, _, _ in panels)
    width = x0 - 0.6
    height = int(np.clip(80 + 520 * (rows + 1.1) / width, 260, 520))  # about the grid's own aspect
    fig.update_xaxes(visible=False, range=[-0.7, x0 - 1.3])
    fig.update_yaxes(visible=False, range=[rows - 0.4, -1.5], scaleanchor="x", scaleratio=1)
    fig.update_layout(plot_bgcolor="rgba(0,0,0,0)")
    return style_chart(fig, f"{lab.KINDS[sl.op]}: step {current + 1} of {len(sl.steps)} computes output "
                       f"({step.out_row + 1}, {step.out_col + 1})", height=height)
def _stepper(sl: lab.Slide, playing: bool, seconds: float) -> None:
    """The step slider and the drawing; while playing, a timer moves the window every ``seconds``."""

    @st.fragment(run_every=seconds if playing else None)
    def show() -> None:
        n = len(sl.steps)
        if st.session_state.get("ll_step", 1) > n:
            st.session_state["ll_step"] = n
        if playing and not st.session_state.pop("_ll_full_run", False):
            st.session_state["ll_step"] = st.session_state.get("ll_step", 1) % n + 1
        if n > 1:
            current = url_number("Step", "ll_step", 1, 1, n, widget="slider", disabled=playing,
                                 help="Move the window by hand, or press Play")
        else:
            current = 1
        step = sl.steps[current - 1]
        chart(slide_figure(sl, current - 1), width="stretch")
        st.latex(lab.step_latex(sl, step))
        if current == n:
            st.success(f"Done: the output is {sl.output.shape[0]}x{sl.output.shape[1]}.")

    st.session_state["_ll_full_run"] = True
    show()


def slide_section() -> None:
    """Slide a filter or a pooling window over a small input, one output value at a time."""
    st.markdown("The filter slides over the input; at each stop it multiplies the values under it by its "
                "weights and adds the products up (a deep-learning convolution does not flip the filter). "
                "Pooling takes the maximum or the mean of the window instead.")
    st.caption("Worked examples of the course: a 7x7 input and a 3x3 (vertical edge) filter at stride 1, stride 2 "
               "and padding 1 (and stride 3, which does not fit); 2x2 max pooling at stride 2; a 1x1 filter; a "
               "dilated filter.")
    _presets(SLIDE_PRESETS, columns=7)
    settings = _slide_settings()
    left, right = st.columns([1, 2], gap="large")
    with left:
        sl = _slide(*settings)
        c1, c2 = st.columns(2)
        with c1:
            playing = st.toggle("Play", key="ll_play", help="Move the window by itself")
        with c2:
            seconds = url_number("Seconds per step", "ll_speed", 1.0, 0.3, 5.0, step=0.1)
        if sl is not None:
            st.caption(f"Output {sl.output.shape[0]}x{sl.output.shape[1]} = {len(sl.steps)} steps. "
                       f"Output size: (N - F + 2P)/S + 1 with N = {sl.padded.shape[1] - 2 * sl.pad}, "
                       f"F = {sl.size}{f' (spans {sl.dilation * (sl.size - 1) + 1})' if sl.dilation > 1 else ''}, "
                       f"P = {sl.pad}, S = {sl.stride}.")
            for misfit in lab.slide_misfits(sl):
                st.warning(misfit.message(), icon=":material/warning:")
    with right:
        if sl is None:
            st.info("Fix the setting named in the message on the left.")
        else:
            _stepper(sl, playing, seconds)


# ---------------------------------------------------------------------------------------------
# 1x1 convolutions and bottlenecks
# ---------------------------------------------------------------------------------------------
def _m(n: float) -> str:
    """Millions with one decimal, as the course notes write them (120.4M)."""
    return f"{n / 1e6:.1f}\\text{{M}}"


def _c(n: int) -> str:
    return f"{n:,}".replace(",", "{,}")


def _cost_story() -> None:
    st.subheader("The cost of a 5x5 convolution, and the 1x1 bottleneck")
    size, c_in, f, k, mid = _number_row(
        ("Input H = W", "ll_bs", 28, 1, 512),
        ("Input depth", "ll_bc", 192, 1, 4096),
        ("Filter size", "ll_bf", 5, 1, 15, dict(step=2)),
        ("Filters", "ll_bk", 32, 1, 4096),
        ("1x1 bottleneck depth", "ll_bm", 16, 1, 4096),
    )
    cost = None
    with friendly_errors("Bottleneck"):
        cost = _cached("bottleneck_cost", size, c_in, k, f, mid)
    if cost is None:
        return
    st.caption(f"Straight: {size}x{size}x{c_in} -> CONV {f}x{f}, same, {k} filters -> {size}x{size}x{k}. "
               "Each output value needs one multiply per filter weight:")
    st.latex(f"{size}\\cdot{size}\\cdot{k} \\times {f}\\cdot{f}\\cdot{c_in} = {_c(cost.direct)} "
             f"\\approx {_m(cost.direct)}")
    st.caption(f"With a bottleneck: CONV 1x1, {mid} filters -> {size}x{size}x{mid}, then CONV {f}x{f}, {k} filters:")
    st.latex(f"{size}\\cdot{size}\\cdot{mid} \\times {c_in} + "
             f"{size}\\cdot{size}\\cdot{k} \\times {f}\\cdot{f}\\cdot{mid}"
             f" = {_m(cost.reduce)} + {_m(cost.conv)} = {_m(cost.with_bottleneck)}")
    m1, m2, m3 = st.columns(3)
    m1.metric("Multiplies, straight", human_count(cost.direct), help=f"{cost.direct:,} multiplies")
    m2.metric("With the bottleneck", human_count(cost.with_bottleneck),
              help=f"{cost.with_bottleneck:,} multiplies with the 1x1 bottleneck first")
    m3.metric("Fewer by", f"{cost.saving:.1f}x")
    fig = go.Figure([
        go.Bar(name=f"CONV {f}x{f}, {k} (straight)", x=["straight"], y=[cost.direct], marker_color=FILTER_COLOR),
        go.Bar(name=f"CONV 1x1, {mid}", x=["with bottleneck"], y=[cost.reduce], marker_color=INPUT_COLOR),
        go.Bar(name=f"CONV {f}x{f}, {k}", x=["with bottleneck"], y=[cost.conv], marker_color=OUTPUT_COLOR),
    ])
    fig.update_layout(barmode="stack", yaxis_title="multiplies (MACs)", xaxis_title="design")
    chart(style_chart(fig, "Multiplies per image: straight vs 1x1 bottleneck", height=320), width="stretch")


def _residual() -> None:
    st.subheader("ResNet's bottleneck block: 1x1 down, 3x3, 1x1 up")
    ch, mid = _number_row(("Block depth", "ll_rc", 256, 1, 4096), ("Bottleneck depth", "ll_rm", 64, 1, 4096))
    r = None
    with friendly_errors("ResNet bottleneck"):
        r = _cached("resnet_bottleneck", ch, mid)
    if r is None:
        return
    st.caption(f"One 3x3 convolution, {ch} -> {ch} channels:")
    st.latex(f"3\\cdot3\\cdot{ch}\\cdot{ch} = {_c(r.plain)}")
    st.caption(f"Bottleneck: 1x1 {ch} -> {mid}, 3x3 {mid} -> {mid}, 1x1 {mid} -> {ch}:")
    st.latex(f"\\begin{{aligned}} &{ch}\\cdot{mid} + 3\\cdot3\\cdot{mid}\\cdot{mid} + {mid}\\cdot{ch} \\\\ "
             f"&= {_c(r.reduce)} + {_c(r.conv)} + {_c(r.expand)} = {_c(r.bottleneck)} \\end{{aligned}}")
    st.markdown(f"**{r.saving:.1f}x fewer weights** (biases left out, as the course counts). "
                "The course notes round 256-64-256 to ~69K against 589K, \"about 10x fewer\"; exactly it is 8.5x.")


def _inception() -> None:
    st.subheader("Inception module: branches stacked along the depth")
    _presets({
        "Course notes' naive module: 28x28x256": dict(ll_ic=256, ll_i1=128, ll_i3=192, ll_i5=96, ll_ipool="keep"),
        "Course notes' module with 1x1 reductions: 28x28x192": dict(ll_ic=192, ll_i1=64, ll_i3=128, ll_i5=32,
                                                              ll_ipool="1x1 projection", ll_ip=32),
    }, columns=2)
    c1, c2, c3, c4, c5, c6 = st.columns(6)
    with c1:
        c_in = url_number("Input depth", "ll_ic", 256, 1, 4096)
    with c2:
        n1 = url_number("1x1 filters", "ll_i1", 128, 0, 4096)
    with c3:
        n3 = url_number("3x3 filters", "ll_i3", 192, 0, 4096)
    with c4:
        n5 = url_number("5x5 filters", "ll_i5", 96, 0, 4096)
    with c5:
        pool = url_select("Pool branch", "ll_ipool", ("keep", "1x1 projection"), "keep",
                          help="keep = the 3x3 max pool (stride 1, same) passes all input channels through")
    with c6:
        proj = url_number("Pool 1x1 filters", "ll_ip", 32, 0, 4096, disabled=pool == "keep")
    depth = None
    with friendly_errors("Inception module"):
        depth = lab.inception_depth(c_in, n1, n3, n5, None if pool == "keep" else proj)
        macs = _cached("naive_inception_macs", 28, c_in, n1, n3, n5)
    if depth is None:
        return
    last = str(c_in) if pool == "keep" else str(proj)
    st.latex(f"28 \\times 28 \\times ({n1} + {n3} + {n5} + {last}) = 28 \\times 28 \\times {depth}")
    if pool == "keep":
        total = sum(macs.values())
        st.caption("Without 1x1 reductions the pooling branch keeps every input channel, so the depth can only "
                   "grow from module to module; and the convolutions are expensive on the full depth:")
        st.latex(" + ".join(f"\\underbrace{{{_m(v)}}}_{{{k}}}" for k, v in macs.items()) + f" = {_m(total)}"
                 " \\text{ multiplies}")


def _stack() -> None:
    st.subheader("Three 3x3 layers see as much as one 7x7 layer")
    ch, n, k = _number_row(("Channels C", "ll_vc", 64, 1, 4096), ("Stacked layers", "ll_vn", 3, 1, 50),
                           ("Their filter size", "ll_vk", 3, 1, 15))
    r = None
    with friendly_errors("Stack"):
        r = _cached("stack_vs_single", ch, n, k)
    if r is None:
        return
    st.latex(f"\\text{{RF}} = n(F-1)+1 = {n}({k}-1)+1 = {r.receptive_field}")
    st.caption(f"Weights (C = {ch} channels in and out, no biases): {n} stacked {k}x{k} layers against one "
               f"{r.receptive_field}x{r.receptive_field} layer")
    st.latex(f"\\begin{{aligned}} {n} \\cdot ({k}^2 C^2) &= {n * k * k}C^2 = {_c(r.stacked_weights)} \\\\ "
             f"{r.receptive_field}^2 C^2 &= {r.receptive_field ** 2}C^2 = {_c(r.single_weights)} \\end{{aligned}}")
    st.caption(f"The stack has {r.stacked_weights / r.single_weights:.0%} of the weights, {n} non-linearities "
               f"instead of 1, and the same {r.receptive_field}x{r.receptive_field} view of the input.")
    _field_growth(min(n, 8), k)


def _field_growth(n: int, k: int) -> None:
    """The course notes' "3, 9, 27 pixels" next to the stride-1 growth, so the two counts do not clash."""
    stride_1, stride_k = _cached("field_growth", n, k, 1), _cached("field_growth", n, k, k)
    table = pd.DataFrame({"After layer": range(1, n + 1), "Stride 1 (as above)": [f"{v}x{v}" for v in stride_1],
                          f"Stride {k}": [f"{v}x{v}" for v in stride_k]})
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(f"The course notes say the second layer sees 9x9 pixels and the third 27x27. That holds when each "
               f"{k}x{k} layer moves at stride {k}, so its windows tile the layer below without overlap and the "
               f"field is multiplied by {k} each layer ({', '.join(map(str, stride_k[:3]))}). At stride 1, as in "
               f"VGG, each layer adds only {k - 1} pixels ({', '.join(map(str, stride_1[:3]))}): three 3x3 layers "
               "see 7x7.")


@st.cache_data(show_spinner=False, max_entries=256)
def _cached(name: str, *args: Any) -> Any:
    """``cnnviz.lab.<name>(*args)``, cached."""
    return getattr(lab, name)(*args)


def bottleneck_section() -> None:
    """1x1 convolutions: the Inception cost story, ResNet's bottleneck, module depths, 3x3 stacks."""
    st.markdown("A 1x1 convolution mixes the channels at each position: it changes the depth (here: shrinks it) "
                "while keeping height and width. Shrinking the depth before an expensive convolution is the "
                "bottleneck trick of Inception and ResNet.")
    _cost_story()
    left, right = st.columns(2, gap="large")
    with left:
        _residual()
    with right:
        _stack()
    _inception()


# ---------------------------------------------------------------------------------------------
# Activations and softmax
# ---------------------------------------------------------------------------------------------
ACT_COLORS = {"sigmoid": "#4C78A8", "tanh": "#F58518", "relu": "#54A24B", "leaky_relu": "#B279A2"}
X_RANGE = 8.0


def activation_figure(names: list[str], x0: float, slope: float, shade: str | None, threshold: float,
                      derivatives: bool) -> go.Figure:
    """The functions (solid), their derivatives (dashed), where ``shade`` saturates, and the point x0."""
    x = np.linspace(-X_RANGE, X_RANGE, 801)
    fig = go.Figure()
    if shade in names:
        for a, b in lab.saturated_intervals(shade, -X_RANGE, X_RANGE, threshold, slope):
            fig.add_vrect(x0=a, x1=b, fillcolor=ACT_COLORS[shade], opacity=0.12, line_width=0)
    for name in names:
        label = lab.ACTIVATIONS[name]
        fig.add_trace(go.Scatter(x=x, y=lab.activation(name, x, slope), name=label,
                                 line=dict(color=ACT_COLORS[name], width=3)))
        if derivatives:
            fig.add_trace(go.Scatter(x=x, y=lab.derivative(name, x, slope), name=f"{label}'",
                                     line=dict(color=ACT_COLORS[name], width=2, dash="dash")))
        fig.add_trace(go.Scatter(x=[x0], y=lab.activation(name, [x0], slope), mode="markers", showlegend=False,
                                 marker=dict(color=ACT_COLORS[name], size=11), hoverinfo="skip"))
    fig.add_vline(x=x0, line=dict(color="grey", dash="dot"))
    fig.update_layout(xaxis_title="input x", yaxis_title="f(x) (solid), f'(x) (dashed)",
                      yaxis_range=[-1.5, 2.5], legend=dict(orientation="h", y=-0.2))
    style_chart(fig, "Activation functions f (solid) and their derivatives f' (dashed)", height=440)
    if shade in names:
        note = f"shaded: where {lab.ACTIVATIONS[shade]} saturates, |f'(x)| < {threshold:g}"
        fig.update_layout(title_subtitle_text=note)
    return fig


def _parse_activations(raw: str) -> list[str]:
    names = [n for n in raw.split(",") if n]
    bad = [n for n in names if n not in lab.ACTIVATIONS]
    if bad:
        raise ValueError(f"unknown activation {bad[0][:30]!r}")
    return names


def _activations() -> None:
    left, right = st.columns([1.3, 3], gap="large")
    with left:
        names = url_widget("ll_act", list(lab.ACTIVATIONS), _parse_activations, st.pills, label="Functions",
                           options=list(lab.ACTIVATIONS), selection_mode="multi", format_func=lab.ACTIVATIONS.get,
                           wrap=True)
        derivatives = url_toggle("Show derivatives", "ll_der", True)
        x0 = url_number("Input x", "ll_x", 2.0, -X_RANGE, X_RANGE, step=0.1, widget="slider")
        slope = url_number("Leaky ReLU slope", "ll_slope", 0.1, 0.0, 1.0, step=0.01,
                           help="PyTorch's default is 0.01; 0.1 makes the difference from ReLU visible")
        shade = url_select("Shade where it saturates", "ll_sat", ["none", *lab.ACTIVATIONS], "sigmoid",
                           format_func=lambda n: "none" if n == "none" else lab.ACTIVATIONS[n])
        threshold = url_number("Saturated: |f'(x)| below", "ll_thr", 0.01, 0.001, 0.5, step=0.001, format="%.3f")
    with right:
        chart(activation_figure(names, x0, slope, shade, threshold, derivatives), width="stretch")
        rows = [{"function": lab.ACTIVATIONS[n], "f(x)": float(lab.activation(n, [x0], slope)[0]),
                 "f'(x)": float(lab.derivative(n, [x0], slope)[0]),
                 "saturated": bool(abs(lab.derivative(n, [x0], slope)[0]) < threshold)} for n in names]
        if rows:
            st.dataframe(pd.DataFrame(rows).style.format({"f(x)": "{:.4f}", "f'(x)": "{:.4f}"}), hide_index=True,
                         width="stretch")
        if shade != "none":
            spans = lab.saturated_intervals(shade, -X_RANGE, X_RANGE, threshold, slope)
            where = ", ".join(f"{a:.2f} .. {b:.2f}" for a, b in spans) or "nowhere in view"
            st.caption(f"{lab.ACTIVATIONS[shade]} saturates (|f'| < {threshold:g}) for x in {where}: there almost "
                       "no gradient flows back, so the weights before it barely learn. ReLU's gradient is exactly "
                       "0 for x < 0 (a 'dead' unit) and 1 for x > 0: it never saturates on the positive side.")


DEFAULT_SCORES = "cat:3.2, car:5.1, frog:-1.7"


def _parse_scores(raw: str) -> pd.DataFrame:
    rows = []
    for part in (p for p in raw.split(",") if p.strip()):
        name, _, value = part.rpartition(":")
        rows.append({"class": name.strip() or f"class {len(rows) + 1}", "score": float(value)})
    if not rows or len(rows) > 20:
        raise ValueError("give 1 to 20 scores")
    return pd.DataFrame(rows)


def _scores_editor() -> pd.DataFrame:
    """A table of class scores the user edits; kept in the URL as ``ll_scores=cat:3.2,car:5.1``."""
    if "_ll_scores0" not in st.session_state:
        raw = st.query_params.get("ll_scores", DEFAULT_SCORES)
        try:
            st.session_state["_ll_scores0"] = _parse_scores(raw)
        except ValueError as exc:
            ignored("ll_scores", raw, exc)
            st.session_state["_ll_scores0"] = _parse_scores(DEFAULT_SCORES)
    edited = st.data_editor(st.session_state["_ll_scores0"], key="ll_scores_table", num_rows="dynamic",
                            hide_index=True, width="stretch",
                            column_config={"score": st.column_config.NumberColumn("score", format="%.2f")})
    edited = edited.dropna(subset=["score"])
    encoded = ",".join(f"{str(c).replace(',', ' ').replace(':', ' ')}:{s:g}"
                       for c, s in zip(edited["class"].fillna(""), edited["score"]))
    if st.query_params.get("ll_scores") != encoded:
        st.query_params["ll_scores"] = encoded
    return edited


def _softmax() -> None:
    st.subheader("Softmax: scores to probabilities")
    left, right = st.columns([1, 2], gap="large")
    with left:
        scores = _scores_editor()
        temp = url_number("Temperature T", "ll_temp", 1.0, 0.05, 20.0, step=0.05,
                          help="T > 1 flattens the distribution, T < 1 sharpens it")
        st.latex("p_i = \\frac{e^{s_i / T}}{\\sum_j e^{s_j / T}}")
    with right:
        probs = None
        with friendly_errors("Softmax"):
            probs = lab.softmax(scores["score"].to_numpy(), temp)
        if probs is None:
            return
        names = [str(c) for c in scores["class"]]
        fig = go.Figure([go.Bar(x=names, y=probs, text=[f"{p:.3f}" for p in probs], textposition="outside",
                                marker_color=INPUT_COLOR)])
        fig.update_layout(xaxis_title="class", yaxis_title="probability", yaxis_range=[0, 1.15])
        chart(style_chart(fig, f"Softmax probabilities at T = {temp:g} (they sum to 1)", height=340),
                        width="stretch")
        s = scores["score"].to_numpy(dtype=float)
        table = pd.DataFrame({"class": names, "score s": s, "exp((s - max s)/T)": np.exp((s - s.max()) / temp),
                              "probability": probs})
        st.dataframe(table.style.format({"score s": "{:.2f}", "exp((s - max s)/T)": "{:.4g}",
                                         "probability": "{:.4f}"}),
                     hide_index=True, width="stretch")


def activation_section() -> None:
    """Sigmoid, tanh, ReLU and leaky ReLU with derivatives and saturation; softmax of edited scores."""
    _activations()
    _softmax()


# ---------------------------------------------------------------------------------------------
# Dropout, batch norm, LRN, flatten + fully connected
# ---------------------------------------------------------------------------------------------
DROPOUT_UNITS = np.array([0.8, 1.5, 0.3, 2.0, 1.1, 0.6, 1.7, 0.9, 1.3, 0.4])


def _numbers(text: str, what: str) -> np.ndarray:
    return lab.parse_matrix(text, what).ravel()


def _dropout() -> None:
    st.subheader("Dropout")
    keep, seed = _number_row(("Keep probability p", "ll_keep", 0.5, 0.05, 1.0, dict(step=0.05, widget="slider")),
                             ("Random mask (seed)", "ll_dseed", 0, 0, 9999))
    demo = lab.dropout_demo(DROPOUT_UNITS, keep, seed)
    units = [f"a{i + 1}" for i in range(len(DROPOUT_UNITS))]
    fig = go.Figure([
        go.Bar(name="activation a", x=units, y=demo.activations, marker_color="lightgrey"),
        go.Bar(name="training: a x mask", x=units, y=demo.train, marker_color=FILTER_COLOR),
        go.Bar(name="test: a x p", x=units, y=demo.test, marker_color=OUTPUT_COLOR),
    ])
    fig.update_layout(barmode="group", xaxis_title="unit", yaxis_title="output",
                      legend=dict(orientation="h", y=-0.25))
    chart(style_chart(fig, f"Dropout with p = {keep:g}: {int(demo.mask.sum())} of {demo.mask.size} units kept",
                           height=320), width="stretch")
    st.caption(f"While training each unit is kept with probability p and dropped otherwise. On average a unit "
               f"then gives p x a, so at test time (all units on) the outputs are multiplied by p = {keep:g}, "
               f"as the course notes do. PyTorch's nn.Dropout does the same the other way round: it divides by p "
               f"while training (mean here {demo.inverted_train.mean():.3f} vs {demo.activations.mean():.3f} "
               "without dropout) and changes nothing at test time.")


def _batch_norm() -> None:
    st.subheader("Batch normalisation (one channel)")
    c1, c2, c3 = st.columns([2, 1, 1])
    with c1:
        text = url_text("Batch values", "ll_bnx", "1, 2, 3, 10", max_chars=200)
    with c2:
        gamma = url_number("gamma", "ll_gamma", 1.0, -10.0, 10.0, step=0.1)
    with c3:
        beta = url_number("beta", "ll_beta", 0.0, -10.0, 10.0, step=0.1)
    bn = None
    with friendly_errors("Batch norm"):
        bn = lab.batch_norm(_numbers(text, "batch"), gamma, beta)
    if bn is None:
        return
    st.latex(f"\\mu = {bn.mean:.4g},\\quad \\sigma^2 = {bn.var:.4g}")
    st.latex("\\hat x = \\frac{x - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}},\\quad y = \\gamma \\hat x + \\beta")
    st.dataframe(pd.DataFrame({"x": bn.x, "x̂ (normalised)": bn.x_hat, "y": bn.y}).style.format("{:.4f}"), hide_index=True,
                 width="stretch")
    st.caption("Training uses the batch's mean and variance; at test time the running averages collected "
               "during training take their place. gamma and beta are learnt, one pair per channel.")


def _lrn() -> None:
    st.subheader("Local response normalisation (AlexNet)")
    text = url_text("Activations across channels at one position", "ll_lrn", "10, 20, 30, 40, 50, 60",
                    max_chars=300)
    st.latex("b_c = a_c \\Big/ \\Big(k + \\frac{\\alpha}{n} \\sum_{j = c - n/2}^{c + n/2} a_j^2\\Big)^{\\beta}")
    st.caption("AlexNet: n = 5 neighbouring channels, alpha = 1e-4, beta = 0.75, k = 2.")
    with friendly_errors("LRN"):
        a = _numbers(text, "activations")
        st.dataframe(pd.DataFrame({"channel": range(1, a.size + 1), "a": a, "b": lab.lrn(a)})
                     .style.format({"a": "{:.4g}", "b": "{:.4g}"}), hide_index=True, width="stretch")
    st.caption("Large neighbours damp a channel (PyTorch's nn.LocalResponseNorm; the paper writes alpha "
               "without the 1/n). VGG found it did not help, and batch norm replaced it.")


def _fully_connected() -> None:
    st.subheader("Flatten and fully connected")
    h, w, c, n = _number_row(("Height H", "ll_fh", 32, 1, 1024), ("Width W", "ll_fw", 32, 1, 1024),
                             ("Depth D", "ll_fc", 3, 1, 4096),
                             ("Outputs", "ll_fn", 10, 1, 100_000))
    fc = None
    with friendly_errors("Fully connected"):
        fc = _cached("fully_connected", h, w, c, n)
    if fc is None:
        return
    st.latex(f"{h}\\times{w}\\times{c} \\xrightarrow{{\\text{{flatten}}}} x \\in \\mathbb{{R}}^{{{_c(fc.inputs)}}}")
    st.latex(f"W_{{{n}\\times{_c(fc.inputs)}}}\\, x + b = {n} \\text{{ scores}}")
    st.latex(f"\\text{{params}} = {n}\\cdot{_c(fc.inputs)} + {n} = {_c(fc.params)}")
    st.caption("Every output is connected to every input value: the fully connected layers hold most of the "
               "parameters of AlexNet and VGG (VGG-16's first FC layer alone: 7x7x512x4096 = 102,760,448).")


def layers_section() -> None:
    """Dropout, batch norm, LRN and the classifier's flatten + fully connected layer."""
    left, right = st.columns(2, gap="large")
    with left:
        _dropout()
        _lrn()
    with right:
        _batch_norm()
        _fully_connected()


SECTION_VIEWS = dict(zip(SECTIONS, (conv_section, slide_section, bottleneck_section, activation_section,
                                    layers_section)))
