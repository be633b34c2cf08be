"""The Architecture explorer's building blocks: totals, notes on the course notes' conventions, table, charts, export."""
from __future__ import annotations

import re
from typing import Any, Callable

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from cnnviz import export
from cnnviz.analysis import ConfigError, Report, human_bytes, human_count
from cnnviz.analysis.report import OPTIMIZER_STATES
from cnnviz.ui import charts
from cnnviz.ui.figure_cache import figure_cache
from cnnviz.ui.model_settings import ModelForm, Settings, cached_report, family_label, hidden_value
from cnnviz.ui.state import (chart_height, choice_parser, font_size, parse_toggle, url_number, url_select,
                             url_toggle)
from cnnviz.ui.words import in_words
from cnnviz.zoo import ModelSpec

DEPTH = "Depth (layers with weights)"
OPTIMIZER_LABELS = {"sgd": "SGD", "sgd_momentum": "SGD + momentum", "adam": "Adam", "adamw": "AdamW",
                    "rmsprop": "RMSprop"}
FOLD_OPTIONS = ("auto", "1", "2", "3", "4", "every layer")
ONNX_STATE = "_ex_onnx"


# -- numbers -------------------------------------------------------------------------------------
def rf_text(value: Any) -> str:
    """A receptive field / jump as text: ``427``, ``[31, 35]`` -> ``31x35``, ``global``, ``n/a``."""
    if value is None:
        return "n/a"
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value))
    return str(value)


def px_text(value: Any) -> str:
    """``427`` -> ``427 px``; ``global`` and ``n/a`` stay words."""
    text = rf_text(value)
    return text if value is None or isinstance(value, str) else f"{text} px"


def short_bytes(n: float) -> str:
    """Bytes in about three digits, never in scientific notation: ``553430176`` -> ``528 MiB``, ``1023.5 MiB`` ->
    ``1024 MiB``, ``1.5 GiB`` -> ``1.50 GiB``."""
    for div, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= div:
            value = n / div
            return f"{value:.{2 if value < 10 else 1 if value < 100 else 0}f} {suffix}"
    return f"{int(n)} B"


def totals(report: Report, batch_size: int, optimizer: str) -> list[tuple[str, str, str]]:
    """The totals as (label, shown value, help with the exact numbers)."""
    t = report.totals
    rf = report.receptive_field
    mem = report.training_memory(batch_size, optimizer)
    opt = OPTIMIZER_LABELS.get(optimizer, optimizer)
    return [
        ("Parameters", human_count(t.params),
         f"{t.params:,} parameters ({t.trainable_params:,} trainable)"
         + (f"; {t.params_not_run:,} in layers not run at inference" if t.params_not_run else "")),
        ("MACs", human_count(t.macs),
         f"{t.macs:,} multiply-accumulates of the conv and fully connected layers for one image (bias excluded): "
         "what the course notes and most papers call FLOPs"),
        ("FLOPs", human_count(t.flops),
         f"{t.flops:,} = 2 x MACs" + (" + elementwise work (bias, BN, activations, pooling, adds)"
                                      if report.include_extra else
                                      f"; elementwise work would add {human_count(t.extra_flops)}")),
        (DEPTH, str(t.depth),
         "Convolutions and fully connected layers on the longest path from input to output, as the papers count "
         f"depth; side branches and projection shortcuts run beside it ({report.weighted_layers()} such layers run "
         "in all). Batch norm, pooling and activations do not count."),
        ("Receptive field", px_text(rf["size"]),
         f"Input pixels seen by one unit of {rf['layer']}, the last layer with a spatial map larger than 1x1"),
        ("Jump", px_text(rf["jump"]),
         "Distance in input pixels between neighbouring units of that layer (its total stride)"
         + (f"; {note}" if (note := report.jump_note()) else "")),
        ("Parameter memory", short_bytes(t.param_bytes),
         f"{t.param_bytes:,} bytes of float32 weights"
         + (f" + {human_bytes(t.buffer_bytes)} of buffers (BN statistics)" if t.buffer_bytes else "")),
        ("Activation values", human_count(t.activation_values),
         f"{t.activation_values:,} values = {t.activation_bytes:,} bytes ({short_bytes(t.activation_bytes)}) in "
         f"every layer output for one image, counted as the course notes count them (224 x 224 x 64 = 3.2M "
         f"values); in-place ReLUs add nothing; the input adds {human_bytes(t.input_bytes)}"),
        ("Activation memory", short_bytes(t.activation_bytes),
         f"{t.activation_bytes:,} bytes for one image = {t.activation_values:,} values x "
         f"{t.activation_bytes // max(t.activation_values, 1)} bytes"),
        ("Training memory", short_bytes(mem["total"]),
         f"{mem['total']:,} bytes for batch {batch_size} with {opt}"),
        ("Output", charts.shape_text(report.output_shape),
         f"Input {charts.shape_text(report.input_shape)} (H x W x C)"),
    ]


def show_totals(report: Report, batch_size: int, optimizer: str, per_row: int = 4) -> None:
    """The totals as st.metric, ``per_row`` to a row, and the training-memory breakdown."""
    items = totals(report, batch_size, optimizer)
    for start in range(0, len(items), per_row):
        for col, (label, value, helptext) in zip(st.columns(per_row), items[start:start + per_row]):
            col.metric(label, value, help=helptext)
    if note := report.jump_note():
        st.caption(f"**Jump {px_text(report.receptive_field['jump'])}** is {note}.")
    mem = report.training_memory(batch_size, optimizer)
    st.caption(f"Training memory for a batch of {batch_size} with {OPTIMIZER_LABELS.get(optimizer, optimizer)}: "
               f"weights {human_bytes(mem['weights'])} + gradients {human_bytes(mem['gradients'])} + optimizer "
               f"state {human_bytes(mem['optimizer_state'])} + activations kept for the backward pass "
               f"{human_bytes(mem['activations'])} (no workspace or framework overhead).")


def convention_notes(report: Report) -> list[str]:
    """Where the course notes count differently from cnnviz, with this configuration's numbers."""
    t = report.totals
    notes = [f"**MACs** are multiply-accumulates of the conv and fully connected layers (bias excluded). The course notes "
             f"and most papers call these \"FLOPs\" (VGG-16's \"15.5G FLOPs\" are its 15.47G MACs); cnnviz's FLOPs "
             f"= 2 x MACs{' + elementwise work' if report.include_extra else ''}."]
    if report.model == "lenet5":
        notes.append(f"The course notes' **341K \"floating point operations\"** for LeNet is the 1998 paper's count of "
                     f"*connections* (340,908), not an operation count: this configuration has {t.macs:,} MACs.")
    if report.model == "vgg16":
        values = t.activation_values
        notes.append("The course notes' VGG-16 table ends with **\"TOTAL memory: 24M x 4 bytes ~= 96MB / image\"**, but "
                     "its own rows add up to 15.2M values (about 61 MB, with the 150K input). cnnviz counts "
                     f"{human_count(values)} values = {human_bytes(t.activation_bytes)} per image (every layer "
                     f"output except in-place ReLUs), plus the input's {human_bytes(t.input_bytes)}.")
    if report.model == "alexnet":
        paper = cached_report("alexnet_paper", ())
        notes.append(f"The course notes' AlexNet (**61M weights, 724M \"FLOPs\"**) is the 2012 two-GPU network: "
                     f"`alexnet_paper` has {human_count(paper.totals.params)} parameters and "
                     f"{human_count(paper.totals.macs)} MACs. This is torchvision's one-GPU version.")
    return notes


# -- the layer table -------------------------------------------------------------------------------
def auto_depth(report: Report, min_rows: int = 8) -> int | None:
    """The shallowest fold that still shows ``min_rows`` rows (None: every layer)."""
    deepest = max((b.depth for b in report.blocks), default=0)
    for depth in range(1, deepest + 1):
        if len(report.collapsed(depth)) >= min_rows:
            return depth
    return None


def fold_depth(report: Report, choice: str) -> int | None:
    """The fold depth the user chose (None: every layer)."""
    if choice == "every layer":
        return None
    if choice == "auto":
        return auto_depth(report)
    return int(choice)


def _index_texts(rows: list[dict[str, Any]]) -> list[str]:
    """Execution index of each row; a folded block shows the range of its layers (``4-35``)."""
    out, first = [], 0
    for row in rows:
        n = row.get("rows", 1)
        out.append(f"{first}-{first + n - 1}" if row.get("block") else str(row.get("index", first)))
        first += n
    return out


def _count_column(values: list[int | None]) -> pd.api.extensions.ExtensionArray:
    """Whole counts with gaps for "unknown"; floats when one does not fit 64 bits (absurd inputs from a link)."""
    if all(v is None or abs(v) < 2**63 for v in values):
        return pd.array(values, dtype="Int64")
    return pd.array([None if v is None else float(v) for v in values], dtype="Float64")


def layer_table(report: Report, depth: int | None) -> pd.DataFrame:
    """The per-layer table; blocks at ``depth`` folded into one row with their repeat count."""
    rows = [r.to_dict() | {"repeat": 1, "block": False} for r in report.layers] if depth is None \
        else report.collapsed(depth)
    df = pd.DataFrame({
        "#": _index_texts(rows),
        "layer": [r["name"] or "(model)" for r in rows],
        "type": [r["type"] for r in rows],
        "repeat": [r["repeat"] for r in rows],
        "output (HxWxC)": [charts.shape_text(r["output_shape"]) for r in rows],
        "params": _count_column([r["params"] for r in rows]),
        "MACs": _count_column([r["macs"] for r in rows]),
        "activation values": _count_column([r["activation_values"] for r in rows]),
        "activation (KiB)": [r["activation_bytes"] / 1024 for r in rows],
        "RF (px)": [rf_text(r["rf"]) for r in rows],
        "jump": [rf_text(r["jump"]) if r["jump"] is not None else "" for r in rows],
        "note": [r.get("note", "") for r in rows],
    })
    if depth is None:
        df = df.drop(columns="repeat")
    return df


TABLE_CONFIG = {
    "#": st.column_config.TextColumn(width="small", help="Execution order (a folded block: its rows)"),
    "repeat": st.column_config.NumberColumn(width="small", help="Blocks folded into this row"),
    "params": st.column_config.NumberColumn(format="localized", help="Parameters (weights + biases)"),
    "MACs": st.column_config.NumberColumn(format="localized", help="Multiply-accumulates for one image"),
    "activation values": st.column_config.NumberColumn(
        format="localized", help="Values in the output for one image, as the course notes count them (H x W x C)"),
    "activation (KiB)": st.column_config.NumberColumn(format="%.1f", help="Output memory for one image"),
    "RF (px)": st.column_config.TextColumn(help="Receptive field in input pixels"),
    "jump": st.column_config.TextColumn(help="Distance in input pixels between neighbouring units"),
}


# -- cached figures --------------------------------------------------------------------------------
FIGURES: dict[str, Callable[..., go.Figure]] = {
    "drawing": charts.network_drawing, "params": charts.params_chart, "macs": charts.macs_chart,
    "memory": charts.activation_chart, "rf": charts.rf_chart,
}


@figure_cache(max_entries=128)
def _figure(kind: str, name: str, settings: Settings, include_extra: bool, height: int, font: int) -> go.Figure:
    return FIGURES[kind](cached_report(name, settings, include_extra), height=height, font=font)


def figure(kind: str, form: ModelForm, include_extra: bool, base_height: int = 380) -> go.Figure:
    """Chart ``kind`` of the configured model, cached (figures cost more than the analysis)."""
    return _figure(kind, form.name, form.frozen, include_extra, chart_height(base_height), font_size())


# -- paper and facts -------------------------------------------------------------------------------
def show_about(spec: ModelSpec) -> None:
    """The paper's description (left) and the course notes' key facts for the network (right)."""
    about, facts_col = st.columns([3, 2], gap="large")
    facts = spec.facts
    with about:
        st.markdown(f"**{spec.name}** ({family_label(spec.family)})")
        st.markdown(in_words(spec.description, [s.name for s in spec.all_settings]))
        if facts is not None:
            st.markdown(f"**Paper** ({facts.year}): {facts.paper}")
    if facts is None:
        return
    with facts_col:
        if facts.ilsvrc:
            st.markdown(f"**ImageNet (ILSVRC):** {facts.ilsvrc}")
        if facts.new_ideas:
            st.markdown("**What was new:**\n" + "\n".join(f"- {idea}" for idea in facts.new_ideas))
        if facts.notes_numbers:
            st.info(f"**The course notes' numbers:** {facts.notes_numbers}", icon=":material/menu_book:")


# -- export ----------------------------------------------------------------------------------------
def report_json(report: Report, form: ModelForm, batch_size: int, optimizer: str) -> str:
    """The JSON download: what ``python -m cnnviz summary --format json`` prints, plus the settings."""
    return export.report_json(report, form.values, batch_size, optimizer)


@st.cache_data(show_spinner=False, max_entries=32)
def standalone_code(name: str, frozen: tuple) -> str:
    """The plain-PyTorch file of the model (pure work: cached per model and settings)."""
    return export.zoo_source(name, dict(frozen))


def show_export(report: Report, form: ModelForm, batch_size: int, optimizer: str) -> None:
    """Downloads: the model as plain PyTorch code and as ONNX, the layer table as CSV and JSON."""
    stem = form.name + "".join(f"_{k}-{v}" for k, v in form.frozen)[:80]
    st.markdown("**Take the code home**: one Python file that needs only PyTorch. `build_model()` returns "
                "this network with these settings, its blocks written out as classes; trained weights of the "
                "same model load into it.")
    left, mid, right = st.columns(3)
    try:
        code = standalone_code(form.name, form.frozen)
    except ConfigError as exc:  # a layer the exporter cannot write: say which, keep the other downloads
        left.info(f"No plain-PyTorch file for this model: {exc}")
    else:
        left.download_button("PyTorch code (.py)", data=code,
                             file_name=re.sub(r"\W", "_", stem) + ".py",  # a name Python can import
                             mime="text/x-python", icon=":material/code:", on_click="ignore")
    mid.download_button("Layer table (CSV)", data=report.to_csv, file_name=f"{stem}_layers.csv", mime="text/csv",
                        icon=":material/table:", on_click="ignore")
    right.download_button("Layer table and totals (JSON)",
                          data=lambda: report_json(report, form, batch_size, optimizer),
                          file_name=f"{stem}_analysis.json", mime="application/json",
                          icon=":material/data_object:", on_click="ignore")
    st.markdown("**With cnnviz installed**, the same model in three lines:")
    st.code(export.pytorch_code(form.name, form.changed), language="python")
    show_onnx(report, form, stem)


def show_onnx(report: Report, form: ModelForm, stem: str) -> None:
    """ONNX export on demand (it builds real, random weights)."""
    st.markdown("**ONNX**: the model with *random* (untrained) weights, to open in a viewer such as Netron or "
                "another framework.")
    if report.totals.params > export.MAX_ONNX_PARAMS:
        st.warning(f"{form.name} has {human_count(report.totals.params)} parameters; ONNX export here is limited to "
                   f"{human_count(export.MAX_ONNX_PARAMS)} (the file would be "
                   f"{human_bytes(report.totals.param_bytes)}). Use the PyTorch code to export it on your machine.")
        return
    key = (form.name, form.frozen)
    kept = st.session_state.get(ONNX_STATE)
    if kept is not None and kept[0] != key:  # an export of other settings: let it go
        _forget_onnx()
        kept = None
    if kept is None:
        slot = st.empty()
        if slot.button("Export to ONNX", icon=":material/deployed_code:",
                       help="Builds the model with random weights on the CPU and exports it: a few seconds"):
            with st.spinner(f"Exporting {form.name} to ONNX ..."):
                st.session_state[ONNX_STATE] = kept = (key, export.onnx_bytes(form.name, form.changed))
            slot.empty()
    if kept is not None:
        st.download_button(f"Download {stem}.onnx ({human_bytes(len(kept[1]))}, random weights)", data=kept[1],
                           file_name=f"{stem}.onnx", mime="application/octet-stream", icon=":material/download:",
                           on_click=_forget_onnx)


def _forget_onnx() -> None:
    """After the download, drop the file from the session (it can be hundreds of MB)."""
    st.session_state.pop(ONNX_STATE, None)


def training_controls(lecture: bool) -> tuple[int, str, bool]:
    """Batch size and optimizer for the training-memory estimate, and the elementwise-FLOPs switch."""
    batch = url_number("Batch size", "ex_batch", 32, min_value=1, max_value=65536,
                       help="Images per training step, for the training-memory estimate")
    if lecture:
        return (batch, hidden_value("ex_opt", "adam", choice_parser(list(OPTIMIZER_STATES))),
                hidden_value("ex_extra", False, parse_toggle))
    optimizer = url_select("Optimizer", "ex_opt", list(OPTIMIZER_STATES), "adam",
                           format_func=lambda o: OPTIMIZER_LABELS.get(o, o),
                           help="SGD keeps no state; momentum and RMSprop one copy of the weights; Adam two")
    extra = url_toggle("Count elementwise FLOPs", "ex_extra", False,
                       help="Add bias, batch-norm, activation, pooling and add operations to FLOPs")
    return batch, optimizer, extra
