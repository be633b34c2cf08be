"""The course outline (which also drives the app's navigation) and the Home page's charts."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from streamlit.errors import StreamlitAPIException

from cnnviz.ui.state import font_size, style_chart

ROOT = Path(__file__).resolve().parents[2]
PALETTE = px.colors.qualitative.Dark24


@dataclass(frozen=True)
class PageInfo:
    """One page of the app: its file under ``pages/``, title, icon and what it teaches."""

    stem: str
    title: str
    icon: str
    teaches: str

    @property
    def file(self) -> str:
        return f"pages/{self.stem}.py"


# Sections in the order of the course.
COURSE: dict[str, tuple[PageInfo, ...]] = {
    "Start": (PageInfo("home", "Home", ":material/home:", "What the app teaches, and where CNNs came from."),),
    "Layers": (PageInfo("layer_lab", "Layer lab", ":material/layers:",
                        "Convolution and pooling arithmetic (output size, parameters, MACs), the sliding window "
                        "step by step, 1x1 convolutions and bottlenecks, activation functions, softmax, dropout, "
                        "batch norm and fully connected layers."),),
    "Architectures": (
        PageInfo("explorer", "Architecture explorer", ":material/account_tree:",
                 "LeNet-5 to ResNet and MobileNet: every layer's shape, parameters, MACs, memory and receptive "
                 "field, with what each paper introduced."),
        PageInfo("compare", "Compare", ":material/compare_arrows:",
                 "Two to four configured networks side by side: what changed, and what it costs."),
        PageInfo("builder", "Network builder", ":material/construction:",
                 "Your own CNN, layer by layer: every shape, parameter and receptive field live; break it, fix it, "
                 "train it and look inside."),
    ),
    "Seeing inside": (PageInfo("inside", "Seeing inside", ":material/visibility:",
                               "Activations, learnt filters and receptive fields: what the layers look at."),),
    "Training": (
        PageInfo("training", "Training", ":material/model_training:",
                 "Train a small CNN live and watch the loss, the accuracy and the weights."),
        PageInfo("augment", "Augmentation", ":material/auto_awesome:",
                 "Flips, crops, rotations and colour shifts: more data from the data you have."),
        PageInfo("transfer", "Transfer & ensembles", ":material/swap_horiz:",
                 "Reuse a pretrained network, freeze what you keep, and average several models."),
    ),
}


def available_pages(root: Path = ROOT) -> dict[str, list[PageInfo]]:
    """The course's pages whose file exists (a page still being written is left out, not a crash)."""
    out: dict[str, list[PageInfo]] = {}
    for section, pages in COURSE.items():
        found = [p for p in pages if (root / p.file).exists()]
        if found:
            out[section] = found
    return out


def link(page: PageInfo, label: str | None = None, **query: str) -> None:
    """``st.page_link`` to a page of the app, or plain text where it is not in the navigation."""
    try:
        st.page_link(page.file, label=label or page.title, icon=page.icon, query_params=query or None)
    except StreamlitAPIException:
        st.markdown(f"**{label or page.title}** (not available in this app)")


# ---------------------------------------------------------------------------------------------
# ILSVRC classification winners (top-5 error on the test set), as the course tells the story
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    year: int
    name: str
    top5: float  # percent
    layers: int | None  # layers with weights, as the course notes count them
    note: str
    winner: bool = True


ILSVRC = (
    Entry(2010, "NEC-UIUC", 28.2, None, "hand-made features (SIFT, LBP) + linear SVMs; not a CNN"),
    Entry(2011, "XRCE", 25.8, None, "Fisher vectors + linear SVMs; not a CNN"),
    Entry(2012, "AlexNet", 16.4, 8,
          "the first CNN winner: ReLU, dropout, LRN, two GPUs. 16.4% is the entry trained on the challenge "
          "data only (5 CNNs), the number the course notes compare ZFNet with; the course notes also quote 15.3%, the entry "
          "that used extra ImageNet 2011 training data"),
    Entry(2012, "ISI", 26.2, None, "runner-up, hand-made features: the 'next best entry' the course notes quote",
          winner=False),
    Entry(2013, "ZFNet", 11.7, 8, "AlexNet with 7x7 stride-2 CONV1 and more filters"),
    Entry(2014, "GoogLeNet", 6.7, 22, "Inception modules, 1x1 bottlenecks, no FC layers, 5M parameters"),
    Entry(2014, "VGG", 7.3, 19, "runner-up: only 3x3 convolutions, 16-19 layers, 138M parameters", winner=False),
    Entry(2015, "ResNet", 3.57, 152, "skip connections: 152 layers (ensemble; ResNet-152 alone 4.49%)"),
)
HUMAN_TOP5 = 5.1  # Karpathy's own error on the test set, as the course notes quote it


def timeline_figure(runners_up: bool = True) -> go.Figure:
    """Top-5 error of the ILSVRC classification winners per year, with the human error line."""
    rows = [e for e in ILSVRC if e.winner or runners_up]
    colors = ["#E45756" if e.winner and e.layers else "#9D9D9D" if e.winner else "#F2B8B5" for e in rows]
    xs = [f"{e.year}<br>{e.name}" + (f"<br>{e.layers} layers" if e.layers else "") for e in rows]
    # The label of a bar below the human line would sit on the line (ResNet's 3.57%): those bars get
    # their label above the line instead, with a short arrow down to the bar.
    near = [e.top5 < HUMAN_TOP5 for e in rows]
    fig = go.Figure(go.Bar(
        x=xs, y=[e.top5 for e in rows], marker_color=colors,
        text=["" if n else f"{e.top5:g}%" for e, n in zip(rows, near)],
        textposition="outside", cliponaxis=False, constraintext="none", textfont=dict(size=font_size() + 1),
        customdata=[("winner" if e.winner else "runner-up") + ": " + e.note for e in rows],
        hovertemplate="%{x}: %{y}% top-5 error<br>%{customdata}<extra></extra>",
    ))
    fig.add_hline(y=HUMAN_TOP5, line=dict(color="#4C78A8", dash="dash", width=2), layer="below")
    for x, e, n in zip(xs, rows, near):
        if n:
            fig.add_annotation(x=x, y=e.top5, ax=x, ay=HUMAN_TOP5 + 3, axref="x", ayref="y",
                               text=f"{e.top5:g}%", showarrow=True, arrowhead=0, arrowcolor="#888", yanchor="bottom",
                               font=dict(size=font_size() + 1), bgcolor="rgba(255,255,255,0.85)")
    fig.add_annotation(x=1, xref="paper", xanchor="left", y=HUMAN_TOP5, text=f"human<br>~{HUMAN_TOP5}%",
                       showarrow=False, font=dict(color="#4C78A8", size=font_size() + 1), align="left")
    fig.update_layout(xaxis=dict(title="grey: hand-made features, red: CNN winners, pink: runners-up", tickangle=0),
                      yaxis_title="top-5 error (%)", yaxis_range=[0, 34], bargap=0.3)
    style_chart(fig, "ImageNet (ILSVRC) classification winners: top-5 error, lower is better", height=440)
    fig.update_layout(margin_r=80)
    return fig


# ---------------------------------------------------------------------------------------------
# Accuracy against cost for torchvision's pretrained classifiers (metadata only, offline)
# ---------------------------------------------------------------------------------------------
FAMILIES = (("wide_resnet", "ResNet"), ("resnext", "ResNeXt"), ("resnet", "ResNet"), ("regnet", "RegNet"),
            ("vit", "ViT"), ("swin", "Swin"), ("maxvit", "MaxViT"), ("efficientnet", "EfficientNet"),
            ("mobilenet", "MobileNet"), ("convnext", "ConvNeXt"), ("densenet", "DenseNet"), ("vgg", "VGG"),
            ("squeezenet", "SqueezeNet"), ("shufflenet", "ShuffleNet"), ("mnasnet", "MNASNet"),
            ("googlenet", "GoogLeNet"), ("inception", "Inception"), ("alexnet", "AlexNet"))


def family(name: str) -> str:
    """The family a torchvision model name belongs to (``resnext50_32x4d`` -> ResNeXt)."""
    return next((fam for prefix, fam in FAMILIES if name.startswith(prefix)), name)


@st.cache_data(show_spinner="Reading torchvision's model metadata...")
def torchvision_models() -> pd.DataFrame:
    """ImageNet-1K accuracy, GMACs and parameters of every torchvision classifier (DEFAULT weights).

    Only the weights' metadata is read: nothing is downloaded.
    """
    import torchvision
    from torchvision.models import get_model_weights, list_models

    rows = []
    for name in list_models(module=torchvision.models):
        weights = get_model_weights(name).DEFAULT
        meta = weights.meta
        metrics = meta.get("_metrics", {}).get("ImageNet-1K", {})
        if "acc@1" not in metrics or "_ops" not in meta:
            continue
        rows.append({"model": name, "family": family(name), "top1": metrics["acc@1"],
                     "top5": metrics.get("acc@5"), "gmacs": meta["_ops"], "params": meta["num_params"],
                     "weights": str(weights).split(".")[-1]})
    return pd.DataFrame(rows).sort_values("gmacs").reset_index(drop=True)


def zoo_names() -> dict[str, str]:
    """torchvision name -> cnnviz zoo name, for the models the explorer can open."""
    from cnnviz.zoo import list_models

    return {s.torchvision: s.name for s in list_models() if s.torchvision}


def bubble_figure(df: pd.DataFrame, zoo: dict[str, str], metric: str = "top1") -> go.Figure:
    """Accuracy against GMACs (log), bubble area = parameters; models in the zoo drawn with a dark ring."""
    label = "top-1" if metric == "top1" else "top-5"
    sizeref = 2.0 * df["params"].max() / 55 ** 2
    fig = go.Figure()
    for i, (fam, part) in enumerate(df.groupby("family", sort=True)):
        in_zoo = part["model"].isin(list(zoo))
        fig.add_trace(go.Scatter(
            x=part["gmacs"].tolist(), y=part[metric].tolist(), mode="markers", name=fam,
            marker=dict(size=part["params"].tolist(), sizemode="area", sizeref=sizeref, sizemin=4, opacity=0.75,
                        color=PALETTE[i % len(PALETTE)],
                        line=dict(width=[3 if z else 0.5 for z in in_zoo],
                                  color=["#222222" if z else "white" for z in in_zoo])),
            customdata=list(zip(part["model"], part["params"] / 1e6, part["weights"],
                                ["in the cnnviz zoo: click to open it in the explorer" if z else "" for z in in_zoo])),
            hovertemplate=("<b>%{customdata[0]}</b><br>" + label + " %{y:.2f}%<br>%{x:.3g} GMACs<br>"
                           "%{customdata[1]:.1f}M parameters<br>weights %{customdata[2]}<br>%{customdata[3]}"
                           "<extra></extra>"),
        ))
    ticks = [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    x_title = "GMACs per image at the evaluation size (log scale; torchvision's _ops)"
    fig.update_layout(xaxis=dict(type="log", title=x_title, tickvals=ticks, ticktext=[f"{t:g}" for t in ticks]),
                      yaxis_title=f"ImageNet-1K {label} accuracy (%)", legend=dict(title="family"))
    style_chart(fig, f"ImageNet {label} accuracy against compute, torchvision's pretrained models", height=560)
    fig.update_layout(title_subtitle_text="bubble area = parameters; dark ring = in the cnnviz zoo")
    return fig
