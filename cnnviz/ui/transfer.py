"""The transfer page's sections (transfer learning, features off the shelf, ensembles, multi-crop) and
:func:`job_panel`, the one-click experiment runner that the augmentation studio uses too.

An experiment runs as a job of :mod:`cnnviz.jobs` in a worker process (never in the server), its id
kept in ``st.session_state``: reruns and widget changes neither stop nor lose it; a fragment polls its
progress and one full rerun draws the result. Every key starts with ``tl_`` so this page's query
parameters never clash with another page's.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import plotly.graph_objects as go
import streamlit as st

from cnnviz import jobs
from cnnviz.analysis import significant
from cnnviz.data import load_dataset
from cnnviz.train import ensemble as E
from cnnviz.train import transfer as T
from cnnviz.train.studies import result_from
from cnnviz.ui.jobs import job_queue_message
from cnnviz.ui.owner import owner_key
from cnnviz.ui.state import friendly_errors, plain, style_chart, url_number, url_select, url_toggle
from cnnviz.zoo import build
from cnnviz.ui.figures import chart, chart_in

SECTIONS = ("Transfer learning", "Features off the shelf", "Ensembles", "Multi-crop testing")
POLL_S = 0.5
COLORS = {"scratch": "#7f7f7f", "head": "#1f77b4", "later": "#2ca02c", "finetune": "#d62728", "shelf": "#9467bd"}
CONFIG = {"displaylogo": False}
DATASET_NAMES = {"mnist": "MNIST digits", "cifar_standin": "CIFAR-shaped stand-in"}


def duration(seconds: float) -> str:
    """Seconds as a short label that never rounds a short time to 0.0 s."""
    return f"{seconds:.1f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def job_panel(key: str, button: str, kind: str, show: Callable[[Any], None], settings: dict[str, Any],
              hint: str) -> None:
    """A Run button, the job's live progress, and ``show(result)`` once it is done.

    The experiment is a job of :mod:`cnnviz.jobs` (``kind`` of :data:`cnnviz.train.studies.STUDIES`, run in
    a worker process) of this browser's owner; its id is kept in the session under ``key``, with the
    ``settings`` it ran with: when the widgets' differ, the page says that the result is for other settings.
    """
    job_id = st.session_state.get(key)
    view = jobs.get(job_id) if job_id is not None else None
    busy = view is not None and not view.ended
    c1, c2 = st.columns([1, 3])
    with c1:
        if st.button(button, type="primary", disabled=busy, icon=":material/play_arrow:", key=f"{key}_btn",
                     width="stretch"):
            with friendly_errors(button):
                lease = max(float(st.get_option("server.disconnectedSessionTTL")), 10.0)
                st.session_state[key] = jobs.submit(kind, settings, owner=owner_key(), label=kind, lease_s=lease)
                st.session_state[f"{key}_settings"] = settings
                st.rerun()
    with c2:
        if view is None:
            st.caption(hint)
        elif busy:  # next to the button, where nothing moves while the job starts
            st.button("Stop", icon=":material/stop:", key=f"{key}_stop", on_click=jobs.cancel,
                      args=(view.id, owner_key()))
        elif st.session_state.get(f"{key}_settings") != settings:
            st.caption("The settings changed since this result: press the button to run again.")

    @st.fragment(run_every=POLL_S)
    def live() -> None:
        view = jobs.get(st.session_state.get(key, ""))
        if view is None:
            return
        if view.state == "queued":
            st.info(job_queue_message(view), icon=":material/hourglass_top:")
        elif not view.ended:
            p = view.last("progress") or {"fraction": 0.0, "message": "starting ..."}
            st.progress(p["fraction"], text=plain(p["message"]))
        else:
            st.rerun()  # one full rerun draws the result and stops this polling

    if busy:  # polled only while the job runs; a fragment that draws nothing could blank what follows it
        live()
    elif view is not None:
        with st.container():
            if view.state == "failed":
                st.error(f"{button} failed: {plain(view.error)}", icon="⚠️")
            elif view.state == "stopped":
                st.warning("Stopped before the end.")
            elif view.result is not None:
                st.caption(f"Finished in {view.times['ended'] - view.times['started']:.1f} s.")
                show(result_from(kind, view.result))


# ---------------------------------------------------------------------------------------------
# Transfer learning
# ---------------------------------------------------------------------------------------------
_STATUS_COLORS = {"frozen": "#9ecae1", "fine-tuned (lr/10)": "#fdae6b", "trained": "#e6550d",
                  "trained from random": "#e6550d", "new layer": "#31a354"}


def layer_status(case: T.CaseResult, layer: str, last: bool) -> str:
    """What happens to ``layer`` in ``case``: frozen, fine-tuned, trained or new."""
    if last:
        return "new layer"
    if any(layer == f or layer.startswith(f + ".") for f in case.frozen):
        return "frozen"
    return {"finetune": "fine-tuned (lr/10)", "scratch": "trained from random"}.get(case.case, "trained")


def frozen_figure(result: T.TransferResult) -> go.Figure:
    """The network drawn once per case: each weighted layer frozen, trained, or new."""
    layers = result.layers
    names = list(_STATUS_COLORS)
    text = [[layer_status(c, name, i == len(layers) - 1) for i, name in enumerate(layers)] for c in result.cases]
    z = [[names.index(t) for t in row] for row in text]
    n = len(names)
    scale = [[edge, color] for i, color in enumerate(_STATUS_COLORS.values()) for edge in (i / n, (i + 1) / n)]
    fig = go.Figure(go.Heatmap(z=z, x=[n.replace("features.", "").replace("head.", "") for n in layers],
                               y=[c.title for c in result.cases], text=[[("🔒 " if t == "frozen" else "") + t
                                                                        for t in row] for row in text],
                               texttemplate="%{text}", colorscale=scale, zmin=-0.5, zmax=n - 0.5, showscale=False,
                               xgap=4, ygap=4, hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>"))
    style_chart(fig, f"Which layers train ({result.source_model}, weighted layers from input to output)",
          "layer (input -> output)", "", 120 + 60 * len(result.cases))
    fig.update_yaxes(autorange="reversed")
    return fig


def accuracy_vs_params(result: T.TransferResult) -> go.Figure:
    fig = go.Figure()
    for c in result.cases:
        fig.add_scatter(x=[max(1, c.trainable)], y=[c.test_accuracy * 100], mode="markers+text", name=c.title,
                        text=[c.title], textposition="top center", marker={"size": 16, "color": COLORS[c.case]},
                        hovertemplate=f"{c.title}<br>%{{x:,}} trainable parameters<br>%{{y:.1f}}%<extra></extra>")
    xs = [math.log10(max(1, c.trainable)) for c in result.cases]
    ys = [c.test_accuracy * 100 for c in result.cases]
    return style_chart(fig, "Test accuracy against trainable parameters", "trainable parameters (log scale)",
                 "test accuracy (%)", xaxis={"type": "log", "range": [min(xs) - 0.4, max(xs) + 0.4]},
                 yaxis={"range": [max(0, min(ys) - 8), min(101, max(ys) + 6)]}, showlegend=False)


def time_figure(result: T.TransferResult) -> go.Figure:
    fig = go.Figure(go.Bar(x=[c.title for c in result.cases], y=[c.seconds for c in result.cases],
                           marker_color=[COLORS[c.case] for c in result.cases],
                           text=[duration(c.seconds) for c in result.cases], textposition="outside"))
    return style_chart(fig, "Training time on the target data", "case", "seconds")


def curves_figure(result: T.TransferResult) -> go.Figure:
    fig = go.Figure()
    for c in result.cases:
        fig.add_scatter(x=[e["epoch"] for e in c.epochs], y=[e["val_accuracy"] * 100 for e in c.epochs],
                        mode="lines", name=c.title, line={"color": COLORS[c.case]})
    return style_chart(fig, "Validation accuracy while training", "epoch", "validation accuracy (%)",
                 legend={"orientation": "h", "y": -0.25})


def show_transfer(result: T.TransferResult) -> None:
    best = result.best()
    scratch = next((c for c in result.cases if c.case == "scratch"), None)
    cols = st.columns(len(result.cases))
    for col, c in zip(cols, result.cases):
        delta = (None if scratch is None or c is scratch
                 else f"{(c.test_accuracy - scratch.test_accuracy) * 100:+.1f} vs scratch")
        col.metric(c.title, f"{c.test_accuracy:.1%}", delta)
    src = ("ImageNet weights" if result.source_model == "resnet18" else
           f"trained here on {', '.join(result.source_classes)} (test accuracy {result.source_accuracy:.1%}"
           f"{', loaded from the cache' if result.source_cached else ''})")
    st.markdown(f"Source network: **{result.source_model}**, {src}. Target: **{', '.join(result.target_classes)}** "
                f"with only **{result.per_class} training images per class**; accuracies on {result.test_size} "
                f"test images. Best: **{best.title}**.")
    chart(frozen_figure(result), config=CONFIG)
    c1, c2 = st.columns(2)
    chart_in(c1, accuracy_vs_params(result), config=CONFIG)
    chart_in(c2, time_figure(result), config=CONFIG)
    chart(curves_figure(result), config=CONFIG)
    st.dataframe([{"case": c.title, "test accuracy": f"{c.test_accuracy:.1%}",
                   "training accuracy": f"{c.train_accuracy:.1%}", "trainable parameters": f"{c.trainable:,}",
                   "all parameters": f"{c.total:,}", "learning rate": significant(c.lr), "seconds": significant(c.seconds),
                   "frozen": ", ".join(c.frozen) or "nothing"} for c in result.cases], hide_index=True)


def _transfer_settings() -> dict[str, Any]:
    imagenet = T.imagenet_file() is not None
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        sources = ("here", "imagenet") if imagenet else ("here",)
        pretrained = url_select(
            "Pretrained network", "tl_src", sources, "here",
            format_func={"here": "trained here", "imagenet": "ResNet-18, ImageNet"}.get,
            help="trained here: a tiny VGG pretrained in this app on the dataset's other classes (once, then "
                 "cached). ResNet-18, ImageNet: torchvision's weights, offered when they are on this server.")
        dataset = url_select("Dataset", "tl_ds", tuple(T.TASKS), "mnist", format_func=DATASET_NAMES.get)
    with c2:
        per_class = url_number("Target images per class", "tl_n", 3, 1, 100, 1,
                               help="Transfer learning shines when there is little target data.")
        epochs = url_number("Epochs", "tl_ep", 30, 1, 100, 1)
    stages = len(T.stages(build("resnet18", device="meta"))) - 1 if pretrained == "imagenet" else 2
    with c3:
        frozen = url_number("Case 2: early stages frozen", "tl_frz", 1, 1, stages, 1,
                            help="Of the network's stages (blocks), how many stay frozen in case 2.")
        lr = url_select("Learning rate", "tl_lr", (1e-3, 3e-3, 1e-2), 3e-3, help="Case 3 uses a tenth of it.")
    with c4:
        task = T.TASKS[dataset]
        data = load_dataset(dataset)
        st.markdown("**Source task:** " + (", ".join(data.classes[i] for i in task.source)
                                           if pretrained == "here" else "ImageNet's 1,000 classes"))
        st.markdown("**Target task (3 classes):** " + ", ".join(data.classes[i] for i in task.target))
    if dataset == "cifar_standin" and pretrained == "here":
        st.caption("The stand-in's last three classes are textures (checker, X, dots) that a few images hardly "
                   "teach: every case stays near chance (33%). MNIST shows the effect clearly.")
    if not imagenet:
        st.caption("torchvision's ImageNet weights are not on this server, so the source network is trained here "
                   "(once, then cached). To use them, ask the person who runs the server to add ResNet-18's "
                   "ImageNet weights.")
    return {"dataset": dataset, "per_class": per_class, "epochs": epochs, "frozen_stages": frozen, "lr": lr,
            "pretrained": pretrained}


def transfer_section() -> None:
    st.markdown("The course's example: a network trained on 1,000 classes is reused for **3 classes** (cat, dog, "
                "neither). Here the source network learns some classes and the target task is three *other* "
                "classes with only a handful of images each. Three ways to reuse it, against training from scratch:")
    for case in T.CASES.values():
        st.markdown(f"- **{case.title}**: {case.explain}")
    with friendly_errors("Transfer learning"):
        settings = _transfer_settings()
        job_panel("tl_job", "Run the four cases", "transfer",
                  show_transfer, settings, "About 10-30 s on a 2-core CPU (the first time also trains the source "
                  "network for a few seconds).")


# ---------------------------------------------------------------------------------------------
# Features off the shelf
# ---------------------------------------------------------------------------------------------
def show_shelf(r: dict[str, Any]) -> None:
    c1, c2, c3 = st.columns(3)
    c1.metric("Test accuracy", f"{r['test_accuracy']:.1%}")
    c2.metric("Features per image", f"{r['features']:,}")
    c3.metric("Fit time", f"{r['seconds']:.2f} s")
    st.markdown(f"The frozen network trained on {', '.join(r['source'])} turns each image into {r['features']:,} "
                f"numbers; a plain logistic regression on {r['per_class']} images per class of "
                f"{', '.join(r['target'])} then scores {r['test_accuracy']:.1%} on {r['test_size']} test images "
                f"(training accuracy {r['train_accuracy']:.1%}).")


def shelf_section() -> None:
    st.markdown("*CNN features off the shelf* (Razavian et al., 2014; the course notes' VGG-16 example): remove the "
                "output layer, use the network only to map each image to a feature vector (here "
                "the feature maps the network's classifier would receive, flattened), and train any simple classifier on those vectors: a "
                "scikit-learn `LogisticRegression`.")
    with friendly_errors("Features off the shelf"):
        c1, c2 = st.columns(2)
        with c1:
            dataset = url_select("Dataset", "tl_sh_ds", tuple(T.TASKS), "mnist", format_func=DATASET_NAMES.get)
        with c2:
            per_class = url_number("Target images per class", "tl_sh_n", 5, 1, 300, 1)
        settings = {"dataset": dataset, "per_class": per_class}
        job_panel("tl_sh_job", "Extract features and fit",
                  "shelf",
                  show_shelf, settings, "A few seconds.")


# ---------------------------------------------------------------------------------------------
# Ensembles
# ---------------------------------------------------------------------------------------------
def ensemble_figure(r: E.EnsembleResult) -> go.Figure:
    names = [f"network {i + 1}" for i in range(len(r.members))] + ["ensemble"]
    values = [m.test_accuracy * 100 for m in r.members] + [r.ensemble_accuracy * 100]
    colors = ["#9ecae1"] * len(r.members) + ["#d62728"]
    fig = go.Figure(go.Bar(x=names, y=values, marker_color=colors, text=[f"{v:.1f}%" for v in values],
                           textposition="outside"))
    fig.add_hline(y=r.mean_member_accuracy * 100, line_dash="dash",
                  annotation_text=f"average network {r.mean_member_accuracy:.1%}")
    lo = min(values) - 3
    title = "Each network and the ensemble<br><sup>the ensemble averages their softmax probabilities</sup>"
    return style_chart(fig, title, "", "test accuracy (%)", yaxis_range=[max(0, lo), min(100, max(values) + 2)])


def ensemble_curve(r: E.EnsembleResult) -> go.Figure:
    fig = go.Figure(go.Scatter(x=list(range(1, len(r.curve) + 1)), y=[c * 100 for c in r.curve],
                               mode="lines+markers", line={"color": "#d62728"}))
    return style_chart(fig, "Accuracy of the ensemble of the first k networks", "networks averaged (k)",
                 "test accuracy (%)", xaxis_dtick=1)


def show_ensemble(r: E.EnsembleResult) -> None:
    k = len(r.members)
    c = st.columns(4)
    c[0].metric("Ensemble", f"{r.ensemble_accuracy:.1%}", f"{r.gain * 100:+.1f} vs average network")
    c[1].metric("Best single network", f"{r.best_member_accuracy:.1%}")
    c[2].metric("Memory", f"{r.bytes_all / 1024:,.0f} KiB", f"x{k} of one network", delta_color="inverse")
    c[3].metric("Prediction time", f"{r.predict_seconds_all:.2f} s",
                f"x{r.predict_seconds_all / max(r.predict_seconds_one, 1e-9):.1f} of one", delta_color="inverse")
    c1, c2 = st.columns(2)
    chart_in(c1, ensemble_figure(r), config=CONFIG)
    chart_in(c2, ensemble_curve(r), config=CONFIG)
    st.caption(f"{k} x {r.model} ({r.params_one:,} parameters each) trained on {r.train_size} images for "
               f"{r.epochs} epochs, {r.train_seconds:.1f} s of training in all; tested on {r.test_size} images. "
               "The course notes: an ensemble may gain about 2%, but it slows production by the number of networks and "
               "keeps them all in memory: for competitions more than for real products.")


def ensemble_section() -> None:
    st.markdown("Train several networks independently, from different random initialisations, and average their "
                "outputs (here the softmax probabilities).")
    with friendly_errors("Ensembles"):
        c1, c2, c3, c4 = st.columns(4)
        with c1:
            dataset = url_select("Dataset", "tl_en_ds", ("mnist", "cifar_standin"), "mnist",
                                 format_func=DATASET_NAMES.get)
        with c2:
            k = url_number("Networks (k)", "tl_en_k", 5, 2, 10, 1)
        with c3:
            train_size = url_number("Training images", "tl_en_n", 500, 50, 4000, 50)
        with c4:
            epochs = url_number("Epochs", "tl_en_ep", 10, 1, 50, 1)
        settings = {"dataset": dataset, "k": k, "train_size": train_size, "epochs": epochs}
        job_panel("tl_en_job", "Train the ensemble", "ensemble",
                  show_ensemble, settings, "About 10-20 s for 5 networks on a 2-core CPU.")


# ---------------------------------------------------------------------------------------------
# Multi-crop testing
# ---------------------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=4)
def _ten_views(dataset: str, index: int, crop: int) -> list[Any]:
    data = load_dataset(dataset)
    img = data.images["test"][index:index + 1]
    views = E.ten_crop_views(img, crop)[0]
    return [v.permute(1, 2, 0).numpy() if v.shape[0] == 3 else v[0].numpy() for v in views]


def show_multicrop(r: E.MultiCropResult) -> None:
    c = st.columns(3)
    c[0].metric("Centre crop", f"{r.centre_accuracy:.1%}")
    c[1].metric("10 crops", f"{r.ten_crop_accuracy:.1%}", f"{r.gain * 100:+.1f} points")
    c[2].metric("Test time", f"{r.ten_crop_seconds:.2f} s", f"x{r.ten_crop_seconds / max(r.centre_seconds, 1e-9):.1f} "
                "of one crop", delta_color="inverse")
    fig = go.Figure(go.Bar(x=["centre crop", "10 crops"], y=[r.centre_accuracy * 100, r.ten_crop_accuracy * 100],
                           marker_color=["#9ecae1", "#d62728"],
                           text=[f"{r.centre_accuracy:.1%}", f"{r.ten_crop_accuracy:.1%}"], textposition="outside"))
    lo = min(r.centre_accuracy, r.ten_crop_accuracy) * 100 - 5
    c1, c2 = st.columns(2)
    chart_in(c1, style_chart(fig, "Test accuracy", "evaluation", "test accuracy (%)", yaxis_range=[max(0, lo), 100]),
                    config=CONFIG)
    times = go.Figure(go.Bar(x=["centre crop", "10 crops"], y=[r.centre_seconds, r.ten_crop_seconds],
                             marker_color=["#9ecae1", "#d62728"],
                             text=[f"{r.centre_seconds:.2f} s", f"{r.ten_crop_seconds:.2f} s"], textposition="outside"))
    chart_in(c2, style_chart(times, f"Time to classify {r.test_size} test images", "evaluation", "seconds"),
                    config=CONFIG)
    st.caption(f"{r.model} trained for {r.epochs} epochs on random {r.crop}x{r.crop} crops (and mirrors) of "
               f"{r.train_size} {r.image_size}x{r.image_size} images ({r.train_seconds:.1f} s).")


def multicrop_section() -> None:
    st.markdown("Run the classifier on several versions of each test image and average the results. **10 crops** "
                "(`torchvision.transforms.v2.TenCrop`): the four corners and the centre, and the same five "
                "mirrored; the softmax probabilities of the 10 views are averaged.")
    with friendly_errors("Multi-crop testing"):
        c1, c2, c3, c4 = st.columns(4)
        with c1:
            dataset = url_select("Dataset", "tl_mc_ds", ("cifar_standin", "mnist"), "cifar_standin",
                                 format_func=DATASET_NAMES.get)
        side = load_dataset(dataset).image_shape[1]
        with c2:
            crop = url_number("Crop size (px)", "tl_mc_crop", side - 4, 8, side - 1, 1)
        with c3:
            train_size = url_number("Training images", "tl_mc_n", 2000, 100, 4000, 100)
        with c4:
            epochs = url_number("Epochs", "tl_mc_ep", 8, 1, 50, 1)
        if url_toggle("Show the 10 views of a test image", "tl_mc_views", True):
            index = url_number("Test image", "tl_mc_idx", 0, 0, 999, 1)
            views = _ten_views(dataset, index, crop)
            cols = st.columns(10)
            labels = ["top left", "top right", "bottom left", "bottom right", "centre"]
            for i, (col, v) in enumerate(zip(cols, views)):
                col.image(v.repeat(4, 0).repeat(4, 1), caption=labels[i % 5] + (" mirrored" if i >= 5 else ""),
                          width="stretch")
        settings = {"dataset": dataset, "crop": crop, "train_size": train_size, "epochs": epochs}
        job_panel("tl_mc_job", "Train and compare",
                  "multicrop",
                  show_multicrop, settings, "About 15 s on a 2-core CPU.")


SECTION_VIEWS = {"Transfer learning": transfer_section, "Features off the shelf": shelf_section,
                 "Ensembles": ensemble_section, "Multi-crop testing": multicrop_section}
