"""The Compare page's building blocks: the totals table and "what changed" between configured models."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from cnnviz.analysis import Report, human_bytes, human_count
from cnnviz.analysis import compare as engine
from cnnviz.analysis.report import LayerRow
from cnnviz.ui import charts
from cnnviz.ui.figure_cache import figure_cache
from cnnviz.ui.explorer import rf_text
from cnnviz.ui.model_settings import Settings, cached_report
from cnnviz.ui.state import chart_height, font_size
from cnnviz.ui.words import choice_label, setting_label
from cnnviz.zoo import get_spec

DEFAULT_MODELS = ("resnet50", "plain50", "vgg16", "googlenet")
DEPTH = "Depth (layers with weights)"


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
        rows["activation memory / image"].append(f"{human_count(t.activation_values)} values = "
                                                  f"{human_bytes(t.activation_bytes)}")
        rows[DEPTH].append(str(t.depth))
        rows["weight layers, all branches"].append(str(r.weighted_layers()))
        rows["layers run"].append(str(len(r.layers)))
        rows["receptive field (px)"].append(rf_text(rf["size"]))
        rows["jump (px)"].append(rf_text(rf["jump"]))
    return pd.DataFrame(rows, index=[m.label for m in models]).T


def _kind(row: LayerRow) -> str:
    if row.kernel and row.type == "Conv2d":
        return f"Conv2d {row.kernel[0]}x{row.kernel[1]}"
    return row.type


def describe_group(group: engine.Group) -> str:
    """``downsample (the projection shortcuts): 4 x Conv2d 1x1, 4 x BatchNorm2d: 2.78M params, 360.71M MACs``."""
    kinds = Counter(_kind(r) for r in group.rows)
    parts = ", ".join(f"{n} x {k}" for k, n in kinds.most_common(4))
    cost = [f"{human_count(group.params)} params"] if group.params else []
    cost += [f"{human_count(group.macs)} MACs"] if group.macs else []
    head = f"{group.key} ({group.role})" if group.role else group.key
    return f"{head}: {parts}" + (": " + ", ".join(cost) if cost else "")


def kind_text(totals: engine.KindTotals | None) -> str:
    """``13 layers, 14.71M params, 15.35G MACs``; a kind without weights shows no parameters; ``none`` when absent
    (a lone ``-`` would be drawn as a list bullet by ``st.table``'s Markdown cells)."""
    if totals is None:
        return "none"
    parts = [f"{totals.layers} layer{'s' if totals.layers != 1 else ''}"]
    parts += [f"{human_count(totals.params)} params"] if totals.params else []
    parts += [f"{human_count(totals.macs)} MACs"] if totals.macs else []
    return ", ".join(parts)


def kind_table(models: Sequence[Configured]) -> pd.DataFrame:
    """One column per model, one row per layer kind (convolution, fully connected, pooling, ...)."""
    kinds = [engine.by_kind(m.report) for m in models]
    present = [k for k in engine.KIND_ORDER if any(k in ks for ks in kinds)]
    return pd.DataFrame({m.label: [kind_text(ks.get(k)) for k in present] for m, ks in zip(models, kinds)},
                        index=present)


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
        f"{signed_bytes(tb.activation_bytes - ta.activation_bytes)} per image, depth (layers with weights) "
        f"{ta.depth} → {tb.depth}, receptive field {rf_text(rfa)} → {rf_text(rfb)} px."
    )
    if not engine.same_structure(a, b):  # unrelated networks: a name such as features.2 means different layers
        for rep, who in ((b, other.name), (a, ref.name)):
            lines.append(f"**{who} is built from:** {composition(rep)}.")
        changes = [c for c in engine.kind_changes(a, b) if c.params_delta]
        if changes:
            lines.append(f"**Parameters by layer kind ({other.name} vs {ref.name}):** "
                         + ", ".join(f"{c.kind} {signed_count(c.params_delta)}" for c in changes) + ".")
    else:
        for x, y, who in ((b, a, other.name), (a, b, ref.name)):
            groups = engine.only_in(x, y)
            if groups:
                lines.append(f"**Layers only in {who}:** " + "; ".join(describe_group(g) for g in groups[:4])
                             + (f"; and {len(groups) - 4} more groups" if len(groups) > 4 else "") + ".")
        sizes = engine.resized(b, a)
        if sizes:
            lines.append(f"**Layers both run, resized ({other.name} vs {ref.name}):** "
                         + ", ".join(f"{t} {signed_count(d)} params" for t, d in sizes.items()) + ".")
    not_run = tb.params_not_run - ta.params_not_run
    if not_run:
        lines.append(f"**Not run at inference** (e.g. auxiliary classifiers): {signed_count(not_run)} params.")
    return lines


# -- cached overlay charts ---------------------------------------------------------------------------
OVERLAYS = {"cumulative": charts.cumulative_macs_chart, "stages": charts.params_per_stage_chart,
            "rf": charts.rf_growth_chart}
Key = tuple[tuple[str, Settings], ...]


@figure_cache(max_entries=64)
def _overlay(kind: str, models: Key, labels: tuple[str, ...], height: int, font: int) -> go.Figure:
    reports = [cached_report(name, settings) for name, settings in models]
    return OVERLAYS[kind](reports, labels, height=height, font=font)


def overlay(kind: str, models: Sequence[tuple[str, Settings]], labels: Sequence[str]) -> go.Figure:
    """Overlay chart ``kind`` of several configured models, cached."""
    return _overlay(kind, tuple(models), tuple(labels), chart_height(400), font_size())
