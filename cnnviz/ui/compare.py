"""The Compare page's building blocks: the totals table and "what changed" between configured models."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from cnnviz.analysis import Report, human_bytes, human_count
from cnnviz.analysis.report import LayerRow
from cnnviz.ui import charts
from cnnviz.ui.explorer import rf_text
from cnnviz.ui.model_settings import Settings, cached_report
from cnnviz.ui.state import chart_height, font_size
from cnnviz.ui.words import choice_label, setting_label
from cnnviz.zoo import get_spec

DEFAULT_MODELS = ("resnet50", "plain50", "vgg16", "googlenet")
# Layer groups whose role has a name in the course.
GLOSSARY = {
    "downsample": "the projection shortcuts",
    "add": "the skip connections' additions",
    "aux": "the auxiliary classifiers",
    "auxlogits": "the auxiliary classifier",
    "lrn": "local response normalisation",
    "bn": "batch norm",
    "norm": "batch norm",
}


@dataclass(frozen=True)
class Configured:
    """One model of the comparison: its label, name, changed settings and report."""

    label: str
    name: str
    settings: dict[str, Any]
    report: Report


def label_for(index: int, name: str, changed: dict[str, Any], max_len: int = 48) -> str:
    """``2: resnet50 (width_mult=0.5)``."""
    text = f"{index}: {name}"
    if changed:
        text += " (" + ", ".join(f"{k}={v}" for k, v in changed.items()) + ")"
    return text if len(text) <= max_len else text[: max_len - 3] + "..."


def signed_count(n: float, unit: str = "") -> str:
    """``2778624`` -> ``+2.78M``; ``-5`` -> ``-5``; ``0`` -> ``no change``."""
    if n == 0:
        return "no change"
    return ("+" if n > 0 else "-") + human_count(abs(n), unit)


def signed_bytes(n: float) -> str:
    if n == 0:
        return "no change"
    return ("+" if n > 0 else "-") + human_bytes(abs(n))


def percent(new: float, old: float) -> str:
    return f" ({(new - old) / old:+.1%})" if old else ""


def totals_table(models: Sequence[Configured]) -> pd.DataFrame:
    """One column per model, one row per total (as text, exact where it matters)."""
    rows: dict[str, list[str]] = defaultdict(list)
    for m in models:
        r, t = m.report, m.report.totals
        rf = r.receptive_field
        rows["input (HxWxC)"].append(charts.shape_text(r.input_shape))
        rows["output"].append(charts.shape_text(r.output_shape))
        rows["parameters"].append(f"{human_count(t.params)} ({t.params:,})")
        rows["MACs"].append(f"{human_count(t.macs)} ({t.macs:,})")
        rows["FLOPs"].append(human_count(t.flops))
        rows["parameter memory"].append(human_bytes(t.param_bytes))
        rows["activation memory / image"].append(human_bytes(t.activation_bytes))
        rows["weighted depth"].append(str(r.weighted_layers()))
        rows["layers run"].append(str(len(r.layers)))
        rows["receptive field (px)"].append(rf_text(rf["size"]))
        rows["jump (px)"].append(rf_text(rf["jump"]))
    return pd.DataFrame(rows, index=[m.label for m in models]).T


def _group_key(name: str) -> str:
    """``layer1.0.downsample.0`` -> ``downsample``; ``features.12`` -> ``features``; ``layer2.1.add:3`` -> ``add``."""
    parts = [p for p in name.split(":")[0].split(".") if not p.isdigit()]
    return parts[-1] if parts else name


def _kind(row: LayerRow) -> str:
    if row.kernel and row.type == "Conv2d":
        return f"Conv2d {row.kernel[0]}x{row.kernel[1]}"
    return row.type


def describe_group(rows: Sequence[LayerRow]) -> str:
    """``4 x Conv2d 1x1, 4 x BatchNorm2d: 2.78M params, 360.71M MACs``."""
    kinds = Counter(_kind(r) for r in rows)
    parts = ", ".join(f"{n} x {k}" for k, n in kinds.most_common(4))
    params = sum(r.params for r in rows)
    macs = sum(r.macs or 0 for r in rows)
    cost = [f"{human_count(params)} params"] if params else []
    cost += [f"{human_count(macs)} MACs"] if macs else []
    return parts + (": " + ", ".join(cost) if cost else "")


def only_in(a: Report, b: Report) -> list[str]:
    """Phrases for the layer groups that ``a`` runs and ``b`` does not, biggest first."""
    names_b = {r.name for r in b.layers}
    groups: dict[str, list[LayerRow]] = defaultdict(list)
    for r in a.layers:
        if r.name not in names_b:
            groups[_group_key(r.name)].append(r)
    ranked = sorted(groups.items(), key=lambda kv: -sum(r.params for r in kv[1]) - len(kv[1]) / 1e6)
    out = []
    for key, rows in ranked:
        role = GLOSSARY.get(key.lower().rstrip("0123456789_"), "")
        out.append(f"{key}{f' ({role})' if role else ''}: {describe_group(rows)}")
    return out


def resized(a: Report, b: Report) -> str:
    """Parameter change of the layers both run, by layer type (``Conv2d -17.3M, Linear -1.02M``)."""
    rows_b = {r.name: r for r in b.layers}
    delta: Counter = Counter()
    for r in a.layers:
        other = rows_b.get(r.name)
        if other is not None and other.params != r.params:
            delta[r.type] += r.params - other.params
    return ", ".join(f"{t} {signed_count(d)} params" for t, d in sorted(delta.items(), key=lambda kv: -abs(kv[1])))


def shared_fraction(a: Report, b: Report) -> float:
    """Share of layer names the two reports have in common (1.0: the same architecture)."""
    names_a, names_b = {r.name for r in a.layers}, {r.name for r in b.layers}
    return len(names_a & names_b) / max(len(names_a), len(names_b), 1)


def composition(report: Report) -> str:
    """The weight and pooling layers a network runs: ``36 x Conv2d 1x1, 16 x Conv2d 3x3, 1 x Linear, ...``."""
    kinds = Counter(_kind(r) for r in report.layers if r.type in ("Conv2d", "Linear") or "Pool" in r.type)
    return ", ".join(f"{n} x {k}" for k, n in kinds.most_common())


def settings_diff(ref: Configured, other: Configured) -> list[str]:
    """The settings that differ, in words."""
    out = []
    if ref.name != other.name:
        out.append(f"model {ref.name} → {other.name}")
    a, b = get_spec(ref.name).resolve(ref.settings), get_spec(other.name).resolve(other.settings)
    out += [f"{setting_label(k).lower()} {choice_label(a[k])} → {choice_label(b[k])}"
            for k in a if k in b and a[k] != b[k]]
    only_a = [setting_label(k).lower() for k in a if k not in b]
    only_b = [setting_label(k).lower() for k in b if k not in a]
    if only_a:
        out.append(f"only {ref.name} has {', '.join(only_a)}")
    if only_b:
        out.append(f"only {other.name} has {', '.join(only_b)}")
    return out


def what_changed(ref: Configured, other: Configured) -> list[str]:
    """``other`` against ``ref`` in words: the settings that differ, the totals' deltas and where they come from."""
    a, b = ref.report, other.report
    ta, tb = a.totals, b.totals
    lines = []
    diff = settings_diff(ref, other)
    lines.append("**Settings:** " + ("; ".join(diff) if diff else "identical"))
    rfa, rfb = a.receptive_field["size"], b.receptive_field["size"]
    lines.append(
        f"**{other.name} vs {ref.name}:** {signed_count(tb.params - ta.params)} params{percent(tb.params, ta.params)}, "
        f"{signed_count(tb.macs - ta.macs)} MACs{percent(tb.macs, ta.macs)}, activation memory "
        f"{signed_bytes(tb.activation_bytes - ta.activation_bytes)} per image, weighted depth "
        f"{a.weighted_layers()} → {b.weighted_layers()}, receptive field {rf_text(rfa)} → {rf_text(rfb)} px."
    )
    if shared_fraction(a, b) < 0.5:  # different architectures: their layer names say little
        for rep, who in ((b, other.name), (a, ref.name)):
            lines.append(f"**{who} is built from:** {composition(rep)}.")
    else:
        for x, y, who in ((b, a, other.name), (a, b, ref.name)):
            phrases = only_in(x, y)
            if phrases:
                lines.append(f"**Layers only in {who}:** " + "; ".join(phrases[:4])
                             + (f"; and {len(phrases) - 4} more groups" if len(phrases) > 4 else "") + ".")
        sizes = resized(b, a)
        if sizes:
            lines.append(f"**Layers both run, resized ({other.name} vs {ref.name}):** {sizes}.")
    not_run = tb.params_not_run - ta.params_not_run
    if not_run:
        lines.append(f"**Not run at inference** (e.g. auxiliary classifiers): {signed_count(not_run)} params.")
    return lines


# -- cached overlay charts ---------------------------------------------------------------------------
OVERLAYS = {"cumulative": charts.cumulative_macs_chart, "stages": charts.params_per_stage_chart,
            "rf": charts.rf_growth_chart}
Key = tuple[tuple[str, Settings], ...]


@st.cache_data(max_entries=128, show_spinner=False)
def _overlay(kind: str, models: Key, labels: tuple[str, ...], height: int, font: int) -> go.Figure:
    reports = [cached_report(name, settings) for name, settings in models]
    return OVERLAYS[kind](reports, labels, height=height, font=font)


def overlay(kind: str, models: Sequence[tuple[str, Settings]], labels: Sequence[str]) -> go.Figure:
    """Overlay chart ``kind`` of several configured models, cached."""
    return _overlay(kind, tuple(models), tuple(labels), chart_height(400), font_size())
