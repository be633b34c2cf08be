"""The augmentation studio's sections: the picture, one method, a pipeline, PCA colour, with vs without.

Every key starts with ``ag_`` so the studio's query parameters never clash with another page's.
The numbers and images come from :mod:`cnnviz.augment`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image

from cnnviz import augment as A
from cnnviz.data import DATASETS, list_datasets, load_dataset
from cnnviz.inspect import images as imgs
from cnnviz.train.augment_gap import Comparison
from cnnviz.ui.state import (friendly_errors, plain, style_chart, url_multiselect, url_number, url_select,
                             url_toggle)
from cnnviz.ui.uploads import uploaded_image
from cnnviz.ui.transfer import job_panel
from cnnviz.ui.figures import chart, chart_in

SECTIONS = ("One method", "Pipeline", "PCA colour", "With vs without")
EXAGGERATE = 20  # the PCA colour draws shown x this sigma when exaggerated: at 0.1 the shift is invisible
SOURCES = {"photo": "A photo", "upload": "Your picture", "dataset": "Dataset samples"}
SHOW_SIDE = 132  # small images are enlarged (nearest neighbour) to at least this many pixels


# ---------------------------------------------------------------------------------------------
# The picture
# ---------------------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=32)
def _photo(name: str, side: int) -> np.ndarray:
    return _fit(imgs.photo(name), side)


def _fit(img: Image.Image, side: int) -> np.ndarray:
    """Shorter side down to ``side`` (never up); HWC or HW uint8."""
    img = imgs.normalise_mode(img)
    scale = side / min(img.size)
    if scale < 1:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BILINEAR)
    return np.asarray(img)


OFFLINE = tuple(d.name for d in list_datasets() if d.offline)


@st.cache_data(show_spinner="Loading the dataset...", max_entries=8)
def _dataset(name: str, count: int) -> np.ndarray:
    """The first ``count`` training images of a dataset as uint8 (N, H, W, C), or (N, H, W) when grey."""
    data = load_dataset(name)
    x = data.pixels("train")[:count]
    x = (x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return x[..., 0] if x.shape[-1] == 1 else x


def _to_chw(array: np.ndarray) -> torch.Tensor:
    t = torch.tensor(array)
    return t[None] if t.dim() == 2 else t.permute(2, 0, 1).contiguous()


def _to_show(t: torch.Tensor) -> np.ndarray:
    """(C, H, W) uint8 -> HWC/HW array, enlarged without blur when it is small."""
    arr = t.permute(1, 2, 0).numpy() if t.shape[0] == 3 else t[0].numpy()
    factor = int(np.ceil(SHOW_SIDE / min(arr.shape[:2])))
    if factor > 1:
        arr = arr.repeat(factor, axis=0).repeat(factor, axis=1)
    return arr


def show_grid(images: list[torch.Tensor], captions: list[str] | None = None, columns: int = 6) -> None:
    """Images in rows of ``columns`` (at most 4 in lecture mode, so that each thumbnail is larger)."""
    if st.session_state.get("lecture"):
        columns = min(columns, 4)
    for start in range(0, len(images), columns):
        cols = st.columns(columns)
        for i, img in enumerate(images[start:start + columns]):
            caption = captions[start + i] if captions else None
            cols[i].image(_to_show(img), caption=caption, width="stretch")


@dataclass(frozen=True)
class Picture:
    """The chosen picture(s) as (C, H, W) uint8 tensors, the dataset they come from (if any), a description."""

    images: list[torch.Tensor]
    dataset: str | None
    description: str

    @property
    def image(self) -> torch.Tensor:
        return self.images[0]

    @property
    def size(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[2])

    @property
    def channels(self) -> int:
        return int(self.image.shape[0])


def pick_picture() -> Picture:
    """The picture widgets (in the sidebar): a bundled photo, an upload, or dataset samples."""
    st.subheader("Picture")
    source = url_select("Picture from", "ag_src", tuple(SOURCES), "photo", format_func=SOURCES.get)
    if source == "dataset":
        name = url_select("Dataset", "ag_ds", OFFLINE, "cifar_standin", format_func=lambda d: DATASETS[d].title)
        index = url_number("First sample", "ag_idx", 0, 0, 999, 1)
        data = _dataset(name, 1000)
        batch = [_to_chw(data[(index + i) % len(data)]) for i in range(8)]
        return Picture(batch, name, f"{name} samples {index}-{index + 7}")
    side = url_number("Working size (shorter side, px)", "ag_side", 160, 32, 384, 16,
                      help="Photos are shrunk to this size first, so the grids stay quick.")
    if source == "upload":
        file = st.file_uploader("Your picture", type=["png", "jpg", "jpeg", "webp", "bmp", "gif"], key="ag_up",
                                max_upload_size=imgs.MAX_UPLOAD_MB,
                                help=f"Up to {imgs.MAX_UPLOAD_MB} MB and {imgs.MAX_UPLOAD_PIXELS / 1e6:.0f} million "
                                     f"pixels, at most {imgs.MAX_ASPECT} times longer than wide.")
        if file is not None:
            with friendly_errors("Your picture"):
                img, _, _ = uploaded_image(file, side)
                return Picture([_to_chw(_fit(img, side))], None, plain(file.name, 60))
        st.caption("Showing Chelsea the cat until a picture is uploaded.")
        return Picture([_to_chw(_photo("chelsea", side))], None, "Chelsea the cat")
    name = url_select("Photo", "ag_photo", tuple(imgs.PHOTOS), "chelsea", format_func=imgs.PHOTOS.get)
    return Picture([_to_chw(_photo(name, side))], None, imgs.PHOTOS[name])


def seed_widget() -> int:
    """The seed, with a button that moves to the next one."""
    def next_seed() -> None:
        st.session_state["ag_seed"] = int(st.session_state.get("ag_seed", 0)) + 1

    seed = url_number("Seed", "ag_seed", 0, 0, 10**6, 1, help="The same seed gives the same random results.")
    st.button("New random draw", on_click=next_seed, icon=":material/casino:")
    return seed


# ---------------------------------------------------------------------------------------------
# Parameters of a method, bound to the URL
# ---------------------------------------------------------------------------------------------
def param_widgets(method: str, prefix: str) -> dict[str, Any]:
    """One widget per parameter of ``method`` (keys ``<prefix>_<method>_<param>``)."""
    values: dict[str, Any] = {}
    for p in A.METHODS[method].params:
        key = f"{prefix}_{method}_{p.name}"
        if p.choices:
            values[p.name] = url_select(p.label, key, p.choices, p.default, help=p.help or None)
        else:
            values[p.name] = url_number(p.label, key, p.default, p.lo, p.hi, p.step, widget="slider",
                                        help=p.help or None)
    return values


def _method_label(key: str) -> str:
    return A.METHODS[key].title


def _usable(picture: Picture) -> tuple[str, ...]:
    return tuple(k for k, m in A.METHODS.items() if picture.channels == 3 or not m.colour)


def pca_for(picture: Picture) -> A.PCAStats | None:
    """RGB statistics for the PCA step: the dataset's, or the picture's own."""
    if picture.channels != 3:
        return None
    if picture.dataset:
        return _dataset_pca(picture.dataset)
    return A.fit_pca(picture.image)


@st.cache_data(show_spinner="Fitting the PCA of the dataset's colours...", max_entries=8)
def _dataset_pca(name: str) -> A.PCAStats | None:
    data = _dataset(name, 1000)
    return A.fit_pca(torch.from_numpy(data).permute(0, 3, 1, 2)) if data.ndim == 4 else None


def _colour_datasets() -> tuple[str, ...]:
    return tuple(d for d in OFFLINE if DATASETS[d].shape[0] == 3)


def _run(picture: Picture, steps: list[A.Step], seed: int, n: int) -> tuple[A.Pipeline, list[torch.Tensor]]:
    pipe = A.Pipeline(steps, size=picture.size, channels=picture.channels, pca=pca_for(picture))
    transform = pipe.transform()
    if len(picture.images) > 1:
        return pipe, list(A.augment_batch(transform, torch.stack(picture.images), seed))
    return pipe, A.samples(transform, picture.image, n, seed)


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------
def one_method(picture: Picture, seed: int) -> None:
    """Pick a method, set its parameters, see a grid of random results and its v2 code."""
    options = _usable(picture)
    left, right = st.columns([1, 3], gap="large")
    with left:
        method = url_select("Method", "ag_m", options, "rotate" if "rotate" in options else options[0],
                            format_func=_method_label)
        params = param_widgets(method, "ag_1")
        n = url_number("Random results", "ag_n", 11, 1, 23, 1, widget="slider")
    with right:
        st.markdown(f"**{A.METHODS[method].title}.** {A.METHODS[method].explain}")
        with friendly_errors(A.METHODS[method].title):
            pipe, results = _run(picture, [A.step(method, **params)], seed, n)
            first = picture.images if len(picture.images) > 1 else [picture.image]
            if len(picture.images) > 1:
                show_grid(first, [f"original {i}" for i in range(len(first))], columns=8)
                show_grid(results, [f"augmented {i}" for i in range(len(results))], columns=8)
            else:
                show_grid([picture.image, *results], ["original", *(f"seed {seed}, draw {i + 1}"
                                                                     for i in range(len(results)))])
            st.caption(f"{picture.description}, {picture.size[0]}x{picture.size[1]} pixels; every result keeps "
                       "that size and the uint8 type.")
            st.code(A.pipeline_code(pipe), language="python", wrap_lines=True)


def pipeline(picture: Picture, seed: int) -> None:
    """Several methods in order, applied to a batch, and the code that does the same."""
    options = _usable(picture)
    default = [k for k in ("flip", "resized_crop", "rotate", "brightness_contrast") if k in options]
    chosen = url_multiselect("Methods, in the order they are applied", "ag_pipe", options, default,
                             format_func=_method_label)
    steps = []
    cols = st.columns(min(4, max(1, len(chosen))))
    for i, method in enumerate(chosen):
        with cols[i % len(cols)].expander(A.METHODS[method].title, expanded=False):
            steps.append(A.step(method, **param_widgets(method, "ag_p")))
    st.session_state[PIPELINE_KEY] = steps
    with friendly_errors("Pipeline"):
        pipe, results = _run(picture, steps, seed, 8)
        batch = picture.images if len(picture.images) > 1 else [picture.image] * 8
        st.markdown(f"**A batch of {len(batch)}: each image gets its own random draw.**")
        show_grid(batch, [f"original {i}" for i in range(len(batch))], columns=8)
        show_grid(results, [f"augmented {i}" for i in range(len(results))], columns=8)
        st.markdown("**The same pipeline in `torchvision.transforms.v2`** (copy it with the button at the "
                    "top right of the box):")
        st.code(A.pipeline_code(pipe), language="python", wrap_lines=True)


def pca_figure(stats: A.PCAStats, pixels: np.ndarray) -> go.Figure:
    """Pixel colours projected on the first two principal directions, each dot in its own colour."""
    centred = pixels - stats.mean.numpy()
    proj = centred @ stats.eigenvectors.numpy()[:, :2]
    colours = [f"rgb({r},{g},{b})" for r, g, b in (pixels * 255).round().astype(int)]
    fig = go.Figure(go.Scatter(x=proj[:, 0], y=proj[:, 1], mode="markers", hoverinfo="skip",
                               marker={"size": 5, "color": colours, "line": {"width": 0}}))
    for i, colour in ((0, "#d62728"), (1, "#2ca02c")):
        half = 2 * float(stats.eigenvalues[i]) ** 0.5
        x, y = (half, 0) if i == 0 else (0, half)
        fig.add_annotation(x=x, y=y, ax=-x, ay=-y, xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                           arrowhead=2, arrowwidth=3, arrowcolor=colour, text=f"p{i + 1}", font={"color": colour})
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return style_chart(fig, "The pixels' colours along p1 and p2 (arrows: +/- 2 standard deviations)",
                 "along p1 (0-1 units)", "along p2 (0-1 units)", 420, showlegend=False)


def direction_swatches(stats: A.PCAStats) -> list[np.ndarray]:
    """For each principal direction: the mean colour moved by -3, 0 and +3 standard deviations along it."""
    out = []
    mean = stats.mean.numpy()
    for i in range(3):
        step = 3 * float(stats.eigenvalues[i]) ** 0.5 * stats.eigenvectors[:, i].numpy()
        row = np.stack([mean - step, mean, mean + step]).clip(0, 1)
        out.append((row[None].repeat(40, 0).repeat(40, 1) * 255).round().astype(np.uint8))
    return out


@st.cache_data(show_spinner=False, max_entries=8)
def _bundled_photos_pca(side: int) -> A.PCAStats:
    return A.fit_pca([_to_chw(_photo(name, side)) for name in imgs.PHOTOS if _photo(name, side).ndim == 3])


def pca_colour(picture: Picture, seed: int) -> None:
    """AlexNet's PCA colour augmentation: the statistics it uses, then samples."""
    st.markdown("AlexNet (Krizhevsky et al., 2012) computes the 3x3 covariance of the R, G, B values of all "
                "training pixels, takes its eigenvectors **p** and eigenvalues **lambda**, and adds "
                "`[p1 p2 p3] [a1*lambda1, a2*lambda2, a3*lambda3]` to every pixel of an image, with new "
                "`a1, a2, a3 ~ N(0, 0.1)` for each image. It shifts colours along the directions in which the "
                "data's colours really vary: a change of lighting, not of the object.")
    if picture.channels != 3:
        st.info("These images are grey: PCA colour augmentation needs colour. Pick a photo or a colour dataset.")
        return
    sources = ("picture", "photos", *_colour_datasets())
    labels = {"picture": "This picture", "photos": "All bundled photos"}
    source = url_select("Statistics from", "ag_pca_src", sources, "picture", widget="segmented",
                        format_func=lambda s: labels.get(s, DATASETS[s].title if s in DATASETS else s), required=True)
    with friendly_errors("PCA colour augmentation"):
        if source == "picture":
            stats = A.fit_pca(picture.image)
        elif source == "photos":
            stats = _bundled_photos_pca(160)
        else:
            stats = _dataset_pca(source)
        left, right = st.columns([2, 3], gap="large")
        with left:
            rows = {f"p{i + 1}": {"eigenvalue λ": f"{float(stats.eigenvalues[i]):.4g}",
                                  "share of variance": f"{float(stats.explained[i]):.1%}",
                                  "R": f"{float(stats.eigenvectors[0, i]):+.3f}",
                                  "G": f"{float(stats.eigenvectors[1, i]):+.3f}",
                                  "B": f"{float(stats.eigenvectors[2, i]):+.3f}"} for i in range(3)}
            st.markdown(f"**Eigen-decomposition of the RGB covariance** ({stats.pixels:,} pixels, values 0-1):")
            st.dataframe(rows, width="stretch")
            st.caption("p1 is nearly (1, 1, 1)/sqrt(3): brightness, where most of the variance is. p2 and p3 "
                       "are changes of hue. Each swatch: the mean colour moved -3, 0, +3 standard deviations "
                       "along p1, p2, p3:")
            for i, (col, sw) in enumerate(zip(st.columns(3), direction_swatches(stats))):
                col.image(sw, caption=f"along p{i + 1}", width="stretch")
            sigma = url_number("sigma of a", "ag_pca_sigma", 0.1, 0.0, 5.0, 0.05, widget="slider",
                               help="AlexNet used 0.1; raise it to see the effect clearly.")
        with right:
            sample = picture.image.reshape(3, -1).T.float().numpy() / 255
            rng = np.random.default_rng(0)
            sample = sample[rng.choice(len(sample), size=min(3000, len(sample)), replace=False)]
            chart(pca_figure(stats, sample), width="stretch")
        exaggerate = url_toggle(f"Exaggerate the shift {EXAGGERATE}x (for the eye only)", "ag_pca_exaggerate", False,
                                help="Draws with sigma x" + str(EXAGGERATE) + " so the direction of the shift shows; "
                                     "the code below keeps your sigma")
        pipe = A.Pipeline([A.step("pca_colour", sigma=sigma)], size=picture.size, channels=3, pca=stats)
        shown = A.Pipeline([A.step("pca_colour", sigma=min(5.0, sigma * EXAGGERATE))], size=picture.size,
                           channels=3, pca=stats) if exaggerate else pipe
        results = A.samples(shown.transform(), picture.image, 11, seed)
        biggest = max(int((r.int() - picture.image.int()).abs().max()) for r in results)
        show_grid([picture.image, *results], ["original", *(f"draw {i + 1}" for i in range(11))])
        st.caption(f"Largest change of a pixel value in these draws: {biggest} of 255 levels"
                   f"{f' (exaggerated {EXAGGERATE}x)' if exaggerate else ''}. At AlexNet's strength (sigma 0.1) the "
                   "shift is a few levels at most: invisible to the eye, and that is the point: a change of lighting "
                   "so small and natural that the label cannot change, yet the network sees new pixel values. "
                   "Exaggerate it to see which way the colours move.")
        st.code(A.pipeline_code(pipe), language="python", wrap_lines=True)


# ---------------------------------------------------------------------------------------------
# With vs without
# ---------------------------------------------------------------------------------------------
PIPELINE_KEY = "ag_pipeline_steps"  # the Pipeline part's steps, for "With vs without"


def gap_figure(r: Comparison) -> go.Figure:
    fig = go.Figure()
    runs = (r.without, r.with_augmentation)
    for name, key, colour in (("training images", "train_accuracy", "#1f77b4"), ("test images", "test_accuracy",
                                                                                  "#d62728")):
        values = [getattr(g, key) * 100 for g in runs]
        fig.add_bar(x=[g.label for g in runs], y=values, name=name, marker_color=colour,
                    text=[f"{v:.1f}%" for v in values], textposition="outside")
    lo = min(min(g.train_accuracy, g.test_accuracy) for g in runs) * 100 - 8
    style_chart(fig, "Accuracy on the training images and on the test images", "", "accuracy (%)",
          barmode="group", yaxis_range=[max(0, lo), 102], legend={"orientation": "h", "y": -0.15})
    return fig


def val_curves(r: Comparison) -> go.Figure:
    fig = go.Figure()
    for g, dash in ((r.without, "dot"), (r.with_augmentation, "solid")):
        fig.add_scatter(x=[e["epoch"] for e in g.epochs], y=[e["val_accuracy"] * 100 for e in g.epochs],
                        mode="lines+markers", name=g.label, line={"dash": dash})
    return style_chart(fig, "Validation accuracy while training", "epoch", "validation accuracy (%)",
                 legend={"orientation": "h", "y": -0.25})


def show_comparison(r: Comparison) -> None:
    c = st.columns(3)
    c[0].metric("Gap without augmentation", f"{r.without.gap * 100:.1f} points")
    c[1].metric("Gap with augmentation", f"{r.with_augmentation.gap * 100:.1f} points",
                f"{-r.gap_change * 100:+.1f} points", delta_color="inverse")
    c[2].metric("Test accuracy with augmentation", f"{r.with_augmentation.test_accuracy:.1%}",
                f"{(r.with_augmentation.test_accuracy - r.without.test_accuracy) * 100:+.1f} points")
    c1, c2 = st.columns(2)
    chart_in(c1, gap_figure(r), config={"displaylogo": False})
    chart_in(c2, val_curves(r), config={"displaylogo": False})
    st.caption(f"The same network, seed and {r.train_size} training images of {r.dataset} for {r.epochs} epochs; "
               f"accuracy on the clean training images and on {r.test_size} test images. Training took "
               f"{r.without.seconds:.1f} s without and {r.with_augmentation.seconds:.1f} s with augmentation. "
               f"Pipeline: {'; '.join(r.steps)}.")
    with st.expander("The pipeline's code"):
        st.code(r.code, language="python")


def with_without() -> None:
    """One click: train the same small network with and without the pipeline; compare the gaps."""
    st.markdown("A small network trained on a few hundred images learns them by heart: training accuracy near "
                "100%, test accuracy far lower. Augmentation shows it a new version of each image every epoch, "
                "so it cannot memorise them: **the gap between training and test accuracy narrows**.")
    with friendly_errors("With vs without"):
        c1, c2, c3, c4 = st.columns(4)
        with c1:
            dataset = url_select("Dataset", "ag_ww_ds", OFFLINE, "mnist", format_func=lambda d: DATASETS[d].title)
        built = st.session_state.get(PIPELINE_KEY)
        with c2:
            which = url_select("Pipeline", "ag_ww_pipe", ("recommended", "built"), "recommended",
                               format_func={"recommended": "recommended for this dataset",
                                            "built": "the one built in Pipeline"}.get)
        with c3:
            train_size = url_number("Training images", "ag_ww_n", 500, 50, 3000, 50)
        with c4:
            epochs = url_number("Epochs", "ag_ww_ep", 20, 1, 100, 1)
        if which == "built" and not built:
            st.info("Build a pipeline in the Pipeline part first; using the recommended one.")
        steps = list(built) if which == "built" and built else list(A.RECOMMENDED[dataset])
        st.caption("Pipeline: " + "; ".join(s.label() for s in steps))
        settings = {"steps": [{"method": s.method, "params": s.params} for s in steps], "dataset": dataset,
                    "train_size": train_size, "epochs": epochs}
        job_panel("ag_ww_job", "Train with and without", "augment_gap", show_comparison, settings,
                  "About 20-30 s on a 2-core CPU.")


SECTION_VIEWS: dict[str, Callable[[Picture, int], None]] = {
    "One method": one_method, "Pipeline": pipeline, "PCA colour": pca_colour,
}
