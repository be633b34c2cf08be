"""The Network builder page's parts: starting networks, the two views of one network, the numbers, the links.

The network lives in one place, the text area's value ``b_net`` (bound to the URL with the
input ``b_c``, ``b_h``, ``b_w``). The table is drawn from that text: its widgets' keys carry a
hash of the text, so after any edit the table is drawn afresh from the new text, and a table
edit writes the new canonical text back (:func:`cnnviz.zoo.custom.format_network`) in its
callback. Parsing and the numbers are cached by text and input (:func:`cnnviz.builder.describe`).
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Callable, Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from cnnviz.analysis import human_bytes, human_count
from cnnviz.builder import Description, RowInfo, describe
from cnnviz.ui import charts
from cnnviz.ui.figure_cache import figure_cache
from cnnviz.ui.explorer import rf_text, short_bytes
from cnnviz.ui.state import plain
from cnnviz.zoo.custom import LAYER_KINDS, LENET5_TEXT, PRESETS, REPEAT, BuilderError, LayerSpec, format_network, parse
from cnnviz.zoo_text import ZooText, zoo_text

NET, C, H, W = "b_net", "b_c", "b_h", "b_w"
LAST_OK = "_b_last_ok"  # the last text that could be read, shown while the text is being fixed
NOTICE = "_b_notice"  # a table edit that could not be applied, said once
ROWS_PER_PAGE = 12
ROW_WIDTHS = (0.45, 1.4, 4.4, 2.5, 1.6)  # number, layer type, settings, output and parameters, actions


# -- starting networks and the explorer's way in ---------------------------------------------------
@st.cache_data(max_entries=128, show_spinner=False)
def zoo_network(zoo_name: str, settings: tuple[tuple[str, Any], ...]) -> ZooText | str:
    """Zoo model ``zoo_name`` with ``settings`` written in the grammar, or why it cannot be (cached)."""
    try:
        return zoo_text(zoo_name, dict(settings))
    except BuilderError as exc:
        return str(exc)


def query_for(text: str, shape: Sequence[int]) -> dict[str, str]:
    c, h, w = (int(v) for v in shape)
    return {NET: text, C: str(c), H: str(h), W: str(w)}


# -- the error's place ----------------------------------------------------------------------------
def caret(text: str, position: int, width: int = 100) -> str:
    """The line of ``text`` around ``position`` with a ``^`` under that character (for a code block)."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start: end if end != -1 else len(text)]
    col = position - start
    lo = max(0, col - width // 2)
    return line[lo: lo + width] + "\n" + " " * (col - lo) + "^"


# -- cached work -----------------------------------------------------------------------------------
@st.cache_data(max_entries=128, show_spinner=False)
def cached_description(text: str, shape: tuple[int, int, int]) -> Description:
    """:func:`cnnviz.builder.describe`, kept across sessions (a link opened by a class is worked out once)."""
    return describe(text, shape)


@figure_cache(max_entries=64)
def cached_drawing(text: str, shape: tuple[int, int, int], height: int, font: int) -> go.Figure:
    report = cached_description(text, shape).report
    assert report is not None
    fig = charts.network_drawing(report, height=height, font=font)
    fig.update_layout(title_text="Your network, as the course notes draw it")
    return fig


def readable(text: str) -> bool:
    try:
        parse(text)
    except BuilderError:
        return False
    return True


def shown_text(text: str) -> str:
    """The text whose network is shown: ``text`` if it can be read, else the last one that could."""
    if readable(text):
        st.session_state[LAST_OK] = text
        return text
    last = st.session_state.get(LAST_OK, "")
    return last if readable(last) else ""


# -- editing the network as a table ----------------------------------------------------------------
DEFAULTS: dict[str, tuple[Any, ...]] = {
    "conv": (8, 3), "maxpool": (2,), "avgpool": (2,), "fc": (10,), "residual": (64,), "bottleneck": (64,),
    "inception": (64, 96, 128, 16, 32, 32), "separable": (64,),
}
KINDS = tuple(LAYER_KINDS) + (REPEAT,)


def new_layer(kind: str, old: LayerSpec | None = None) -> LayerSpec:
    """A layer of ``kind`` with the values of ``old``'s arguments of the same name, defaults for the rest."""
    if kind == REPEAT:
        body = (old,) if old is not None and old.kind != REPEAT else (LayerSpec("relu"),)
        return LayerSpec(REPEAT, (("n", 2),), body)
    info = LAYER_KINDS[kind]
    kept = dict(old.args) if old is not None and old.kind != REPEAT else {}
    values = dict(zip((a.name for a in info.args), DEFAULTS.get(kind, ())))
    args = []
    for a in info.args:
        if a.name in kept and _fits(a.type, kept[a.name]):
            args.append((a.name, kept[a.name]))
        elif a.name in values:
            args.append((a.name, values[a.name]))
    return LayerSpec(kind, tuple(args))


def _fits(arg_type: str, value: Any) -> bool:
    if arg_type == "bool":
        return isinstance(value, bool)
    if arg_type == "float":
        return isinstance(value, float)
    if arg_type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return not isinstance(value, bool) and not isinstance(value, float)


def with_arg(spec: LayerSpec, name: str, value: Any) -> LayerSpec:
    """``spec`` with argument ``name`` set to ``value`` (left out again when it is an unwritten default)."""
    if spec.kind == REPEAT:
        return LayerSpec(REPEAT, (("n", value),), spec.body)
    info = LAYER_KINDS[spec.kind]
    given = dict(spec.args)
    arg = info.arg(name)
    if name not in given and value == spec.get(name) and not arg.required:
        return spec
    given[name] = value
    return LayerSpec(spec.kind, tuple((a.name, given[a.name]) for a in info.args if a.name in given))


def read_value(arg_type: str, raw: Any) -> Any:
    """A table cell's value as the grammar holds it (``"5x3"`` -> ``(5, 3)``, ``"same"``)."""
    if arg_type in ("size", "padding") and isinstance(raw, str):
        text = raw.strip().lower()
        if arg_type == "padding" and text == "same":
            return "same"
        if re.fullmatch(r"\d+x\d+", text):
            a, b = (int(v) for v in text.split("x"))
            return (a, b) if a != b else a
        if text.isdigit():
            return int(text)
        raise ValueError(f"{raw!r} is not a whole number" + (", AxB or same" if arg_type == "padding" else " or AxB"))
    if arg_type == "float":
        return float(raw)
    if arg_type == "bool":
        return bool(raw)
    return int(raw)


def _set_text(text: str) -> None:
    st.session_state[NET] = text


def _edit(base: str, change: Callable[[list[LayerSpec]], list[LayerSpec]]) -> None:
    """Apply a table edit to the network of text ``base`` and write its canonical text back."""
    try:
        layers = change(parse(base))
        text = format_network(layers)
        parse(text)  # a value the grammar refuses (a size of 0): said, and the text kept
    except (BuilderError, ValueError) as exc:
        st.session_state[NOTICE] = f"That change was not applied: {exc}"
        return
    _set_text(text)


def _move(i: int, j: int) -> Callable[[list[LayerSpec]], list[LayerSpec]]:
    def change(layers: list[LayerSpec]) -> list[LayerSpec]:
        if 0 <= j < len(layers):
            layers[i], layers[j] = layers[j], layers[i]
        return layers

    return change


def _on_kind(base: str, i: int, key: str) -> None:
    kind = st.session_state[key]
    _edit(base, lambda layers: layers[:i] + [new_layer(kind, layers[i])] + layers[i + 1:])


def _on_arg(base: str, i: int, name: str, arg_type: str, key: str) -> None:
    raw = st.session_state[key]

    def change(layers: list[LayerSpec]) -> list[LayerSpec]:
        layers[i] = with_arg(layers[i], name, read_value(arg_type, raw))
        return layers

    _edit(base, change)


def _on_body(base: str, i: int, key: str) -> None:
    body = st.session_state[key]

    def change(layers: list[LayerSpec]) -> list[LayerSpec]:
        layers[i] = LayerSpec(REPEAT, layers[i].args, tuple(parse(body)))
        return layers

    _edit(base, change)


def _on_add(base: str, key: str) -> None:
    kind = st.session_state[key]
    _edit(base, lambda layers: layers + [new_layer(kind)])


def _label(kind: str) -> str:
    return "N*( ... )" if kind == REPEAT else kind


# The grammar's one-letter and inception argument names, said in words beside the name the text uses.
ARG_WORDS = {"C": "channels", "K": "kernel", "N": "outputs", "p": "drop", "c1": "1x1", "c3r": "3x3 reduce",
             "c3": "3x3", "c5r": "5x5 reduce", "c5": "5x5", "pool_proj": "pool proj"}


def arg_label(name: str) -> str:
    """``C`` -> ``C (channels)``; ``pool_proj`` -> ``pool proj``; ``stride`` stays ``stride``."""
    words = ARG_WORDS.get(name)
    if words is None:
        return name
    return words if "_" in name else f"{name} ({words})"


def _arg_widget(spec: LayerSpec, arg: Any, key: str, on_change: Callable[..., None], args: tuple) -> None:
    value = spec.get(arg.name)
    label = arg_label(arg.name)
    common = dict(key=key, on_change=on_change, args=args + (arg.type, key), help=arg.help)
    if arg.type == "bool":
        st.checkbox(label, value=bool(value), **common)
    elif arg.type == "float":
        st.number_input(label, min_value=float(arg.min), max_value=float(arg.max), value=float(value),
                        step=0.05, format="%.3g", width=95, **common)
    elif arg.type == "int" or (arg.type == "size" and isinstance(value, int)):
        st.number_input(label, min_value=int(arg.min), max_value=int(arg.max), value=int(value), step=1,
                        width=95, **common)
    else:  # a padding (a number or same), or a size written AxB
        shown = f"{value[0]}x{value[1]}" if isinstance(value, tuple) else str(value)
        st.text_input(label, value=shown, width=95, **common)


def entry_numbers(rows: Sequence[RowInfo], top: int) -> tuple[str, str, str, str | None]:
    """(output shape, parameters, the formula or sum, the error) of top-level entry ``top``."""
    mine = [r for r in rows if r.top_index == top]
    if not mine:
        return "", "", "", None
    error = next((r.error for r in mine if r.error), None)
    done = [r for r in mine if r.error is None]
    if not done:
        return "", "", "", error
    params = sum(r.params or 0 for r in done)
    if len(mine) == 1:
        formula = mine[0].formula + (f"; {mine[0].note}" if mine[0].note else "")
    else:
        formula = f"{len(done)} layers: " + " + ".join(f"{r.params:,}" for r in done if r.params) + f" = {params:,}"
    return charts.shape_text(done[-1].output_shape or ()), f"{params:,}", formula, error


def table_editor(text: str, desc: Description, editable: bool) -> None:
    """One row per top-level entry: layer type, its settings, its output and parameters, and row actions."""
    layers = list(desc.layers)
    # the widgets' keys change with the text (so each shows its layer's new values), not with the input size:
    # new keys make the browser build every row's widgets again (seconds for a long network)
    tag = hashlib.sha1(text.encode()).hexdigest()[:10]
    pages = max(1, -(-len(layers) // ROWS_PER_PAGE))
    first = 0
    if pages > 1:
        page = st.number_input(f"Rows page (1-{pages}, {ROWS_PER_PAGE} rows each)", 1, pages, 1, key="b_page",
                               width=220)
        first = (min(int(page), pages) - 1) * ROWS_PER_PAGE
    if layers:
        for col, title in zip(st.columns(ROW_WIDTHS), ("#", "layer", "settings", "output · parameters", "")):
            col.caption(title)
    for i in range(first, min(first + ROWS_PER_PAGE, len(layers))):
        spec = layers[i]
        shape, params, formula, error = entry_numbers(desc.rows, i)
        number, kind_col, args_col, out_col, actions = st.columns(ROW_WIDTHS, vertical_alignment="bottom")
        number.markdown(f"**{i + 1}**")
        kind_key = f"b_{tag}_{i}_kind"
        kind_col.selectbox(f"layer {i + 1}", KINDS, label_visibility="collapsed", index=KINDS.index(spec.kind), key=kind_key, format_func=_label,
                           on_change=_on_kind, args=(text, i, kind_key), disabled=not editable,
                           )
        with args_col, st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
            if spec.kind == REPEAT:
                key = f"b_{tag}_{i}_n"
                st.number_input("N (times)", 1, 100, spec.get("n"), key=key, on_change=_on_arg,
                                args=(text, i, "n", "int", key), width=90, disabled=not editable)
                key = f"b_{tag}_{i}_body"
                st.text_input("layers repeated", format_network(spec.body), key=key, on_change=_on_body,
                              args=(text, i, key), disabled=not editable)
            else:
                given = dict(spec.args)
                shown = [a for a in LAYER_KINDS[spec.kind].args if a.required or a.name in given]
                more = [a for a in LAYER_KINDS[spec.kind].args if a not in shown]
                for arg in shown:
                    _arg_widget(spec, arg, f"b_{tag}_{i}_{arg.name}", _on_arg, (text, i, arg.name))
                if more:
                    with st.popover("more", help=", ".join(a.name for a in more) + " (at their defaults)"):
                        for arg in more:
                            _arg_widget(spec, arg, f"b_{tag}_{i}_{arg.name}", _on_arg, (text, i, arg.name))
        if shape:
            out_col.markdown(f"→ **{shape}** · {params} params", help=formula or None)
        elif error:
            out_col.markdown(":red[**impossible**]")
        with actions, st.container(horizontal=True, gap="small"):
            for icon, label, change in ((":material/arrow_upward:", "up", _move(i, i - 1)),
                                        (":material/arrow_downward:", "down", _move(i, i + 1)),
                                        (":material/content_copy:", "duplicate",
                                         lambda ls, i=i: ls[:i + 1] + [ls[i]] + ls[i + 1:]),
                                        (":material/delete:", "delete", lambda ls, i=i: ls[:i] + ls[i + 1:])):
                st.button("", icon=icon, key=f"b_{tag}_{i}_{label}", help=f"Move this layer {label}"
                          if label in ("up", "down") else f"{label.capitalize()} this layer",
                          on_click=_edit, args=(text, change), disabled=not editable, type="tertiary")
        if error:
            st.error(f"Row {i + 1}: " + plain(error), icon="⚠️")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        add_key = f"b_{tag}_addkind"
        st.selectbox("New layer", KINDS, index=0, key=add_key, format_func=_label, width=160,
                     disabled=not editable)
        st.button("Add layer", icon=":material/add:", on_click=_on_add, args=(text, add_key), disabled=not editable)


# -- the numbers ------------------------------------------------------------------------------------
def numbers_table(desc: Description) -> pd.DataFrame:
    """Every layer (repetitions written out): output, parameters and their formula, MACs, memory, RF, jump."""
    rows = desc.rows
    return pd.DataFrame({
        "": ["⚠️" if r.error else "" for r in rows],
        "#": [r.index + 1 for r in rows],
        "entry": [r.top_index + 1 for r in rows],
        "layer": [r.text for r in rows],
        "output (HxWxC)": [charts.shape_text(r.output_shape) if r.output_shape else "impossible" for r in rows],
        "params": pd.array([r.params for r in rows], dtype="Int64"),
        "formula": [r.error or (r.formula + (f"; {r.note}" if r.note else "")) for r in rows],
        "MACs": pd.array([r.macs for r in rows], dtype="Int64"),
        "activation (KiB)": [None if r.activation_bytes is None else r.activation_bytes / 1024 for r in rows],
        "RF (px)": [rf_text(r.rf) if r.rf is not None else "" for r in rows],
        "jump": [rf_text(r.jump) if r.jump is not None else "" for r in rows],
    })


NUMBERS_CONFIG = {
    "": st.column_config.TextColumn(width=30, help="⚠️: the impossible layer (its message is in the formula column)"),
    "#": st.column_config.NumberColumn(width="small", help="Layer, repetitions written out"),
    "entry": st.column_config.NumberColumn(width="small", help="Row of the table above it belongs to"),
    "params": st.column_config.NumberColumn(format="localized", help="Parameters (weights + biases)"),
    "formula": st.column_config.TextColumn(width="large", help="How the parameters are counted, or why the layer "
                                                                "is impossible"),
    "MACs": st.column_config.NumberColumn(format="localized", help="Multiply-accumulates for one image"),
    "activation (KiB)": st.column_config.NumberColumn(format="%.1f", help="The layer's output for one image"),
    "RF (px)": st.column_config.TextColumn(help="Receptive field in input pixels"),
    "jump": st.column_config.TextColumn(help="Distance in input pixels between neighbouring units"),
}


def totals(desc: Description) -> list[tuple[str, str, str]]:
    """(label, value, help) of the network's totals."""
    if not desc.ok:
        return [("Parameters", "?", "The network cannot be built yet: fix the highlighted row")]
    report = desc.report
    assert report is not None
    rf = report.receptive_field
    weighted = sum(1 for r in desc.rows if r.spec.kind in ("conv", "fc"))
    return [
        ("Parameters", f"{desc.params:,}", f"{human_count(desc.params)} weights and biases"),
        ("MACs", human_count(desc.macs or 0), f"{desc.macs or 0:,} multiply-accumulates for one image"),
        ("Activations", short_bytes(desc.activation_bytes or 0),
         f"{desc.activation_bytes or 0:,} bytes: every layer's output for one image"),
        ("Output", charts.shape_text(desc.output_shape or ()), f"Input {charts.shape_text(desc.input_shape)}"),
        ("Receptive field", f"{rf_text(rf['size'])} px" if isinstance(rf["size"], (int, list, tuple)) else
         rf_text(rf["size"]), f"Input pixels one unit of {rf['layer']} sees; jump {rf_text(rf['jump'])}"),
        ("Layers", str(len(desc.rows)), f"Layers once repetitions are written out; {weighted} with weights "
                                        "(conv and fc), as papers count depth"),
    ]


# -- links to the other pages ----------------------------------------------------------------------
DATASET_FOR_CHANNELS = {1: "mnist", 3: "cifar_standin"}


def train_query(text: str, shape: Sequence[int]) -> dict[str, str] | None:
    """The Training page's query that trains this network on the bundled data of its channels, or None."""
    c, h, _ = shape
    dataset = DATASET_FOR_CHANNELS.get(int(c))
    if dataset is None:
        return None
    query = {"tr_part": "Train", "tr_model": "custom", "tr_m_custom_layers": text, "tr_ds": dataset}
    native = 28 if dataset == "mnist" else 32
    if int(h) != native:
        query["tr_img"] = str(int(h))
    return query


def compare_query(text: str, shape: Sequence[int], other: str = "lenet5") -> dict[str, str]:
    """The Compare page's query: this network (square input) as model 1, ``other`` as model 2."""
    c, h, _ = shape
    return {"c1_model": "custom", "c1_layers": text, "c1_in_channels": str(int(c)), "c1_input_size": str(int(h)),
            "c2_model": other}


def inside_query(text: str, shape: Sequence[int]) -> dict[str, str]:
    """The Seeing inside page's query: this network, with the weights it was trained with on the Training page."""
    return {"in_model": "custom", "in_layers": text}


# -- challenges ------------------------------------------------------------------------------------
CHALLENGE = "b_ch"
LOADED = "_b_ch_loaded"  # the challenge whose start network was put in the builder
CH_RUN = "_b_ch_run"  # (challenge id, text, job id) of a training challenge's check: a train job
CH_VERDICT = "_b_ch_verdict"  # (challenge id, text, verdict) of the last check
NO_CHALLENGE = "none"


def load_network(text: str, shape: Sequence[int]) -> None:
    """Put ``text`` and its input in the builder (before its widgets are drawn, or from a callback)."""
    st.session_state[NET] = text
    for key, value in zip((C, H, W), shape):
        st.session_state[key] = int(value)


def pick_challenge() -> Any:
    """The challenge picker (bound to the URL as ``b_ch``); loads a newly picked challenge's start network.

    A link with both a challenge and a network (a student's attempt) keeps the network.
    """
    from cnnviz.challenges import CHALLENGES, get_challenge
    from cnnviz.ui.state import url_select

    ids = [NO_CHALLENGE] + [c.id for c in CHALLENGES]
    titles = {c.id: c.title for c in CHALLENGES} | {NO_CHALLENGE: "No challenge: free building"}
    picked = url_select("Challenge", CHALLENGE, ids, NO_CHALLENGE, format_func=titles.get,
                        help="A target to reach, checked automatically; a link can open one")
    before = st.session_state.get(LOADED)
    if picked != before:
        if picked != NO_CHALLENGE and (before is not None or NET not in st.query_params):
            challenge = get_challenge(picked)
            load_network(challenge.start, challenge.input_size)
        st.session_state[LOADED] = picked
    return None if picked == NO_CHALLENGE else get_challenge(picked)


def verdict_table(verdict: Any) -> pd.DataFrame:
    return pd.DataFrame({"result": ["met" if c.ok else "after training" if c.ok is None else "not met"
                                    for c in verdict.criteria],
                         "condition": [c.label for c in verdict.criteria],
                         "target": [c.target for c in verdict.criteria],
                         "your network": [c.measured for c in verdict.criteria]})


def show_verdict(verdict: Any) -> None:
    if verdict.error is not None:
        st.error("Not yet: " + plain(verdict.error), icon="⚠️")
        return
    st.dataframe(verdict_table(verdict), hide_index=True)
    if verdict.passed:
        st.success("Target reached: well done!", icon=":material/emoji_events:")
    elif verdict.needs_training:
        st.info("The other conditions are checked; the accuracy needs a training run.")
    else:
        st.warning("Not there yet: the conditions marked 'not met' miss the target.")


def challenge_panel(challenge: Any) -> None:
    """Prompt, check (training ones train with progress), hint and the answer of ``challenge``."""
    from cnnviz import jobs
    from cnnviz.ui.board import send_to_board, short
    from cnnviz.ui.jobs import job_queue_message
    from cnnviz.ui.owner import owner_key

    st.markdown(plain(challenge.prompt))
    text = st.session_state.get(NET, "")
    label = "Check (trains it, about a minute)" if challenge.needs_training else "Check"
    run_state = st.session_state.get(CH_RUN)
    view = None if run_state is None else jobs.get(run_state[2])
    busy = view is not None and not view.ended
    with st.container(horizontal=True):
        if st.button(label, type="primary", icon=":material/task_alt:", disabled=busy, key="b_check"):
            verdict = challenge.check(text)
            st.session_state[CH_VERDICT] = (challenge.id, text, verdict)
            if challenge.needs_training and verdict.error is None and all(c.ok for c in verdict.criteria
                                                                          if c.ok is not None):
                job_id = jobs.submit("train", {"config": challenge.train_config(text).to_dict(), "save": False},
                                     owner=owner_key(), label=f"challenge {challenge.id}",
                                     lease_s=max(float(st.get_option("server.disconnectedSessionTTL")), 10.0))
                st.session_state[CH_RUN] = (challenge.id, text, job_id)
        with st.popover("Hint", icon=":material/lightbulb:"):
            st.markdown(plain(challenge.hint))
        with st.popover("Answer", icon=":material/visibility:"):
            st.code(challenge.solution, language=None, wrap_lines=True)
            st.button("Put the answer in the builder", key="b_answer", on_click=load_network,
                      args=(challenge.solution, challenge.input_size))

    @st.fragment(run_every=1.0 if busy else None)
    def progress() -> None:
        state = st.session_state.get(CH_RUN)
        if state is None or state[0] != challenge.id:
            return
        run = jobs.get(state[2])
        if run is None:
            return
        p = run.last("progress")
        if run.state == "queued":
            st.info(job_queue_message(run), icon=":material/hourglass_top:")
        elif not run.ended:
            epoch, epochs = (p["epoch"], p["epochs"]) if p else (0.0, (run.last("start") or {}).get("epochs", 1))
            st.progress(min(1.0, epoch / max(1, epochs)),
                        text=f"Training your network on the bundled MNIST: epoch {epoch:.1f} / {epochs}")
        elif busy:
            st.rerun()  # one full rerun shows the verdict and stops this polling

    progress()
    kept = st.session_state.get(CH_VERDICT)
    if kept is None or kept[0] != challenge.id:
        return
    _, checked, verdict = kept
    state = st.session_state.get(CH_RUN)
    run = jobs.get(state[2]) if state is not None and state[0] == challenge.id and state[1] == checked else None
    if run is not None and run.ended:
        if (run.result or {}).get("test_accuracy") is not None:
            verdict = challenge.check(checked, run.result["test_accuracy"])
        elif run.state == "failed":
            st.error("The training run failed: " + plain(str(run.error)), icon="⚠️")
    if checked != text:
        st.caption("This is the check of an earlier version of the network: press Check again.")
    show_verdict(verdict)
    if verdict.error is None:
        met = sum(c.ok is True for c in verdict.criteria)
        trained = run.result if run is not None and run.state == "finished" else None  # the job's result dict
        send_to_board({"kind": "challenge", "title": short(f"{challenge.title}: {checked}"),
                       "params": cached_description(checked, tuple(challenge.input_size)).params,
                       "accuracy": None if trained is None else trained.get("test_accuracy"),
                       "result": "target reached" if verdict.passed else
                       f"{met} of {len(verdict.criteria)} conditions met"}, key="challenge")


# -- export ----------------------------------------------------------------------------------------
ONNX = "_b_onnx"  # (settings, bytes) of the last ONNX export


def zoo_settings(text: str, desc: Description) -> dict[str, Any] | None:
    """The zoo model ``custom``'s settings for this network (square inputs only: the zoo's input is a side)."""
    c, h, w = desc.input_shape
    if h != w:
        return None
    out = desc.output_shape or ()
    settings: dict[str, Any] = {"layers": text, "in_channels": c, "input_size": h}
    if len(out) == 1:
        settings["num_classes"] = out[0]
    return settings


def show_export(text: str, desc: Description) -> None:
    """The text as a download, the PyTorch code that builds the network, and ONNX on demand."""
    from cnnviz import export

    st.download_button("The network as text (.txt)", data=text, file_name="network.txt", mime="text/plain",
                       icon=":material/download:", on_click="ignore")
    settings = zoo_settings(text, desc)
    if settings is None:
        st.caption("PyTorch and ONNX export take a square input (height = width).")
        return
    code = export.zoo_source("custom", settings)
    st.markdown("**PyTorch code** that builds this network: plain PyTorch, it runs without cnnviz, and the "
                "weights you train here load into it.")
    st.code(code, language="python")
    st.download_button("PyTorch code (.py)", data=code, file_name="network.py", mime="text/x-python",
                       icon=":material/code:", on_click="ignore")
    if desc.params > export.MAX_ONNX_PARAMS:
        st.caption(f"ONNX export here is limited to {human_count(export.MAX_ONNX_PARAMS)} parameters.")
        return
    kept = st.session_state.get(ONNX)
    if kept is None or kept[0] != settings:
        if st.button("Export to ONNX", icon=":material/deployed_code:", key="b_onnx",
                     help="Builds the network with random weights and exports it: a few seconds"):
            with st.spinner("Exporting to ONNX ..."):
                st.session_state[ONNX] = kept = (settings, export.onnx_bytes("custom", settings))
        else:
            return
    st.download_button(f"network.onnx ({human_bytes(len(kept[1]))}, random weights)", data=kept[1],
                       file_name="network.onnx", mime="application/octet-stream", icon=":material/download:",
                       on_click="ignore")


# -- from the explorer -----------------------------------------------------------------------------
def open_in_builder(zoo_name: str, changed: dict[str, Any]) -> None:
    """The explorer's way into the builder: a link with the configured model's text, or why there is none."""
    from cnnviz.ui.home import COURSE, link

    page = next(p for pages in COURSE.values() for p in pages if p.stem == "builder")
    written = zoo_network(zoo_name, tuple(sorted(changed.items())))
    if isinstance(written, str):
        st.caption(plain(written.replace("builder's grammar", "network builder's grammar")))
        return
    link(page, f"Open {zoo_name} in the network builder", **query_for(written.text, written.input_size))
