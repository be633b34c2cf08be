"""Practice mode: "predict first" on the Layer lab and the explorer, and the exercise cards.

With the switch on, a page hides its computed numbers; the student types a prediction for each and
then sees right or wrong, with the formula filled in. Every checked prediction counts towards the
session's practice score, which :func:`practice_score` hands to whoever wants it (the class board).
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import streamlit as st

from cnnviz import exercises, lab
from cnnviz.analysis import Report
from cnnviz.errors import ConfigError
from cnnviz.ui.charts import shape_text
from cnnviz.ui.state import plain, url_toggle

RESULTS = "_practice_results"  # {question id: right?}: the last answer to each question counts
Formula = tuple[str, str]  # (caption, LaTeX)


def predict_first(key: str) -> bool:
    """The "predict first" switch, bound to the page's URL under ``key`` (a lecturer can link to it)."""
    return url_toggle("Predict first", key, False,
                      help="Hide the computed numbers until you have entered your own prediction")


def practice_score() -> dict[str, int | float]:
    """This session's practice score: ``{"right", "answered", "total", "percent"}`` over every checked prediction."""
    return exercises.score(st.session_state.get(RESULTS, {}))


def _digest(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:10]


def ask(question: str, kind: str, truth: object, formulas: Sequence[Formula] = (), label: str | None = None) -> bool:
    """One prediction: a text box; once answered, right or wrong with the true value and the formulas.

    ``question`` identifies what is asked (a new layer is a new question, with an empty box). Returns whether
    it has been answered.
    """
    key = f"_pr_{_digest(question, kind)}"
    guess = st.text_input(label or exercises.KINDS[kind], key=key, max_chars=exercises.MAX_GUESS,
                          placeholder="your prediction, then Enter")
    if not guess.strip():
        return False
    try:
        verdict = exercises.check(kind, guess, truth)
    except ConfigError as exc:
        st.warning(plain(exc), icon=":material/edit:")
        return False
    st.session_state.setdefault(RESULTS, {})[key] = verdict.right
    if verdict.right:
        st.success(f"Right: {plain(verdict.truth)}", icon=":material/check_circle:")
    else:
        st.error(f"Not quite: you said {plain(verdict.guess)}, it is {plain(verdict.truth)}", icon=":material/cancel:")
    for caption, latex in formulas:
        st.caption(caption)
        st.latex(latex)
    return True


# -- the Layer lab ---------------------------------------------------------------------------------
def _kind_of(caption: str) -> str:
    """Which number a formula of :func:`cnnviz.lab.formulas` leads to, from its caption."""
    if caption.startswith("Parameters"):
        return "params"
    if caption.startswith("Multiply"):
        return "macs"
    return "output"


def rf_formula(cfg: lab.LayerConfig, numbers: lab.LayerNumbers) -> Formula:
    """A single layer sees the span of its filter: F' = d(F-1)+1."""
    if cfg.dilation > 1:
        return ("One unit sees the span of its dilated filter",
                f"F' = d(F-1)+1 = {cfg.dilation}({cfg.kernel}-1)+1 = {numbers.receptive_field}")
    return ("One unit sees exactly its filter's window", f"RF = F = {numbers.receptive_field}")


def predict_layer(cfg: lab.LayerConfig, numbers: lab.LayerNumbers) -> None:
    """The Layer lab's numbers as predictions: output volume, parameters, MACs (convolutions) and receptive field."""
    by_kind: dict[str, list[Formula]] = {"output": [], "params": [], "macs": [], "rf": [rf_formula(cfg, numbers)]}
    for caption, latex in lab.formulas(cfg, numbers):
        by_kind[_kind_of(caption)].append((caption, latex))
    d, h, w = numbers.out_shape
    truths = {"output": (h, w, d), "params": numbers.params, "macs": numbers.macs, "rf": numbers.receptive_field}
    kinds = ["output", "params", "macs", "rf"] if cfg.kind == "conv" else ["output", "params", "rf"]
    st.info("Predict first: type your answer to see whether it is right, and how it is computed.",
            icon=":material/psychology:")
    for kind in kinds:
        ask(repr(cfg), kind, truths[kind], by_kind[kind])


def exercise_section() -> None:
    """Exercise cards: the course notes' worked examples and new ones, each checked, with the score so far."""
    st.markdown("Work out each number, type it and press Enter. Counts may be written in full (34,944) or "
                "rounded with K, M or G (1.85G).")
    score_box = st.empty()  # filled last, so that it counts the answers checked in this run
    cards = list(exercises.EXERCISES.values())
    columns = st.columns(2, gap="large")
    for i, card in enumerate(cards):
        with columns[i % 2].container(border=True):
            st.markdown(f"**{card.title}** · *{card.source}*")
            st.markdown(card.question())
            answers = card.answers()
            numbers = lab.layer_numbers(card.layer)
            formulas: dict[str, list[Formula]] = {"output": [], "params": [], "macs": [],
                                                  "rf": [rf_formula(card.layer, numbers)]}
            for caption, latex in lab.formulas(card.layer, numbers):
                formulas[_kind_of(caption)].append((caption, latex))
            for kind in card.asks:
                ask(card.key, kind, answers[kind], formulas[kind])
    score = practice_score()
    score_box.markdown(f"**Score: {score['right']} / {score['answered']} right** ({exercises.QUESTIONS} questions "
                       "on the cards; every prediction checked on the Layer lab and the explorer counts too).")


# -- the explorer ----------------------------------------------------------------------------------
def _tex_int(n: int) -> str:
    return f"{n:,}".replace(",", "{,}")


def _tex_name(name: str) -> str:
    return "\\text{" + "".join("\\" + ch if ch in "_#$%&{}" else ch for ch in name) + "}"


def _sum_formula(report: Report, attr: str, total: int, symbol: str) -> Formula:
    """``total`` as the sum over the layers that contribute to it (the largest five written out)."""
    parts = sorted(((getattr(r, attr) or 0, r.name) for r in report.layers if getattr(r, attr)), reverse=True)
    terms = [f"{_tex_int(v)}_{{{_tex_name(n)}}}" for v, n in parts[:5]]
    if len(parts) > 5:
        terms.append(f"{_tex_int(sum(v for v, _ in parts[5:]))}_{{\\text{{{len(parts) - 5} more}}}}")
    return (f"The sum over the {len(parts)} layers that have them (the five largest named)",
            f"\\text{{{symbol}}} = {' + '.join(terms)} = {_tex_int(total)}")


def predict_network(report: Report) -> bool:
    """The explorer's totals as predictions: the last feature map, parameters, MACs and receptive field.

    Returns whether every prediction has been made (until then the page keeps its other numbers hidden).
    """
    st.info("Predict first: type your answers to see the network's numbers, and how they add up.",
            icon=":material/psychology:")
    question = (report.model, report.input_shape, report.totals.params, report.totals.macs)
    rf = report.receptive_field
    last = report.final_feature_layer()
    answered = []
    c1, c2 = st.columns(2, gap="large")
    with c1:
        if last is not None:
            jump = rf["jump"]
            answered.append(ask(repr(question), "output", tuple(last.output_shape[1:]) + (last.output_shape[0],),
                [(f"Every stride shrinks the map: the total stride (jump) up to {last.name} is {jump}",
                  f"{shape_text(report.input_shape)} \\to {shape_text(last.output_shape)}")],
                label=f"Output of {last.name}, the last feature map (H x W x C)"))
        answered.append(ask(repr(question), "params", report.totals.params,
            [_sum_formula(report, "params", report.totals.params, "params")]))
    with c2:
        answered.append(ask(repr(question), "macs", report.totals.macs, [_sum_formula(report, "macs", report.totals.macs, "MACs")]))
        if isinstance(rf["size"], (int, list)):
            answered.append(ask(repr(question), "rf", rf["size"],
                [("Each layer adds (F - 1) times the jump of the layers before it",
                  f"r_l = r_{{l-1}} + (F_l - 1)\\, j_{{l-1}},\\quad r_{{{_tex_name(last.name)}}} = {rf['size']}, "
                  f"\\; j = {rf['jump']}")],
                label=f"Receptive field of {last.name} (pixels on a side)"))
        else:
            st.caption(f"Receptive field: {rf['size'] or 'unknown'} for this network, nothing to predict.")
    return all(answered)
