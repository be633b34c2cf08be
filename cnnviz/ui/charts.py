"""Plotly charts of a :class:`~cnnviz.analysis.Report`: per-layer numbers, overlays, and the network drawing.

Every function is pure (report in, figure out); pages pass ``height`` and ``font``
(from :func:`cnnviz.ui.state.chart_height` / ``font_size``) so lecture mode can enlarge them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Iterable, Sequence

import plotly.graph_objects as go

from cnnviz.analysis import Report, human_bytes, human_count
from cnnviz.analysis.depth import depths
from cnnviz.analysis.report import LayerRow

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
KIND_COLORS = {"input": "#9e9e9e", "conv": "#4c78a8", "pool": "#f58518", "merge": "#72b7b2", "fc": "#54a24b"}
KIND_NAMES = {"input": "input", "conv": "convolution / stage", "pool": "pooling", "merge": "concat / add",
              "fc": "vector (flatten, fully connected)"}
MIN_VOLUMES = 5
MAX_VOLUMES = 26


def shape_text(shape: Sequence[int]) -> str:
    """``(64, 56, 56)`` -> ``56x56x64`` (H x W x C, as the course notes write it); ``(4096,)`` -> ``4096``."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}x{w}x{c}"
    return "x".join(map(str, shape))


def rf_number(rf: Any) -> float | None:
    """A receptive field as one number (the larger side); None for unknown or global."""
    if rf is None or isinstance(rf, str):
        return None
    return float(max(rf)) if isinstance(rf, (list, tuple)) else float(rf)


def _layout(fig: go.Figure, title: str, xtitle: str, ytitle: str, height: int, font: int, subtitle: str = "",
            **extra: Any) -> go.Figure:
    """Title (and a subtitle with the total), axis titles, and the legend under the plot."""
    head: dict[str, Any] = {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": font + 3}}
    if subtitle:
        head["subtitle"] = {"text": subtitle, "font": {"size": font - 1}}
    fig.update_layout(
        title=head, height=height, font={"size": font},
        margin={"l": 10, "r": 10, "t": 3 * font + (2 * font if subtitle else 20), "b": 10},
        xaxis_title=xtitle, yaxis_title=ytitle,
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0.0},
        hovermode="closest", **extra,
    )
    return fig


def _group(row: LayerRow) -> str:
    if row.type == "Conv2d":
        return "convolution"
    if row.type == "Linear":
        return "fully connected"
    return "other"


_GROUP_COLORS = {"convolution": KIND_COLORS["conv"], "fully connected": KIND_COLORS["fc"], "other": "#b279a2"}


def _layer_bars(report: Report, values: list[float | None], title: str, subtitle: str, ytitle: str, height: int,
                font: int, hover_value: Iterable[str]) -> go.Figure:
    fig = go.Figure()
    hover = list(hover_value)
    for group, color in _GROUP_COLORS.items():
        idx = [i for i, r in enumerate(report.layers) if _group(r) == group and values[i]]
        if not idx:
            continue
        rows = [report.layers[i] for i in idx]
        fig.add_bar(
            x=[r.index for r in rows], y=[values[i] for i in idx], name=group, marker_color=color,
            customdata=[[r.name, r.type, shape_text(r.output_shape), hover[i]] for r, i in zip(rows, idx)],
            hovertemplate="#%{x} %{customdata[0]} (%{customdata[1]})<br>output %{customdata[2]}"
                          "<br>%{customdata[3]}<extra></extra>",
        )
    return _layout(fig, title, "layer (execution order)", ytitle, height, font, subtitle, bargap=0.1)


def params_chart(report: Report, height: int = 380, font: int = 13) -> go.Figure:
    """Parameters of each layer (layers without parameters are left out)."""
    vals = [float(r.params) for r in report.layers]
    return _layer_bars(report, vals, "Parameters per layer", f"{human_count(report.totals.params)} in total",
                       "parameters (count)", height, font, (f"{r.params:,} parameters" for r in report.layers))


def macs_chart(report: Report, height: int = 380, font: int = 13) -> go.Figure:
    """Multiply-accumulates of each conv / linear layer, in millions."""
    vals = [None if r.macs is None else r.macs / 1e6 for r in report.layers]
    return _layer_bars(report, vals, "MACs per layer", f"{human_count(report.totals.macs)} in total",
                       "MACs (millions)", height, font,
                       (f"{human_count(r.macs)} MACs" for r in report.layers))


def memory_unit(max_bytes: float) -> tuple[str, float]:
    """(unit name, divisor) that suits ``max_bytes``."""
    for unit, div in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if max_bytes >= div:
            return unit, div
    return "bytes", 1


def activation_chart(report: Report, height: int = 380, font: int = 13) -> go.Figure:
    """Activation memory (the layer's output for one image) of each layer."""
    unit, div = memory_unit(max((r.activation_bytes for r in report.layers), default=0))
    vals = [r.activation_bytes / div for r in report.layers]
    return _layer_bars(report, vals, "Activation memory per layer",
                       f"{human_bytes(report.totals.activation_bytes)} per image in total",
                       f"output memory per image ({unit})", height, font,
                       (f"{human_bytes(r.activation_bytes)}" + (f" ({r.note})" if r.note else "")
                        for r in report.layers))


def rf_chart(report: Report, height: int = 380, font: int = 13) -> go.Figure:
    """Receptive field size and jump (the stride in input pixels) after each layer."""
    rows = [r for r in report.layers if rf_number(r.rf) is not None]
    fig = go.Figure()
    custom = [[r.name, r.type, shape_text(r.output_shape)] for r in rows]
    fig.add_scatter(x=[r.index for r in rows], y=[rf_number(r.rf) for r in rows], mode="lines+markers",
                    name="receptive field", line={"color": PALETTE[0], "width": 1}, marker={"size": 4}, customdata=custom,
                    hovertemplate="#%{x} %{customdata[0]} (%{customdata[1]})<br>receptive field %{y} px"
                                  "<extra></extra>")
    fig.add_scatter(x=[r.index for r in rows], y=[rf_number(r.jump) for r in rows], mode="lines",
                    name="jump (stride in input px)", line={"color": PALETTE[4], "dash": "dot"},
                    customdata=custom, hovertemplate="#%{x} %{customdata[0]}<br>jump %{y} px<extra></extra>")
    size = max(report.input_shape[1:]) if len(report.input_shape) == 3 else None
    if size:
        fig.add_hline(y=size, line={"color": "#888", "dash": "dash"}, annotation_text=f"input {size} px",
                      annotation_position="top left")
    rf = report.receptive_field
    sub = f"{rf['size']} px at {rf['layer']}" if rf["size"] is not None else ""
    return _layout(fig, "Receptive field per layer", "layer (execution order)", "pixels of the input", height, font,
                   sub)


# -- the network drawing ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Volume:
    """One volume of the drawing: a layer (or folded block) output."""

    name: str
    kind: str
    shape: tuple[int, ...]
    label: str


def _kind(row: dict[str, Any]) -> str:
    kind = str(row.get("type", ""))
    if len(row["output_shape"]) != 3:
        return "fc"
    if "Pool" in kind or "pool" in kind:
        return "pool"
    if kind in ("cat", "add", "add_", "iadd"):
        return "merge"
    return "conv"


def _volumes_at(rows: list[dict[str, Any]], merge_weight_layers: bool) -> list[Volume]:
    """Volumes of ``rows``: a run of equal outputs (conv, BN, ReLU; repeated blocks) is one volume.

    Conv and fully connected layers start a new volume even when their output has the same
    shape, unless ``merge_weight_layers`` (VGG's conv pairs then become one volume).
    """
    out: list[Volume] = []
    for row in rows:
        shape = tuple(row["output_shape"])
        if not shape or (len(shape) == 3 and shape[1] * shape[2] == 0):
            continue
        if out and len(shape) == 1 and out[-1].shape == (shape[0], 1, 1):  # flattening a 1x1xC map
            continue
        vol = Volume(row["name"], _kind(row), shape, str(row.get("type", "")))
        weight_layer = not row.get("block") and row.get("type") in ("Conv2d", "Linear")
        if out and out[-1].shape == shape and (merge_weight_layers or not weight_layer):
            out[-1] = Volume(vol.name, out[-1].kind if out[-1].kind != "merge" else vol.kind, shape, out[-1].label)
            continue
        out.append(vol)
    return out


def network_volumes(report: Report, min_volumes: int = MIN_VOLUMES, max_volumes: int = MAX_VOLUMES) -> list[Volume]:
    """The volumes to draw, input first: the shallowest fold that shows ``min_volumes`` to ``max_volumes``.

    A chain (LeNet, AlexNet, VGG) shows its layer outputs; a branchy net (Inception, ResNet,
    DenseNet) its module / stage outputs, because its blocks are folded (:meth:`Report.collapsed`).
    Without such a fold, the most detailed view that fits ``max_volumes``.
    """
    deepest = max((b.depth for b in report.blocks), default=0) + 1
    views = [_volumes_at(report.collapsed(depth), merge) for depth in range(1, deepest + 1) for merge in (False, True)]
    fitting = [v for v in views if len(v) <= max_volumes]
    best = next((v for v in fitting if len(v) >= min_volumes), max(fitting, key=len, default=[]))
    if not best:  # every view is too detailed: the shallowest one, thinned out
        vols = _volumes_at(report.collapsed(1), True)
        best = vols[::math.ceil(len(vols) / max_volumes)]
    return [Volume("input", "input", tuple(report.input_shape), "input")] + best


def network_drawing(report: Report, height: int = 360, font: int = 13) -> go.Figure:
    """The network as the course notes draw it: boxes that get smaller and deeper, sizes written on them.

    A box's height follows the spatial size (square-root scale, so 14x14 and 7x7 still differ),
    its thickness the number of channels on a log scale; a vector is a thin bar whose height
    follows log(features).
    """
    vols = network_volumes(report)
    hmax = max((v.shape[1] for v in vols if len(v.shape) == 3), default=1)
    nmax = max((v.shape[0] for v in vols if len(v.shape) != 3), default=2)
    faces: dict[tuple[str, str], tuple[list, list]] = {}
    labels: list[dict[str, Any]] = []
    hx, hy, hover = [], [], []
    x = 0.0
    for v in vols:
        if len(v.shape) == 3:
            c, h_px, _ = v.shape
            h = 3.0 * max(math.sqrt(h_px / hmax), 0.05)
            t = 0.12 + 0.09 * math.log2(max(c, 1) + 1)
            depth = 0.4 * h
        else:
            h = 0.4 + 1.8 * math.log(max(v.shape[0], 1) + 1) / math.log(nmax + 1)
            t, depth = 0.14, 0.14
        dx, dy = 0.55 * depth, 0.35 * depth
        y0, y1 = -h / 2, h / 2
        polys = {
            "front": [(x, y0), (x + t, y0), (x + t, y1), (x, y1)],
            "top": [(x, y1), (x + t, y1), (x + t + dx, y1 + dy), (x + dx, y1 + dy)],
            "side": [(x + t, y0), (x + t + dx, y0 + dy), (x + t + dx, y1 + dy), (x + t, y1)],
        }
        for face, pts in polys.items():
            xs, ys = faces.setdefault((v.kind, face), ([], []))
            xs.extend([p[0] for p in pts] + [pts[0][0], None])
            ys.extend([p[1] for p in pts] + [pts[0][1], None])
        labels.append({"x": x + t / 2 + dx / 2, "y": y1 + dy, "text": shape_text(v.shape)})
        hx.append(x + (t + dx) / 2)
        hy.append(0.0)
        hover.append(f"{v.name} ({v.label})<br>{shape_text(v.shape)}")
        x += t + dx + 0.45
    fig = go.Figure()
    shade = {"front": 1.0, "top": 0.75, "side": 0.55}
    for (kind, face), (xs, ys) in faces.items():
        fig.add_scatter(x=xs, y=ys, fill="toself", mode="lines", line={"color": "#333", "width": 0.8},
                        fillcolor=KIND_COLORS[kind], opacity=shade[face], hoverinfo="skip",
                        name=KIND_NAMES[kind], legendgroup=kind, showlegend=face == "front")
    fig.add_scatter(x=hx, y=hy, mode="markers", marker={"size": 18, "opacity": 0}, hovertext=hover,
                    hoverinfo="text", showlegend=False)
    top = max((lab["y"] for lab in labels), default=2.0)
    angle = -60 if len(vols) * font <= 200 else -90  # steeper labels where they would overlap
    fig.update_layout(annotations=[
        {"x": lab["x"], "y": lab["y"] + 0.05, "text": lab["text"], "showarrow": False, "textangle": angle,
         "xanchor": "left" if angle == -60 else "center", "yanchor": "bottom", "font": {"size": max(font - 2, 9)}}
        for lab in labels])
    _layout(fig, f"{report.model}, as the course notes draw it", "", "", height, font,
            f"{len(vols) - 1} volumes from the input {shape_text(report.input_shape)} to the output "
            f"{shape_text(report.output_shape)}")
    fig.update_xaxes(visible=False, range=[-0.3, x + 0.6])
    fig.update_yaxes(visible=False, range=[-1.8, top + 2.0])
    fig.update_layout(plot_bgcolor="rgba(0,0,0,0)", legend={"y": 0.0, "yanchor": "top"})
    return fig


# -- overlays for several models (the Compare page) ---------------------------------------------
def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def cumulative_macs_chart(reports: Sequence[Report], labels: Sequence[str], height: int = 380,
                          font: int = 13) -> go.Figure:
    """Cumulative MACs against the layer index normalised to 0..1 (where in the depth the work happens)."""
    fig = go.Figure()
    for i, (rep, label) in enumerate(zip(reports, labels)):
        n = len(rep.layers)
        cum = list(accumulate((r.macs or 0) / 1e9 for r in rep.layers))
        fig.add_scatter(x=[(k + 1) / n for k in range(n)], y=cum, mode="lines", name=label,
                        line={"color": _color(i)}, customdata=[r.name for r in rep.layers],
                        hovertemplate=f"{label}<br>%{{customdata}}<br>%{{y:.3f}} GMACs so far<extra></extra>")
    return _layout(fig, "Cumulative MACs through the network", "position in the network (layer index / layers)",
                   "MACs so far (billions)", height, font)


def stage_of(row: LayerRow) -> str:
    """The resolution a layer works at: ``56x56`` for spatial outputs, ``vector`` after flattening."""
    return f"{row.output_shape[1]}x{row.output_shape[2]}" if row.spatial else "vector (fc)"


def params_per_stage_chart(reports: Sequence[Report], labels: Sequence[str], height: int = 380,
                           font: int = 13) -> go.Figure:
    """Parameters grouped by the output resolution of their layer, one bar per model."""
    sizes: dict[str, int] = {}
    for rep in reports:
        for r in rep.layers:
            sizes[stage_of(r)] = r.output_shape[1] if r.spatial else 0
    order = sorted(sizes, key=lambda s: -sizes[s])
    fig = go.Figure()
    for i, (rep, label) in enumerate(zip(reports, labels)):
        per: dict[str, int] = dict.fromkeys(order, 0)
        for r in rep.layers:
            per[stage_of(r)] += r.params
        fig.add_bar(x=order, y=[per[s] / 1e6 for s in order], name=label, marker_color=_color(i),
                    hovertemplate=f"{label}<br>%{{x}}: %{{y:.3f}}M parameters<extra></extra>")
    fig.update_xaxes(type="category")
    return _layout(fig, "Parameters per stage (by output resolution)", "stage: output height x width",
                   "parameters (millions)", height, font, barmode="group")


def rf_growth_chart(reports: Sequence[Report], labels: Sequence[str], height: int = 380,
                    font: int = 13) -> go.Figure:
    """Receptive field against depth: the weight layers (conv + fc) on the longest path to each layer.

    Side branches (a projection shortcut, an inception branch) are shallower than the trunk and left out, so each
    line follows the path the papers count, ResNet-50's to 50.
    """
    fig = go.Figure()
    for i, (rep, label) in enumerate(zip(reports, labels)):
        xs, ys, names = [], [], []
        deepest = 0
        per_row = depths(rep.layers)
        for r in rep.layers:
            if per_row[r.name] < deepest:  # a side branch
                continue
            deepest = per_row[r.name]
            size = rf_number(r.rf)
            if size is not None:
                xs.append(deepest)
                ys.append(size)
                names.append(r.name)
        fig.add_scatter(x=xs, y=ys, mode="lines", name=label, line={"color": _color(i), "shape": "hv"},
                        customdata=names,
                        hovertemplate=f"{label}<br>%{{customdata}}<br>depth %{{x}}: %{{y}} px<extra></extra>")
    return _layout(fig, "Receptive field growth", "depth (layers with weights on the longest path)",
                   "receptive field (px of the input)", height, font)
