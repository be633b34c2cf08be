"""The Training lab's widgets, live views and charts (the numbers come from :mod:`cnnviz.train`).

A run is a job of :mod:`cnnviz.jobs` (kind ``train``): it trains in a worker process, never in the
server, and its id is in the link (``tr_job``), so a reload, a reconnect or a second tab of the same
browser finds it again with its curves; a finished run's results are read back from disk. The live
part is an ``st.fragment(run_every=...)`` that reads the job; when it ends it triggers one full rerun,
which draws the results and stops the polling. Every key starts with ``tr_`` so this page's query
parameters never clash with another page's.
"""
from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from cnnviz import jobs
from cnnviz.analysis import significant
from cnnviz.data import DATASETS, Dataset, load_dataset, preprocessing_steps
from cnnviz.jobs import JobView
from cnnviz.train import TrainConfig, list_checkpoints, read_curves
from cnnviz.train.checkpoints import MIN_EPOCHS
from cnnviz.train.config import FIELDS, RECOMMENDED_SETTINGS
from cnnviz.train.device import describe, pick_device
from cnnviz.ui.model_settings import hidden_value
from cnnviz.ui.jobs import job_queue_message, time_left
from cnnviz.ui.owner import owner_key
from cnnviz.ui.lenet import lenet_note
from cnnviz.ui.state import (choice_parser, friendly_errors, ignored, number_parser, plain, scaled_px,
                             style_chart, url_number, url_select, url_sets, url_text_area, url_toggle)
from cnnviz.ui.words import choice_label, setting_label
from cnnviz.zoo import Setting, get_spec
from cnnviz.ui.figures import chart, chart_in

PARTS = ("Train", "Data", "Experiments")
MODELS = ("lenet5", "mlp", "tinyvgg", "convpool", "resnet20", "resnet32", "resnet56", "plain20", "plain32", "plain56",
          "resnet18", "mobilenet_v2", "custom")
POLL_S = 1.0  # how often the live views redraw
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
JOB = "tr_job"
CONFIG = {"displaylogo": False}


# the page's charts: lecture-mode styling with the legend under the plot
_style = functools.partial(style_chart, legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0.0,
                                                 "xanchor": "left"})


@st.cache_resource(show_spinner=False)
def warm_up_once() -> bool:
    """Start the job workers (their imports take seconds) once per server, before the first Train."""
    jobs.warm()
    return True


def device_caption() -> None:
    warm_up_once()
    device = pick_device()
    where = "cpu" if device.type == "cpu" else describe(device)
    st.caption(f"Device: **{where}** (CUDA if there is a GPU, then Apple MPS, then the CPU; mixed precision on "
               "CUDA; on a CPU a run starts on 1 thread and takes all cores when they are free and faster).")


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------
def dataset_picker() -> str:
    names = list(DATASETS)
    return url_select("Dataset", "tr_ds", names, "mnist", format_func=lambda n: DATASETS[n].title,
                      help="The first three need nothing; the torchvision ones are downloaded into the data "
                           "folder when the machine is online.")


def _setting_widget(setting: Setting, key: str, default: Any) -> Any:
    label = setting_label(setting.name)
    if setting.kind == "bool":
        return url_toggle(label, key, bool(default), help=setting.help)
    if setting.kind == "choice":
        return url_select(label, key, setting.choices, default, help=setting.help, format_func=choice_label)
    if setting.kind == "float":
        return url_number(label, key, float(default), min_value=setting.min, max_value=setting.max, step=0.05,
                          help=setting.help, format="%.3g")
    if setting.kind == "int":
        return url_number(label, key, int(default), min_value=None if setting.min is None else int(setting.min),
                          max_value=None if setting.max is None else int(setting.max), help=setting.help)
    if setting.kind == "str":  # the builder's network text, carried here by its "Train it" link
        return url_text_area(label, key, default, help=setting.help)
    return default


def model_form(model: str, per_row: int = 3) -> dict[str, Any]:
    """The model's own settings (the dataset sets channels, size and classes), starting at the training defaults."""
    recommended = RECOMMENDED_SETTINGS.get(model, {})
    settings = get_spec(model).settings
    values = {}
    for start in range(0, len(settings), per_row):
        for col, s in zip(st.columns(per_row), settings[start:start + per_row]):
            with col:
                values[s.name] = _setting_widget(s, f"tr_m_{model}_{s.name}", recommended.get(s.name, s.default))
    return values


def training_form(lecture: bool) -> TrainConfig:
    """Dataset, model, its settings and the training settings; returns the (unchecked) config."""
    d = TrainConfig()
    c1, c2 = st.columns(2)
    with c1:
        dataset = dataset_picker()
    with c2:
        model = url_select("Model", "tr_model", MODELS, d.model,
                           help="Small networks that train in seconds to minutes on a CPU.")
    with st.expander(f"{model} settings", expanded=not lecture):
        settings = model_form(model)
    if model == "lenet5":
        c, h, _ = DATASETS[dataset].shape
        note = lenet_note(tuple(sorted({"in_channels": c, "input_size": h, **settings}.items())))
        if note:
            st.caption(note)
    f = FIELDS  # the bounds of every widget below: the same table the engine and the CLI check against
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        optimizer = url_select("Optimizer", "tr_opt", f["optimizer"].choices, d.optimizer, help=f["optimizer"].help)
    with c2:
        lr = url_number("Learning rate", "tr_lr", d.lr, 1e-6, f["lr"].hi, format="%.4g", step=1e-3)
    with c3:
        epochs = url_number("Epochs", "tr_ep", d.epochs, int(f["epochs"].lo), int(f["epochs"].hi))
    with c4:
        batch = url_number("Batch size", "tr_bs", d.batch_size, int(f["batch_size"].lo), int(f["batch_size"].hi))
    advanced: dict[str, Any] = {}
    specs = {
        "schedule": ("Learning-rate schedule", "tr_sched", f["schedule"].choices, d.schedule),
        "init": ("Weight initialisation", "tr_init", f["init"].choices, d.init),
        "augment": ("Augmentation", "tr_aug", f["augment"].choices, d.augment),
    }
    numbers = {  # an optional setting shows None as 0
        "momentum": ("Momentum (SGD)", "tr_mom", d.momentum, f["momentum"].lo, f["momentum"].hi),
        "weight_decay": ("Weight decay", "tr_wd", d.weight_decay, f["weight_decay"].lo, f["weight_decay"].hi),
        "seed": ("Seed", "tr_seed", d.seed, int(f["seed"].lo), int(f["seed"].hi)),
        "subset": ("Training images (0 = all)", "tr_subset", 0, 0, int(f["subset"].hi)),
        "max_seconds": ("Time limit in s (0 = none)", "tr_maxs", 0.0, 0.0, f["max_seconds"].hi),
        "image_size": ("Image side in px (0 = the dataset's)", "tr_img", 0, 0, int(f["image_size"].hi)),
    }
    if lecture:
        for name, (_, key, choices, default) in specs.items():
            advanced[name] = hidden_value(key, default, choice_parser(choices))
        for name, (_, key, default, lo, hi) in numbers.items():
            advanced[name] = hidden_value(key, default, number_parser(type(default), lo, hi))
    else:
        linked = {key: default for _, key, *_rest, default in specs.values()}
        linked |= {key: default for _, key, default, _lo, _hi in numbers.values()}
        with st.expander("More training settings", expanded=url_sets(linked)):
            cols = st.columns(4)
            for col, (name, (label, key, choices, default)) in zip(cols, specs.items()):
                with col:
                    advanced[name] = url_select(label, key, choices, default, format_func=choice_label)
            cols = st.columns(len(numbers))
            for col, (name, (label, key, default, lo, hi)) in zip(cols, numbers.items()):
                with col:
                    extra = {"format": "%.4g"} if isinstance(default, float) else {}
                    advanced[name] = url_number(label, key, default, lo, hi, **extra)
    advanced["subset"] = int(advanced["subset"]) or None
    advanced["max_seconds"] = float(advanced["max_seconds"]) or None
    advanced["image_size"] = int(advanced["image_size"]) or None
    return TrainConfig(model=model, settings=settings, dataset=dataset, optimizer=optimizer, lr=float(lr),
                       epochs=int(epochs), batch_size=int(batch), **advanced)


# ---------------------------------------------------------------------------------------------
# Starting, polling and showing a run
# ---------------------------------------------------------------------------------------------
def start_run(cfg: TrainConfig, keep: bool = False) -> None:
    """Check the settings and submit the run as a job of this browser's owner; its id goes into the link.

    The job's lease is the server's timeout for a disconnected session: a run whose page is gone for
    longer than that stops, so it cannot hold a worker for nobody.
    """
    cfg.validate()
    params = {"config": cfg.to_dict(), "save": True if keep else None}  # None: kept when worth keeping
    st.query_params[JOB] = jobs.submit("train", params, owner=owner_key(), label=cfg.model, lease_s=_lease())


def _lease() -> float:
    """A job's lease: the server's timeout for a disconnected session (the page is gone for good after it)."""
    return max(float(st.get_option("server.disconnectedSessionTTL")), 10.0)


def current_job(key: str = JOB, kind: str = "train") -> JobView | None:
    """This browser's job of ``kind`` named by the link's ``key`` (None when there is none, or it is not this
    browser's: a shared link shows the settings, never someone else's run)."""
    raw = st.query_params.get(key)
    if raw is None:
        return None
    view = jobs.get(raw)
    if view is None or view.kind != kind or view.owner != owner_key():
        ignored(key, raw, "no run of this browser has this id (runs are seen only in the browser that "
                "started them)")
        del st.query_params[key]
        return None
    return view


def train_buttons(cfg_factory: Any) -> None:
    view = current_job()
    busy = view is not None and not view.ended
    keep = url_toggle("Keep a checkpoint even if I stop it early", "tr_keep", False,
                      help=f"A run that finishes, or trains {MIN_EPOCHS:g} epoch, is always kept; one stopped "
                           "sooner only with this on (your oldest are deleted beyond the server's count limit)")
    c1, c2 = st.columns([1, 3])
    with c1:
        if st.button("Train", type="primary", disabled=busy, icon=":material/play_arrow:", width="stretch",
                     help="Start a run with these settings" if not busy else "A run is in progress: stop it first"):
            with friendly_errors("Training"):
                start_run(cfg_factory(), keep)
                st.rerun()
    with c2:
        if busy:
            # Next to Train, where nothing above moves while the run starts: a Stop button drawn below, in
            # the polling part, shifted as the page filled in, and clicks the moment it appeared missed it.
            st.button("Stop training", icon=":material/stop:", key="tr_stop", on_click=jobs.cancel,
                      args=(view.id, owner_key()), help="Stops within one batch and keeps what was learned")
        elif view is not None:
            st.caption(f"Last run: {plain(view.label)}, {view.state}.")


def show_progress(view: JobView) -> None:
    if view.state == "queued":
        st.info(job_queue_message(view), icon=":material/hourglass_top:")
        return
    if view.state == "failed":
        st.error(f"The run failed: {plain(view.error)}", icon="⚠️")
        return
    p = view.last("progress")
    if p is None or not p.get("step"):
        if view.ended:
            st.info("Stopped before the first training step: nothing was learned or saved.")
        else:
            st.progress(0.0, text="starting ...")
        return
    fraction = 1.0 if view.state == "finished" else min(1.0, p["epoch"] / max(1, p["epochs"]))
    left = f"{p['seconds']:.1f} s" if view.ended else time_left(p.get("seconds_left"))
    text = (f"{plain(p['run'])} · {p['phase']} · epoch {p['epoch']:.1f} / {p['epochs']} · "
            f"{p['images_per_s']:,.0f} images/s · {left} · {p['device']}")
    st.progress(fraction, text=text)


def curves(view: JobView) -> tuple[list[dict[str, float]], list[dict[str, float]], int]:
    """The run's step records, epoch records and planned epochs: from the result once it ended, else the events."""
    if view.result is not None:
        r = view.result
        return r.get("steps", []), r.get("epochs", []), int(r.get("config", {}).get("epochs", 1))
    steps = [s for e in view.events if e.get("type") == "progress" for s in e.get("steps", [])]
    epochs = [e for e in view.events if e.get("type") == "epoch"]
    start = view.last("start") or {}
    return steps, epochs, int(start.get("epochs", 1))


def curves_figures(steps: list[dict[str, float]], epochs: list[dict[str, float]],
                   planned: int) -> tuple[go.Figure, go.Figure]:
    """Loss and accuracy against epochs: training (every few steps and per epoch) and validation."""
    loss, acc = go.Figure(), go.Figure()
    for fig, key, scale in ((loss, "loss", 1.0), (acc, "accuracy", 100.0)):
        if steps:
            fig.add_scatter(x=[s["epoch"] for s in steps], y=[s[key] * scale for s in steps], mode="lines",
                            name="training (batches)", line=dict(color=COLORS[0], width=1), opacity=0.45)
        if epochs:
            fig.add_scatter(x=[e["epoch"] for e in epochs], y=[e[f"train_{key}"] * scale for e in epochs],
                            mode="lines+markers", name="training (epoch mean)", line=dict(color=COLORS[0]))
            fig.add_scatter(x=[e["epoch"] for e in epochs], y=[e[f"val_{key}"] * scale for e in epochs],
                            mode="lines+markers", name="validation", line=dict(color=COLORS[1]))
    xrange = dict(range=[0, planned])
    _style(loss, "Loss (cross-entropy)", "epoch", "loss", xaxis=xrange)
    _style(acc, "Accuracy", "epoch", "accuracy (%)", xaxis=xrange, yaxis=dict(range=[0, 101]))
    return loss, acc


def show_curves(view: JobView) -> None:
    loss, acc = curves_figures(*curves(view))
    c1, c2 = st.columns(2)
    chart_in(c1, loss, config=CONFIG, key="tr_loss_chart")
    chart_in(c2, acc, config=CONFIG, key="tr_acc_chart")


def live_run() -> None:
    """The live view of this browser's run: progress and curves; polls while the run is active (Stop is by Train)."""
    view = current_job()
    active = view is not None and not view.ended

    @st.fragment(run_every=POLL_S if active else None)
    def _live() -> None:
        view = current_job()
        if view is None:
            st.info("Choose the settings and press **Train**. The defaults train LeNet-5 (modern: ReLU, max "
                    "pooling, batch norm) on the bundled MNIST digits to about 98% test accuracy in seconds.")
            return
        show_progress(view)
        show_curves(view)
        if active and view.ended:
            st.rerun()  # one full rerun: draws the results and stops this polling

    with st.container():  # the fragment redraws inside this one slot of the page, never beyond it
        _live()


# ---------------------------------------------------------------------------------------------
# After the run
# ---------------------------------------------------------------------------------------------
def confusion_figure(confusion: np.ndarray, classes: tuple[str, ...]) -> go.Figure:
    labels = list(classes)
    fig = go.Figure(go.Heatmap(z=confusion, x=labels, y=labels, colorscale="Blues", text=confusion,
                               texttemplate="%{text}", hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
                               colorbar=dict(title="images")))
    _style(fig, "Confusion matrix (test split)", "predicted class", "true class", 420)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return fig


def per_class_figure(accuracy: np.ndarray, classes: tuple[str, ...]) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(classes), y=accuracy * 100, marker_color=COLORS[0],
                           hovertemplate="%{x}: %{y:.1f}%<extra></extra>"))
    _style(fig, "Accuracy per class (test split)", "class", "accuracy (%)", 420, yaxis=dict(range=[0, 100]))
    fig.update_xaxes(type="category")
    return fig


def _to_rgb(image: np.ndarray, max_value: float, scale: int) -> np.ndarray:
    """uint8 (C, H, W) -> (H*scale, W*scale, 3) uint8, grey repeated to RGB."""
    img = image.astype(np.float32) * (255.0 / max_value)
    img = np.clip(img, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return img.repeat(scale, 0).repeat(scale, 1)


def show_mistakes(result: dict[str, Any], per_row: int) -> None:
    mistakes = result.get("mistakes", [])
    if not mistakes:
        st.success("No test image was misclassified.")
        return
    data, classes = cached_dataset(result["dataset"]), result["classes"]
    scale = max(1, 84 // data.image_shape[1])
    images = [_to_rgb(data.images["test"][m["index"]].numpy(), data.max_value, scale) for m in mistakes]
    captions = [f"{classes[m['true']]} → {classes[m['predicted']]} ({m['confidence']:.0%})" for m in mistakes]
    st.image(images, caption=captions, width=scaled_px(84 if per_row > 4 else 112))


def show_reading(result: dict[str, Any]) -> None:
    reading = read_curves(result.get("epochs", []), len(result.get("classes", ())) or 10)
    box = {"good fit": st.success, "too early": st.info}.get(reading.verdict, st.warning)
    advice = "\n".join(f"- {a}" for a in reading.advice)
    box(f"**Reading the curves: {reading.verdict}.** {reading.summary}\n\n{advice}")


def show_result(view: JobView, lecture: bool) -> None:
    """Test accuracy, the reading of the curves, confusion matrix, per-class accuracy, mistakes, checkpoint."""
    r = view.result
    if r is None or r.get("test_accuracy") is None:
        return
    st.subheader("Result on the held-out test split")
    confusion, classes = np.array(r["confusion"]), tuple(r["classes"])
    totals = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), totals, out=np.zeros(len(totals)), where=totals > 0)
    cols = st.columns(3 if lecture else 6)
    metrics = [("Test accuracy", f"{r['test_accuracy']:.2%}"), ("Test loss", f"{r['test_loss']:.3f}"),
               ("Training time", f"{r['seconds']:.1f} s"), ("Images per second", f"{r['images_per_second']:,.0f}"),
               ("Epochs", significant(r["epochs_done"])), ("Parameters", f"{r['params']:,}")]
    for i, (label, value) in enumerate(metrics):
        cols[i % len(cols)].metric(label, value)
    ended = {"finished": "finished", "stopped": "stopped by you (the model keeps what it learned)",
             "time limit": "stopped at the time limit"}[r["reason"]]
    st.caption(f"{plain(view.label)} on {r['dataset']}: {ended}; {r['images_seen']:,} training images seen on "
               f"{r['device']}. The test split ({int(confusion.sum()):,} images) was never seen by a training step.")
    show_reading(r)
    c1, c2 = st.columns(2)
    chart_in(c1, confusion_figure(confusion, classes), config=CONFIG)
    chart_in(c2, per_class_figure(per_class, classes), config=CONFIG)
    st.subheader(f"Misclassified test images (the {len(r.get('mistakes', []))} most confident mistakes)")
    show_mistakes(r, 4 if lecture else 8)
    if r.get("checkpoint"):
        st.success(f"Saved as checkpoint **{plain(r['checkpoint'])}**: the Seeing inside page can load it (pick "
                   "it under Weights in its sidebar).", icon=":material/save:")
    else:
        st.caption(f"Not saved: a run stopped before {MIN_EPOCHS:g} epoch is kept only with \"Keep a checkpoint "
                   "even if I stop it early\" on.")


def show_checkpoints() -> None:
    """This browser's checkpoints and the ones shared with the class."""
    infos = list_checkpoints(owner=owner_key())
    if not infos:
        st.caption("No checkpoint saved yet.")
        return
    me = owner_key()
    table = pd.DataFrame([{
        "name": c.name, "model": c.model, "dataset": c.dataset,
        "test accuracy": None if c.test_accuracy is None else round(100 * c.test_accuracy, 2),
        "saved": time.strftime("%Y-%m-%d %H:%M", time.localtime(c.created)),
        "whose": "yours" if c.owner == me else "the class's",
        "size (KiB)": round(c.size_bytes / 1024, 1), "problem": c.error,
    } for c in infos])
    percent = st.column_config.NumberColumn(format="%.2f%%")
    st.dataframe(table, hide_index=True, column_config={"test accuracy": percent})


# ---------------------------------------------------------------------------------------------
# Data part
# ---------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading the dataset ...", max_entries=6)
def cached_dataset(name: str) -> Dataset:
    return load_dataset(name, fallback=True)


def mosaic(data: Dataset, per_class: int, scale: int = 2) -> np.ndarray:
    """Rows of ``per_class`` training images, one row per class, 2 px gaps; (H, W, 3) uint8."""
    _, h, w = data.image_shape
    gap = 2
    out = np.full((data.num_classes * (h * scale + gap), per_class * (w * scale + gap), 3), 255, np.uint8)
    for c, idx in data.examples(per_class).items():
        for j, i in enumerate(idx):
            img = _to_rgb(data.images["train"][i].numpy(), data.max_value, scale)
            y, x = c * (h * scale + gap), j * (w * scale + gap)
            out[y:y + h * scale, x:x + w * scale] = img
    return out


def mosaic_figure(data: Dataset, per_class: int) -> go.Figure:
    _, h, _ = data.image_shape
    scale = max(1, 32 // h)
    img = mosaic(data, per_class, scale)
    row = h * scale + 2
    fig = go.Figure(go.Image(z=img, hoverinfo="skip"))
    _style(fig, f"{per_class} training images per class", "", "class", 60 + row * data.num_classes * 1.4)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(tickvals=[row * (c + 0.5) for c in range(data.num_classes)], ticktext=list(data.classes))
    return fig


def counts_figure(data: Dataset) -> go.Figure:
    fig = go.Figure()
    for split, color in zip(("train", "val", "test"), COLORS):
        fig.add_bar(x=list(data.classes), y=data.counts(split), name=split, marker_color=color)
    _style(fig, "Images per class in each split", "class", "images", barmode="stack")
    fig.update_xaxes(type="category")
    return fig


@st.cache_resource(show_spinner="Computing covariances ...", max_entries=16)
def cached_steps(name: str, eps: float, n: int = 1000) -> list:
    data = cached_dataset(name)
    pixels = data.pixels("train")[:n]
    return preprocessing_steps(pixels, data.mean, data.std, eps=eps)


def covariance_figure(cov: np.ndarray, title: str) -> go.Figure:
    lim = float(np.abs(cov).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=cov, colorscale="RdBu", zmid=0, zmin=-lim, zmax=lim,
                               colorbar=dict(title="cov"), hovertemplate="dims %{y}, %{x}: %{z:.3f}<extra></extra>"))
    _style(fig, title, "dimension (pooled pixel x channel)", "dimension", 420)
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    return fig


SPECTRUM_FLOOR = 1e-6


def spectrum_figure(steps: list) -> go.Figure:
    fig = go.Figure()
    for step, color in zip(steps, COLORS):
        variances = np.maximum(np.sort(np.diag(step.cov))[::-1], SPECTRUM_FLOOR)
        fig.add_scatter(y=variances, mode="lines", name=step.title, line=dict(color=color))
    _style(fig, "Variance per dimension (sorted)", "dimension (sorted by variance)",
           f"variance (log scale, floor {SPECTRUM_FLOOR:g})", 420, yaxis=dict(type="log"))
    return fig


def step_strip(step: Any, k: int) -> np.ndarray:
    """The first ``k`` rows of an image-shaped step side by side, each rescaled to [0, 255] for display."""
    c, h, w = step.image_shape
    tiles = []
    for row in step.rows[:k]:
        img = row.reshape(c, h, w)
        lo, hi = img.min(), img.max()
        img = ((img - lo) / (hi - lo + 1e-12) * 255).astype(np.uint8)
        tile = _to_rgb(img, 255.0, max(1, 64 // h))
        tiles += [tile, np.full((tile.shape[0], 4, 3), 255, np.uint8)]
    return np.concatenate(tiles[:-1], axis=1)


def data_section(lecture: bool) -> None:
    name = dataset_picker()
    with friendly_errors(DATASETS[name].title):
        data = cached_dataset(name)
        if data.note:
            st.warning(data.note, icon=":material/cloud_off:")
        if data.name == "cifar_standin":
            st.info("**A stand-in, not CIFAR-10.** " + DATASETS["cifar_standin"].about, icon=":material/info:")
        else:
            st.caption(DATASETS[data.name].about)
        c, h, w = data.image_shape
        cols = st.columns(5)
        cols[0].metric("Image size", f"{h}x{w}x{c}")
        cols[1].metric("Classes", data.num_classes)
        for col, (label, split) in zip(cols[2:], (("Training", "train"), ("Validation", "val"), ("Test", "test"))):
            col.metric(f"{label} images", f"{data.size(split):,}")
        cols = st.columns(2)
        cols[0].metric("Mean (per channel)", ", ".join(f"{m:.3f}" for m in data.mean))
        cols[1].metric("Std (per channel)", ", ".join(f"{s:.3f}" for s in data.std))
        st.caption("Mean and standard deviation of the training split, pixel values scaled to [0, 1]: training "
                   "normalises every image with them. The test split is held out: no training step sees it.")
        per_class = url_number("Images per class", "tr_per_class", 8 if lecture else 12, 1, 30, widget="slider")
        c1, c2 = st.columns([3, 2])
        chart_in(c1, mosaic_figure(data, int(per_class)), config=CONFIG)
        chart_in(c2, counts_figure(data), config=CONFIG)

        st.subheader("Preprocessing, as the course notes list it")
        st.markdown("Normalise the data, subtract the mean, **decorrelate** (diagonal covariance matrix) and "
                    "**whiten** (identity covariance matrix). Each image is a vector of (average-pooled) pixels; "
                    "the covariance matrix shows how pixels vary together over 1,000 training images.")
        eps = url_select("Whitening epsilon", "tr_eps", (0.001, 0.01, 0.1, 1.0), 0.1, widget="segmented",
                         help="Added to every variance before dividing: keeps near-empty directions (MNIST's "
                              "black corners) from being blown up into noise")
        steps = cached_steps(name, float(eps or 0.1))
        by_key = {s.key: s for s in steps}
        keys = [s.key for s in steps]
        titles = {s.key: s.title for s in steps}
        c1, c2 = st.columns(2)
        with c1:
            before = url_select("Before", "tr_pre_a", keys, "raw", format_func=titles.get)
        with c2:
            after = url_select("After", "tr_pre_b", keys, "pca_whitened", format_func=titles.get)
        c1, c2 = st.columns(2)
        for col, key in ((c1, before), (c2, after)):
            step = by_key[key]
            chart_in(col, covariance_figure(step.cov, f"Covariance: {step.title}"), config=CONFIG)
            col.caption(f"{step.what} Mean |off-diagonal| = {step.off_diagonal:.4f}; mean variance = "
                        f"{float(np.diag(step.cov).mean()):.3f}.")
        chart(spectrum_figure([by_key[k] for k in ("normalized", "decorrelated", "pca_whitened")]),
                        config=CONFIG)
        st.caption("Decorrelation only rotates: the variances are the covariance matrix's eigenvalues, a few large "
                   "ones and many tiny ones. Whitening divides each direction by its standard deviation, so every "
                   "direction ends at variance ~1 (below 1 where epsilon dominates).")
        k = 6 if lecture else 10
        for key in ("normalized", "zca_whitened"):
            st.image(step_strip(by_key[key], k), caption=f"{by_key[key].title}: {by_key[key].what}")
