"""The "Seeing inside" page: input image, weights, activation maps, filters, receptive fields, Grad-CAM.

Every setting is bound to the URL under the prefix ``in_``. The model (with its weights) is
shared by all sessions through ``st.cache_resource``; its ``lock`` is held while hooks are on it.
Figures are built by pure functions (arrays in, plotly figure out) so the benchmark can time them.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image
from plotly.subplots import make_subplots

import cnnviz
from cnnviz import guard
from cnnviz.analysis import ConfigError, Report, significant
from cnnviz.inspect import erf as erf_mod
from cnnviz.inspect import filters, gradcam, images, weights
from cnnviz.inspect.activations import activations, channel_stats, mosaic, predict, spatial_layers
from cnnviz.ui.charts import rf_chart, shape_text
from cnnviz.ui.lenet import lenet_note
from cnnviz.ui.model_settings import model_label
from cnnviz.ui.state import (chart_height, font_size, plain, url_number, url_select, url_sets, url_text_area,
                             url_toggle)
from cnnviz.ui.uploads import uploaded_image
from cnnviz.ui.figures import chart

MODELS = ("lenet5", "tinyvgg", "alexnet", "vgg11", "vgg16", "nin", "googlenet", "resnet18", "resnet50",
          "densenet121", "mobilenet_v2", "squeezenet1_1", "custom")
SOURCES = {"photo": "Photo", "mnist": "MNIST digit", "upload": "Upload", "draw": "Draw a digit"}
SORTS = {"index": "channel number", "mean": "mean activation, largest first",
         "-mean": "mean activation, smallest first", "max": "largest value first"}
PER_PAGE = (16, 32, 64, 128)
CONFIG = {"displaylogo": False}
ACTIVATION_TYPES = ("ReLU", "Tanh", "Sigmoid", "ReLU6", "GELU", "SiLU", "Hardswish", "LeakyReLU")
_KEEP = "_keep_"
_VIEW_WIDTH = 1100  # pixels a full-width chart gets on a large screen: the most worth sending
_PLOT_WIDTH = 820  # pixels it gets on a 1280-pixel-wide laptop screen: what the height is fitted to


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------
def _forget(key: str) -> None:
    """Drop a widget's value (page state and URL) so it starts again from its default."""
    for k in (key, _KEEP + key):
        st.session_state.pop(k, None)
    if key in st.query_params:
        del st.query_params[key]


def fit_choice(key: str, options: Sequence[Any]) -> None:
    """Forget ``key``'s value when it is no longer one of ``options`` (another model was picked).

    A value that only the link gives is left to the widget, which ignores a bad one with a warning.
    """
    now = st.session_state.get(key, st.session_state.get(_KEEP + key))
    if now is not None and str(now) not in {str(o) for o in options}:
        _forget(key)


def fit_number(key: str, lo: int, hi: int) -> None:
    """Forget ``key``'s value when it falls outside ``lo..hi`` (the layer's map got smaller).

    A value that only the link gives is left to the widget, which ignores a bad one with a warning.
    """
    now = st.session_state.get(key, st.session_state.get(_KEEP + key))
    if now is not None and not lo <= now <= hi:
        _forget(key)


def _style(fig: go.Figure, title: str, height: int, **layout: Any) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0.01, "xanchor": "left"}, height=height,
                      font={"size": font_size()}, margin={"l": 10, "r": 10, "t": 50 + font_size(), "b": 10},
                      **layout)
    return fig


def _image_axes(fig: go.Figure, row: int | None = None, col: int | None = None) -> None:
    """Pixel axes: y downwards, square pixels, no ticks."""
    fig.update_xaxes(visible=False, constrain="domain", row=row, col=col)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x" if row is None else None,
                     constrain="domain", row=row, col=col)


def to_rgb8(img: np.ndarray) -> np.ndarray:
    """A [0, 1] grey (H, W) or RGB (H, W, 3) picture as (H, W, 3) uint8."""
    rgb = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)


def upscale(img: np.ndarray, at_least: int = 140) -> np.ndarray:
    """Blow a small picture up with square pixels (the browser would blur it)."""
    factor = max(1, math.ceil(at_least / max(img.shape[:2])))
    return img.repeat(factor, axis=0).repeat(factor, axis=1)


def layer_label(report: Report, name: str) -> str:
    row = report.row(name)
    return f"{name} · {row.type} · {shape_text(row.output_shape)}"


# ---------------------------------------------------------------------------------------------
# Model, weights and the cached computations
# ---------------------------------------------------------------------------------------------
@st.cache_resource(max_entries=3, show_spinner="Loading the model and its weights (the offline MNIST demo is "
                                               "trained on first use)…")
def loaded_model(name: str, key: str, download: bool = False) -> weights.Loaded:
    """The model with its weights, shared by every session (hold ``.lock`` while using it)."""
    return weights.load(name, key, download)


@st.cache_data(max_entries=64, show_spinner=False)
def model_report(name: str, settings: tuple, shape: tuple[int, int, int]) -> Report:
    """The analysis of the model at this input size (meta device: nothing is allocated)."""
    return cnnviz.summarize(name, shape, **dict(settings))


@st.cache_data(max_entries=16, show_spinner="Computing the activation maps…")
def layer_maps(name: str, key: str, image_key: str, layer: str, _loaded: weights.Loaded, _report: Report,
               _x: torch.Tensor) -> np.ndarray:
    """(C, H, W) output of ``layer`` for the image ``image_key`` (the model's input ``_x``)."""
    with _loaded.lock:
        out = activations(_loaded.model, _x, _report, [layer])[layer]
    return out[0].float().contiguous().numpy()


@st.cache_data(max_entries=32, show_spinner=False)
def predictions(name: str, key: str, image_key: str, _loaded: weights.Loaded, _x: torch.Tensor
                ) -> list[tuple[int, str, float]]:
    with _loaded.lock:
        return predict(_loaded.model, _x, _loaded.choice.labels, k=5)


@st.cache_data(max_entries=64, show_spinner="Computing the gradient of the unit…")
def unit_erf(name: str, key: str, image_key: str, layer: str, y: int, x: int, channel: int | None,
             _loaded: weights.Loaded, _report: Report, _x: torch.Tensor) -> erf_mod.EffectiveRF:
    with _loaded.lock:
        return erf_mod.effective_rf(_loaded.model, _x, _report, layer, y, x, channel)


@st.cache_data(max_entries=32, show_spinner="Computing Grad-CAM…")
def class_cam(name: str, key: str, image_key: str, layer: str, target: int, _loaded: weights.Loaded,
              _report: Report, _x: torch.Tensor) -> gradcam.CAM:
    with _loaded.lock:
        return gradcam.grad_cam(_loaded.model, _x, _report, layer, target)


@st.cache_data(max_entries=32, show_spinner=False)
def stacks(channels: int, stride: int, relu: bool, ones: bool) -> tuple[erf_mod.StackResult, erf_mod.StackResult]:
    return erf_mod.compare_stacks(channels, stride, relu, ones)


def custom_choices(options: list[weights.WeightsChoice]) -> list[weights.WeightsChoice]:
    """A builder network (the text ``in_layers``, carried by the builder's link): the checkpoints of that network.

    Random weights build the zoo's default text, so they are offered only for that text.
    """
    from cnnviz.zoo.custom import LENET5_TEXT

    text = url_text_area("Network (text)", "in_layers", LENET5_TEXT,
                         help="A network from the Network builder; train it on the Training page to look inside")
    return [c for c in options if dict(c.settings).get("layers", LENET5_TEXT) == text
            and (c.key != "random" or text == LENET5_TEXT)]


def pick_model_and_weights(lecture: bool) -> tuple[str, weights.WeightsChoice | None, int, bool]:
    """Sidebar: model, weights (saying which are in use and how to get the others), input size.

    Returns the model name, the weights (None: a builder network without trained weights yet),
    the input side (0: the weights' own) and whether the user asked to download the weights.
    """
    name = url_select("Model", "in_model", MODELS, "lenet5", format_func=model_label,
                      help="LeNet-5 and TinyVGG take 28x28 grey digits; the others 224x224 colour photos.")
    options = weights.choices(name)
    if name == "custom":
        options = custom_choices(options)
        if not options:
            return name, None, 0, False
    by_key = {c.key: c for c in options}
    fit_choice("in_weights", list(by_key))
    usable = next(c.key for c in options if c.ready)  # random weights always are
    key = url_select("Weights", "in_weights", list(by_key), usable,
                     format_func=lambda k: by_key[k].label + ("" if by_key[k].ready else " (not on this machine)"),
                     help="Random weights show an untrained network; trained weights show what it learnt.")
    choice = by_key[key]
    download = False
    if choice.ready:
        st.success(f"**In use: {choice.label}**: {choice.note}", icon=":material/check_circle:")
        if name == "lenet5" and (note := lenet_note(choice.settings)):
            st.caption(note)
    else:
        st.warning(f"**Not in use yet: {choice.label}**: {choice.note}", icon=":material/cloud_download:")
        download = st.button("Download", key="in_download", icon=":material/download:",
                             help="Fetch the weights from PyTorch's site onto this machine (needs internet).")
    others = [c for c in options if c.key != key]
    with st.expander("Other weights for this model" if others else "More weights", expanded=False):
        for c in others:
            st.markdown(f"- **{c.label}**{'' if c.ready else ' (not on this machine)'}: {c.note}")
        st.markdown(f"- **Your own**: train {name} on the **Training** page and save it: the checkpoint "
                    "appears here.")
        for info in weights.unusable_checkpoints(name):
            st.markdown(f"- **{plain(info.name, 60)}** (unusable): {plain(_without_file_name(info), 300)}")
    size = 0
    if not lecture:
        with st.expander("Input size", expanded=url_sets({"in_size": 0})):
            size = url_number("Input side (pixels, 0 = what the weights expect)", "in_size", 0, 0, 1024, 1,
                              help="A bigger input gives bigger maps; the model must accept it. Activation views "
                                   "are refused before anything is allocated when they would not fit in memory.")
    return name, choice, int(size), download


def _without_file_name(info: Any) -> str:
    """A checkpoint's problem, without the file name it starts with (the list already shows the name)."""
    return info.error.removeprefix(f"{info.path.name}: ").removeprefix(f"{info.path.name} ")


def input_spec(choice: weights.WeightsChoice, size: int) -> images.InputSpec:
    """The weights' preprocessing, with the crop (and resize) scaled to ``size`` when it is set."""
    spec = choice.input
    if not size or size == spec.size + 2 * spec.pad:
        return spec
    side = max(1, size - 2 * spec.pad)
    return replace(spec, size=side, resize=max(side, round(side * spec.resize / spec.size)))


# ---------------------------------------------------------------------------------------------
# The input image
# ---------------------------------------------------------------------------------------------
@st.cache_data(max_entries=16, show_spinner=False)
def _photo(name: str) -> Image.Image:
    return images.photo(name)


def _canvas_image() -> Image.Image | None:
    """A drawing canvas (white ink on black, like MNIST); None while it is empty."""
    from streamlit_drawable_canvas import st_canvas  # registers its component: only inside a running app

    result = st_canvas(stroke_width=20, stroke_color="#FFFFFF", background_color="#000000", height=280,
                       width=280, drawing_mode="freedraw", key="in_canvas", return_image_data=True)
    data = result.image_data if result is not None else None
    if data is None or not np.asarray(data)[..., :3].any():
        return None
    return Image.fromarray(np.asarray(data, dtype=np.uint8)[..., :3]).convert("L")


def pick_image(channels: int, resize: int) -> tuple[Image.Image, str, bool, str] | None:
    """The image source and its widget: (image, cache key, is a digit to fit, caption) or None.

    An upload is decoded once and shrunk to a shorter side of ``resize`` (what the model's
    preprocessing resizes to), or 224 pixels when that is less, so a digit keeps its strokes.
    """
    source = url_select("Image source", "in_src", list(SOURCES), "mnist" if channels == 1 else "photo",
                        widget="radio", format_func=SOURCES.get, horizontal=True)
    if source == "photo":
        name = url_select("Photo", "in_photo", list(images.PHOTOS), "chelsea", format_func=images.PHOTOS.get,
                          help="Bundled with scikit-image: no download needed.")
        return _photo(name), f"photo:{name}", False, images.PHOTOS[name]
    if source == "mnist":
        last = images.mnist_count() - 1
        index = url_number(f"Digit number (0-{last})", "in_digit", 0, 0, last, 1,
                           help="The held-out test digits of the bundled MNIST (never used for training): "
                                "100 of each class, in order (0-99 are zeros, 100-199 ones, ...).")
        img, label = images.mnist_digit(int(index))
        return img, f"mnist:{index}", False, f"MNIST digit #{index}, labelled {label}"
    if source == "upload":
        up = st.file_uploader("Your image (PNG, JPEG, WebP, BMP or GIF)",
                              type=["png", "jpg", "jpeg", "webp", "bmp", "gif"],
                              max_upload_size=images.MAX_UPLOAD_MB, key="in_upload",
                              help=f"Up to {images.MAX_UPLOAD_MB} MB and {images.MAX_UPLOAD_PIXELS / 1e6:.0f} "
                                   f"million pixels, at most {images.MAX_ASPECT} times longer than wide.")
        if up is None:
            st.info("Upload an image to look at it through the network.", icon=":material/upload:")
            return None
        img, digest, (w, h) = uploaded_image(up, max(resize, 224))
        return img, f"upload:{digest}", channels == 1, f"{plain(up.name, 60)} ({w}x{h})"
    st.caption("Draw a digit with the mouse (white on black, like MNIST).")
    img = _canvas_image()
    if img is None:
        st.info("Draw a digit in the box above.", icon=":material/draw:")
        return None
    digest = hashlib.sha1(np.asarray(img).tobytes()).hexdigest()
    return img, f"draw:{digest}", True, "your drawing"


def show_stages(prep: images.Prepared) -> None:
    """Every preprocessing step as a small picture with what it did."""
    cols = st.columns(len(prep.stages))
    for i, (col, stage) in enumerate(zip(cols, prep.stages)):
        with col:
            st.image(upscale(to_rgb8(stage.image)), caption=f"{i + 1}. {stage.title}", width="stretch")
            st.caption(stage.detail)


def prediction_figure(top: list[tuple[int, str, float]], height: int) -> go.Figure:
    """Top-5 classes as horizontal bars (probability in percent)."""
    labels = [f"{label} ({i})" if label != str(i) else label for i, label, _ in top][::-1]
    probs = [p * 100 for _, _, p in top][::-1]
    fig = go.Figure(go.Bar(x=probs, y=labels, orientation="h", marker_color="#4C78A8",
                           text=[f"{p:.1f}%" for p in probs], textposition="auto",
                           hovertemplate="%{y}: %{x:.2f}%<extra></extra>"))
    fig.update_xaxes(range=[0, 100], title="probability (%)")
    fig.update_yaxes(title=None, automargin=True, type="category")
    return _style(fig, f"Prediction: {top[0][1]} ({top[0][2] * 100:.1f}%)", height)


# ---------------------------------------------------------------------------------------------
# Activation maps
# ---------------------------------------------------------------------------------------------
def colour_scale(lo: float, hi: float) -> dict[str, Any]:
    """One colour scale for the whole layer: sequential from 0 when all values are >= 0, else diverging."""
    if lo >= 0:
        return {"colorscale": "Viridis", "zmin": 0.0, "zmax": hi if hi > 0 else 1.0}
    m = max(abs(lo), abs(hi)) or 1.0
    return {"colorscale": "RdBu_r", "zmin": -m, "zmax": m, "zmid": 0.0}


def _columns(n: int) -> int:
    return max(1, min(n, 8 if n <= 64 else 16))


def _tile_side(columns: int) -> int:
    """Largest map side worth sending: about the pixels a tile gets on screen."""
    return max(16, _VIEW_WIDTH // columns)


def display_factor(shape: Sequence[int], n: int) -> int:
    """By how much :func:`maps_figure` average-pools (C, H, W) maps when it shows ``n`` of them."""
    side = _tile_side(_columns(n))
    return max(1, -(-max(shape[1:]) // side))


def maps_figure(maps: np.ndarray, channels: Sequence[int], title: str, height: int | None = None,
                font: int = 13, scale: tuple[float, float] | None = None) -> go.Figure:
    """The maps of ``channels`` (of (C, H, W) ``maps``) as one grid of heatmaps with one colour scale.

    The grid is a single heatmap trace (tiles separated by gaps) with one text trace for the
    channel numbers: fast to build, send and draw for hundreds of channels. Tiles are
    average-pooled to about what the screen can show.
    """
    n = len(channels)
    columns = _columns(n)
    lo, hi = scale if scale is not None else (float(maps.min()), float(maps.max()))
    tiles, th, tw = mosaic(maps[list(channels)], columns, max_side=_tile_side(columns))
    index = np.full(tiles.shape, -1, dtype=np.int16 if max(channels) > 127 else np.int8)
    rows = math.ceil(n / columns)
    corners = [divmod(i, columns) for i in range(n)]
    for (r, k), c in zip(corners, channels):
        index[r * (th + 1): r * (th + 1) + th, k * (tw + 1): k * (tw + 1) + tw] = c
    fig = go.Figure(go.Heatmap(
        z=tiles, customdata=index, **colour_scale(lo, hi), hoverongaps=False,
        colorbar={"title": {"text": "activation", "side": "right"}, "thickness": 12},
        hovertemplate="channel %{customdata}<br>value %{z:.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[k * (tw + 1) - 0.5 for _, k in corners], y=[r * (th + 1) - 0.5 for r, _ in corners],
        mode="text", text=[f"#{c}" for c in channels], textposition="bottom right", hoverinfo="skip",
        textfont={"size": max(9, font - 3), "color": "white", "shadow": "0px 0px 3px black"}, showlegend=False))
    _image_axes(fig)
    tile_px = (_PLOT_WIDTH - 110) / columns  # the colour bar and margins take about 110 px
    height = height or int(rows * tile_px * th / tw + 70)
    return _style(fig, title, height)


def default_layer(report: Report, names: Sequence[str]) -> str:
    """The first activation after a convolution: edges and blobs, easy to read."""
    for n in names:
        if report.row(n).type in ACTIVATION_TYPES:
            return n
    return names[0]


def activation_section(ctx: "Context") -> None:
    names = ctx.layers
    fit_choice("in_layer", names)
    c1, c2, c3 = st.columns([3, 2, 1])
    with c1:
        layer = url_select("Layer", "in_layer", names, default_layer(ctx.report, names),
                           format_func=lambda n: layer_label(ctx.report, n),
                           help="Every layer with a height x width map, in the order they run.")
    with c2:
        sort = url_select("Order channels by", "in_sort", list(SORTS), "index", format_func=SORTS.get)
    maps = ctx.maps(layer)
    c = maps.shape[0]
    per_options = [p for p in PER_PAGE if p < c] + [c] if not ctx.lecture else [min(c, 32)]
    with c3:
        per = url_select("Per page", "in_per", per_options, min(c, 64) if min(c, 64) in per_options
                         else per_options[-1], help="Channels shown at once") if not ctx.lecture else per_options[0]
    stats = channel_stats(torch.from_numpy(maps), sort)
    pages = math.ceil(c / per)
    page = 1
    if pages > 1:
        fit_number("in_page", 1, pages)
        page = url_number(f"Page (of {pages})", "in_page", 1, 1, pages, 1)
    shown = [r["channel"] for r in stats[(page - 1) * per: page * per]]
    row = ctx.report.row(layer)
    lo, hi = float(maps.min()), float(maps.max())
    which = f"all {c} channels" if len(shown) == c else f"{len(shown)} of {c} channels (page {page} of {pages})"
    title = (f"{layer} ({row.type}): {which} by {SORTS[sort]}, {maps.shape[1]}x{maps.shape[2]} each, "
             f"one colour scale {significant(lo)} to {significant(hi)}")
    chart(maps_figure(maps, shown, title, font=font_size(), scale=(lo, hi)), config=CONFIG,
                    key="in_maps_chart")
    factor = display_factor(maps.shape, len(shown))
    pooled = f"Each map is shown averaged over {factor}x{factor} pixel blocks; " if factor > 1 else ""
    st.caption(f"A unit here sees {row.rf} px of the input; neighbouring units are {row.jump} px apart. "
               f"{pooled}hover for values. {_zero_share(stats)}")
    with st.expander(f"Statistics of all {c} channels (sorted by {SORTS[sort]})", expanded=False):
        st.dataframe(
            [{"channel": r["channel"], "mean": r["mean"], "std": r["std"], "min": r["min"], "max": r["max"],
              "active (%)": 100 * r["active"]} for r in stats],
            hide_index=True, height=chart_height(300),
            column_config={k: st.column_config.NumberColumn(format="%.3f") for k in ("mean", "std", "min", "max")}
            | {"active (%)": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f%%")})


def _zero_share(stats: list[dict[str, float]]) -> str:
    dead = sum(1 for r in stats if r["max"] <= 0)
    verb = "is" if dead == 1 else "are"
    return f"{dead} of {len(stats)} channels {verb} zero everywhere for this image." if dead else ""


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------
def patches_figure(patches: np.ndarray, title: str, height: int) -> go.Figure:
    """First-layer filters (N, kh, kw[, 3]) in [0, 1] as a grid of small pictures."""
    n, kh, kw = patches.shape[:3]
    columns = min(n, 16)
    rgb = patches if patches.ndim == 4 else np.repeat(patches[..., None], 3, axis=3)
    rows = math.ceil(n / columns)
    grid = np.ones((rows * (kh + 1) - 1, columns * (kw + 1) - 1, 3))
    for i in range(n):
        r, c = divmod(i, columns)
        grid[r * (kh + 1): r * (kh + 1) + kh, c * (kw + 1): c * (kw + 1) + kw] = rgb[i]
    fig = go.Figure(go.Image(z=(grid * 255).round().astype(np.uint8), hoverinfo="skip"))
    _image_axes(fig)
    return _style(fig, title, height)


def kernels_figure(kernels: np.ndarray, title: str, height: int) -> go.Figure:
    """One filter's (in_channels, kh, kw) weights, one small heatmap per input channel (0 = white)."""
    n = kernels.shape[0]
    columns = min(n, 16)
    tiles, th, tw = mosaic(kernels, columns)
    index = np.full(tiles.shape, -1, dtype=np.int16)
    for i in range(n):
        r, c = divmod(i, columns)
        index[r * (th + 1): r * (th + 1) + th, c * (tw + 1): c * (tw + 1) + tw] = i
    m = float(np.abs(kernels).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=tiles, customdata=index, colorscale="RdBu_r", zmin=-m, zmax=m, hoverongaps=False,
                               colorbar={"title": {"text": "weight", "side": "right"}, "thickness": 12},
                               hovertemplate="input channel %{customdata}<br>weight %{z:.4f}<extra></extra>"))
    _image_axes(fig)
    return _style(fig, title, height)


def filters_section(ctx: "Context") -> None:
    model = ctx.loaded.model
    convs = filters.conv_layers(model)
    if not convs:
        st.info(f"{ctx.name} has no convolution layer.")
        return
    first = model.get_submodule(convs[0])
    st.subheader("First layer: the filters that touch the pixels")
    if first.in_channels in (1, 3):
        patches = filters.first_layer_patches(model)
        kind = "colour" if first.in_channels == 3 else "grey"
        chart(patches_figure(
            patches, f"{convs[0]}: {len(patches)} {kind} filters of {first.kernel_size[0]}x{first.kernel_size[1]} "
                     f"(mid-grey = 0, one scale for all)", chart_height(260 if len(patches) > 16 else 200)),
            config=CONFIG, key="in_first_filters")
        st.caption("Trained first layers learn edges at several angles, colour blobs and gratings; random ones "
                   "are noise. Each filter is drawn as the input patch that excites it most.")
    else:
        st.info(f"{convs[0]} reads {first.in_channels} channels per filter: see it channel by channel below.")
    st.subheader("Any layer: one filter, channel by channel")
    fit_choice("in_fl", convs)
    c1, c2 = st.columns([3, 1])
    with c1:
        layer = url_select("Convolution layer", "in_fl", convs, convs[1] if len(convs) > 1 else convs[0])
    conv = model.get_submodule(layer)
    fit_number("in_fi", 0, conv.out_channels - 1)
    with c2:
        index = url_number(f"Filter (0-{conv.out_channels - 1})", "in_fi", 0, 0, conv.out_channels - 1, 1)
    kernels = filters.channel_kernels(model, layer, int(index))
    left, right = st.columns([3, 2])
    with left:
        chart(kernels_figure(
            kernels, f"{layer} filter {index}: {kernels.shape[0]} input channels x "
                     f"{kernels.shape[1]}x{kernels.shape[2]} weights", chart_height(300)),
            config=CONFIG, key="in_kernels")
    with right:
        if layer in ctx.layers:
            maps = ctx.maps(layer)
            fig = go.Figure(go.Heatmap(z=maps[int(index)], **colour_scale(float(maps.min()), float(maps.max())),
                                       hovertemplate="y %{y}, x %{x}: %{z:.3f}<extra></extra>"))
            _image_axes(fig)
            chart(_style(fig, f"What filter {index} responds to in this image", chart_height(300)),
                            config=CONFIG, key="in_filter_map")
    st.caption("A filter of a deeper layer has one small kernel per channel of the layer before: it combines "
               "what those channels found. Red weights add, blue weights subtract.")


# ---------------------------------------------------------------------------------------------
# Receptive field
# ---------------------------------------------------------------------------------------------
ERF_SCALE = [[0.0, "rgba(255,40,0,0)"], [0.05, "rgba(255,40,0,0.25)"], [1.0, "rgba(255,230,0,0.95)"]]


def rf_figure(shown: np.ndarray, erf: erf_mod.EffectiveRF, title: str, height: int) -> go.Figure:
    """The input with the effective RF (gradient heat) and the theoretical RF box over it."""
    h, w = shown.shape[:2]
    heat = erf.grad / (erf.grad.max() or 1.0)
    fig = go.Figure(go.Image(z=to_rgb8(shown), hoverinfo="skip"))
    fig.add_trace(go.Heatmap(z=np.where(heat > 0, heat, np.nan), colorscale=ERF_SCALE, zmin=0, zmax=1,
                             hoverongaps=False, name="effective RF",
                             colorbar={"title": {"text": "|gradient|<br>(of max)", "side": "right"},
                                       "thickness": 12},
                             hovertemplate="y %{y}, x %{x}: %{z:.3f} of the largest<extra></extra>"))
    t, l, b, r = erf.box
    fig.add_shape(type="rect", x0=-0.5, y0=-0.5, x1=w - 0.5, y1=h - 0.5, line={"color": "#888", "width": 1})
    fig.add_shape(type="rect", x0=l - 0.5, y0=t - 0.5, x1=r + 0.5, y1=b + 0.5,
                  line={"color": "#00E5FF", "width": 3, "dash": "dash"}, name="theoretical RF")
    x0, x1 = min(-0.5, l - 0.5) - 1, max(w - 0.5, r + 0.5) + 1
    y0, y1 = min(-0.5, t - 0.5) - 1, max(h - 0.5, b + 0.5) + 1
    fig.update_xaxes(range=[x0, x1], visible=False, constrain="domain")
    fig.update_yaxes(range=[y1, y0], visible=False, scaleanchor="x", constrain="domain")
    return _style(fig, title, height)


def unit_map_figure(plane: np.ndarray, y: int, x: int, title: str, height: int) -> go.Figure:
    """A layer's map with the chosen unit marked; every unit is clickable."""
    h, w = plane.shape
    fig = go.Figure(go.Heatmap(z=plane, colorscale="Viridis" if plane.min() >= 0 else "RdBu_r",
                               hoverinfo="skip", showscale=False))
    step = max(1, math.ceil(max(h, w) / 64))  # at most 64x64 click targets
    gy, gx = np.mgrid[0:h:step, 0:w:step]
    fig.add_trace(go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", name="units",
                             marker={"size": max(4, 300 // max(h, w)), "color": "rgba(255,255,255,0.01)",
                                     "symbol": "square"},
                             hovertemplate="unit y %{y}, x %{x}: click to choose<extra></extra>"))
    fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", name="chosen unit", hoverinfo="skip",
                             marker={"size": 14, "symbol": "square-open", "color": "#FF1744",
                                     "line": {"width": 3}}))
    _image_axes(fig)
    fig.update_layout(showlegend=False, clickmode="event+select", dragmode=False)
    return _style(fig, title, height)


def default_rf_layer(report: Report, names: Sequence[str]) -> str:
    """The convolution whose receptive field is closest to a third of the input: big enough to see."""
    convs = [n for n in names if report.row(n).type == "Conv2d"] or list(names)
    target = report.input_shape[1] / 3
    return min(convs, key=lambda n: abs(max(report.row(n).rf_field.h.size, report.row(n).rf_field.w.size) - target))


def _apply_click(chart_key: str) -> None:
    """A click on the layer map (handled before the sliders are drawn) moves the unit sliders."""
    state = st.session_state.get(chart_key)
    points = state["selection"]["points"] if state else []
    points = [p for p in points if p.get("curve_number") == 1]
    if not points:
        return
    sig = (points[0]["x"], points[0]["y"])
    if st.session_state.get(_KEEP + chart_key) == sig:
        return
    st.session_state[_KEEP + chart_key] = sig
    st.session_state["in_ux"], st.session_state["in_uy"] = int(round(sig[0])), int(round(sig[1]))


def rf_section(ctx: "Context") -> None:
    report = ctx.report
    names = [n for n in ctx.layers if report.row(n).rf_field.h is not None]
    fit_choice("in_rf_layer", names)
    layer = url_select("Layer of the unit", "in_rf_layer", names, default_rf_layer(report, names),
                       format_func=lambda n: layer_label(report, n),
                       help="The receptive field grows with every convolution and pooling layer.")
    row = report.row(layer)
    c, h, w = row.output_shape
    chart_key = "in_rf_pick_" + "".join(ch if ch.isalnum() else "_" for ch in layer)
    fit_number("in_uy", 0, h - 1)
    fit_number("in_ux", 0, w - 1)
    _apply_click(chart_key)
    channel_options = ["all"] + [str(i) for i in range(c)]
    fit_choice("in_uc", channel_options)
    s1, s2, s3 = st.columns([2, 2, 1])
    with s1:
        y = url_number("Unit row y", "in_uy", h // 2, 0, h - 1, 1, widget="slider") if h > 1 else 0
    with s2:
        x = url_number("Unit column x", "in_ux", w // 2, 0, w - 1, 1, widget="slider") if w > 1 else 0
    with s3:
        ch = url_select("Channel", "in_uc", channel_options, "all",
                        format_func=lambda v: "all (sum)" if v == "all" else v,
                        help="The unit's value: one channel at (y, x), or the sum over all channels.")
    channel = None if ch == "all" else int(ch)
    erf = unit_erf(ctx.name, ctx.key, ctx.image_key, layer, int(y), int(x), channel, ctx.loaded, report, ctx.x)
    t, l, b, r = erf.box
    left, right = st.columns([3, 2])
    with left:
        chart(rf_figure(ctx.prep.shown, erf, f"Unit ({y}, {x}) of {layer} on the input",
                                  chart_height(460)), config=CONFIG, key="in_rf_overlay")
    with right:
        maps = ctx.maps(layer)
        plane = maps.sum(0) if channel is None else maps[channel]
        chart(unit_map_figure(plane, int(y), int(x), f"{layer} ({'all channels' if channel is None else f'channel {channel}'}): click a unit",
                                        chart_height(360)),
                        config=CONFIG, key=chart_key, on_select="rerun", selection_mode="points")
    support = erf.support()
    m1, m2, m3 = st.columns(3)
    m1.metric("Theoretical RF", f"{row.rf} px", help="Every input pixel that can change this unit: the dashed "
              "box (it may reach into the zero padding around the image).")
    side = erf.mass_side(0.9)
    m2.metric("90% of the gradient within", f"{side}x{side} px" if support else "none",
              help="The smallest square around the unit's centre that holds 90% of the gradient: where the unit "
                   "actually looks (its effective receptive field).")
    m3.metric("Gradient inside the box", f"{100 * erf.mass_inside():.1f}%",
              help="Share of the gradient that falls inside the theoretical box: always 100%.")
    if support is None:
        st.warning("This unit does not respond to small changes of this image (a ReLU before it is off "
                   "everywhere): pick another unit or channel.")
    st.caption(f"The unit's value is {significant(erf.value)}. "
               f"Dashed cyan: the theoretical receptive field from the layer arithmetic, input rows {t:g} to "
               f"{b:g} and columns {l:g} to {r:g}. Yellow-red: how strongly each input pixel changes the unit "
               "(|gradient|, the effective receptive field), concentrated in the middle: central pixels reach "
               "the unit along many more paths than those at the edge of the box.")
    fig = rf_chart(report, chart_height(340), font_size())
    fig.add_vline(x=row.index, line={"color": "#FF1744", "dash": "dot"}, annotation_text=layer,
                  annotation_position="top right")
    chart(fig, config=CONFIG, key="in_rf_growth")
    three_by_three_section(ctx.lecture)


def stacks_figure(a: erf_mod.StackResult, b: erf_mod.StackResult, height: int) -> go.Figure:
    fig = make_subplots(1, 2, subplot_titles=(f"{a.title}: RF {a.rf}, {a.params:,} weights",
                                              f"{b.title}: RF {b.rf}, {b.params:,} weights"),
                        horizontal_spacing=0.06)
    for i, s in enumerate((a, b), start=1):
        fig.add_trace(go.Heatmap(z=s.erf, colorscale="Reds", zmin=0, zmax=1, showscale=i == 2,
                                 colorbar={"title": {"text": "|gradient|<br>(of max)", "side": "right"},
                                           "thickness": 12},
                                 hovertemplate="y %{y}, x %{x}: %{z:.3f}<extra></extra>"), 1, i)
        n = s.erf.shape[0]
        edge = (n - s.rf) / 2 - 0.5
        fig.add_shape(type="rect", x0=edge, y0=edge, x1=edge + s.rf, y1=edge + s.rf, row=1, col=i,
                      line={"color": "#00E5FF", "width": 2, "dash": "dash"})
        fig.update_xaxes(visible=False, constrain="domain", row=1, col=i)
        fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=f"x{'' if i == 1 else i}",
                         constrain="domain", row=1, col=i)
    return _style(fig, "Effective receptive field of the centre output unit", height)


def three_by_three_section(lecture: bool) -> None:
    st.subheader("Three 3x3 convolutions see what one 7x7 sees")
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        stride = url_select("Stride of each 3x3", "in_cmp_s", [1, 2, 3], 1, widget="radio", horizontal=True)
    with c2:
        channels = url_number("Channels C", "in_cmp_c", 8, 1, 64, 1)
    with c3:
        ones = url_select("Weights", "in_cmp_w", ["equal", "random"], "equal", widget="radio", horizontal=True,
                          help="Equal weights: the gradient counts the paths from each pixel to the unit.")
    with c4:
        relu = url_toggle("ReLU between layers", "in_cmp_relu", False)
    a, b = stacks(int(channels), int(stride), bool(relu), ones == "equal")
    chart(stacks_figure(a, b, chart_height(360)), config=CONFIG, key="in_stacks")
    k = b.rf
    st.markdown(
        f"Both see a **{k}x{k}** box of the input (dashed). The stack needs 3 x 9C² = **{a.params:,}** weights "
        f"against {k}²C² = **{b.params:,}** for C = {channels}, and has {'two more non-linearities' if relu else 'room for two more non-linearities'}. "
        f"Its gradient is piled up in the middle: a centre pixel reaches the output along many paths, a corner "
        f"pixel along one, so the *effective* field is smaller than the box (Luo et al., 2016).")
    if stride > 1:
        st.caption(f"With stride {stride} the windows of each 3x3 layer overlap less: the field grows "
                   f"3 → {1 + 2 * (1 + stride)} → {k}. The course notes' 3 → 9 → 27 is the stride-3 case "
                   "(windows side by side); with stride 1 it is 3 → 5 → 7.")


# ---------------------------------------------------------------------------------------------
# Grad-CAM
# ---------------------------------------------------------------------------------------------
CAM_SCALE = [[0.0, "rgba(0,0,255,0)"], [0.2, "rgba(0,120,255,0.25)"], [0.6, "rgba(255,200,0,0.55)"],
             [1.0, "rgba(255,0,0,0.8)"]]


def cam_figure(shown: np.ndarray, cam: gradcam.CAM, title: str, height: int) -> go.Figure:
    fig = go.Figure(go.Image(z=to_rgb8(shown), hoverinfo="skip"))
    fig.add_trace(go.Heatmap(z=cam.heatmap, colorscale=CAM_SCALE, zmin=0, zmax=1,
                             colorbar={"title": {"text": "Grad-CAM<br>(of max)", "side": "right"},
                                       "thickness": 12},
                             hovertemplate="y %{y}, x %{x}: %{z:.2f}<extra></extra>"))
    _image_axes(fig)
    return _style(fig, title, height)


def gradcam_section(ctx: "Context") -> None:
    if not ctx.loaded.choice.trained:
        st.info("Grad-CAM explains a trained network's prediction. These weights are random: choose trained "
                "weights in the sidebar (for LeNet-5 and TinyVGG, 'Trained here on MNIST digits' works offline).",
                icon=":material/info:")
        return
    report = ctx.report
    top = ctx.top
    ranks = list(range(len(top)))
    c1, c2 = st.columns([2, 3])
    with c1:
        rank = url_select("Explain the class", "in_cam_k", ranks, 0, widget="radio",
                          format_func=lambda i: f"{top[i][1]} ({top[i][2] * 100:.1f}%)")
    candidates = [n for n in ctx.layers if report.row(n).output_shape[1] * report.row(n).output_shape[2] > 1]
    fit_choice("in_cam_layer", candidates)
    with c2:
        layer = url_select("Layer", "in_cam_layer", candidates, gradcam.default_layer(ctx.loaded.model, report),
                           format_func=lambda n: layer_label(report, n),
                           help="Grad-CAM's usual choice is the last map before the classifier: coarse, but "
                                "the most about classes.")
    target, label, prob = top[int(rank)]
    cam = class_cam(ctx.name, ctx.key, ctx.image_key, layer, target, ctx.loaded, report, ctx.x)
    left, right = st.columns([3, 2])
    with left:
        chart(cam_figure(ctx.prep.shown, cam, f"Where {ctx.name} looks for '{label}' ({prob * 100:.1f}%)",
                                   chart_height(460)), config=CONFIG, key="in_cam")
    with right:
        fig = go.Figure(go.Heatmap(z=cam.coarse, colorscale="Viridis",
                                   hovertemplate="y %{y}, x %{x}: %{z:.3f}<extra></extra>"))
        _image_axes(fig)
        h, w = cam.coarse.shape
        chart(_style(fig, f"{layer}: the {h}x{w} map before upsampling", chart_height(300)),
                        config=CONFIG, key="in_cam_coarse")
    st.caption("Grad-CAM (Selvaraju et al., 2017): each map of the layer is weighted by how much the class score "
               "grows with it (its average gradient); the weighted sum, with negatives cut to 0, is upsampled to "
               "the image. Red: the regions that raise the score of the class.")


# ---------------------------------------------------------------------------------------------
# What the sections share
# ---------------------------------------------------------------------------------------------
class Context:
    """Everything the tabs need: model, weights, report, the prepared image and its cache key."""

    def __init__(self, name: str, key: str, loaded: weights.Loaded, report: Report, prep: images.Prepared,
                 image_key: str, lecture: bool) -> None:
        self.name, self.key, self.loaded, self.report = name, key, loaded, report
        self.prep, self.image_key, self.lecture = prep, image_key, lecture
        self.x = prep.tensor
        self.layers = spatial_layers(loaded.model, report)
        if not self.layers:
            raise ConfigError(f"{name} has no layer with a spatial map to look at")
        self._top: list[tuple[int, str, float]] | None = None

    def maps(self, layer: str) -> np.ndarray:
        return layer_maps(self.name, self.key, self.image_key, layer, self.loaded, self.report, self.x)

    @property
    def top(self) -> list[tuple[int, str, float]]:
        if self._top is None:
            self._top = predictions(self.name, self.key, self.image_key, self.loaded, self.x)
        return self._top


def prepare(name: str, choice: weights.WeightsChoice, size: int, download: bool
            ) -> tuple[weights.Loaded, images.InputSpec, Report]:
    """Check the memory budget on the meta-device analysis, then load the model with its weights."""
    spec = input_spec(choice, size)
    try:
        report = model_report(name, choice.settings, spec.input_shape)
    except ConfigError as exc:
        if not size:
            raise
        raise ConfigError(f"{exc} (the input side {size} set in the sidebar does not fit {name}: set it "
                          "back to 0)") from None
    guard.check(report, "inference", batch_size=2)  # a backward pass for the receptive field and Grad-CAM
    return loaded_model(name, choice.key, download), spec, report
