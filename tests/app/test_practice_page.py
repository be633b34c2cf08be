"""AppTest: practice mode marks a wrong prediction wrong and a right one right, for every kind of number, on the
Layer lab, the explorer and the exercise cards; the hidden numbers stay hidden until then."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

import cnnviz
from cnnviz import exercises
from tests.app.pages import open_page

ROOT = Path(__file__).resolve().parents[2]
LABELS = exercises.KINDS


def _box(at: AppTest, label: str):
    return next(t for t in at.text_input if t.label.startswith(label))


def _answer(at: AppTest, label: str, guess: str) -> tuple[list[str], list[str]]:
    _box(at, label).set_value(guess).run()
    assert not at.exception, [e.message for e in at.exception]
    return [s.value for s in at.success], [e.value for e in at.error]


def _layer_truths() -> dict[str, str]:
    """The Layer lab's default layer (32x32x3, ten 5x5 filters, stride 1, pad 2) computed with PyTorch alone."""
    conv = nn.Conv2d(3, 10, 5, 1, 2)
    d, h, w = conv(torch.zeros(1, 3, 32, 32)).shape[1:]
    return {"output": f"{h}x{w}x{d}", "params": str(sum(p.numel() for p in conv.parameters())),
            "macs": str(h * w * d * 5 * 5 * 3), "rf": "5"}


@pytest.mark.parametrize("kind, wrong", [("output", "28x28x10"), ("params", "750"), ("macs", "1.2M"), ("rf", "3")])
def test_layer_lab_marks_each_kind_of_prediction(kind: str, wrong: str) -> None:
    at = open_page(str(ROOT / "pages" / "layer_lab.py"), 60, ll_predict=1)
    assert not at.metric, "predict first hides the computed numbers"
    assert not at.latex, "and the formulas"
    right = _layer_truths()[kind]
    ok, bad = _answer(at, LABELS[kind], wrong)
    assert not ok and bad and "Not quite" in bad[0] and right.replace(",", "") in bad[0].replace(",", "")
    assert at.latex, "the formula, filled in, follows the answer"
    ok, bad = _answer(at, LABELS[kind], right)
    assert ok and ok[0].startswith("Right") and not bad


def test_layer_lab_without_the_switch_shows_the_numbers() -> None:
    at = open_page(str(ROOT / "pages" / "layer_lab.py"), 60)
    assert {m.label for m in at.metric} >= {"Output volume", "Parameters"}
    assert not [t for t in at.text_input if t.label in LABELS.values()]


def test_a_rounded_count_is_right_when_it_rounds_to_the_truth() -> None:
    at = open_page(str(ROOT / "pages" / "layer_lab.py"), 60, ll_predict=1)
    macs = int(_layer_truths()["macs"])
    ok, _ = _answer(at, LABELS["macs"], f"{macs / 1e3:.0f}K")
    assert ok
    ok, bad = _answer(at, LABELS["macs"], f"{macs / 1e3 + 1:.0f}K")
    assert bad and not ok


def test_explorer_marks_each_kind_and_then_shows_the_numbers() -> None:
    at = open_page(str(ROOT / "pages" / "explorer.py"), 90, ex_model="lenet5", ex_predict=1)
    assert not at.metric, "predict first hides the totals"
    report = cnnviz.summarize("lenet5")
    last = report.final_feature_layer()
    c, h, w = last.output_shape
    truths = {"output": f"{h}x{w}x{c}", "params": str(report.totals.params), "macs": str(report.totals.macs),
              "rf": str(report.receptive_field["size"])}
    wrongs = {"output": f"{h + 1}x{w}x{c}", "params": str(report.totals.params + 1),
              "macs": str(report.totals.macs - 1), "rf": str(report.receptive_field["size"] + 2)}
    labels = {"output": "Output of", "params": LABELS["params"], "macs": LABELS["macs"], "rf": "Receptive field of"}
    for n, kind in enumerate(truths, 1):
        ok, bad = _answer(at, labels[kind], wrongs[kind])
        assert len(bad) == 1 and "Not quite" in bad[0], kind
        ok, bad = _answer(at, labels[kind], truths[kind])
        assert len(ok) == n and not bad, kind
    assert {m.label for m in at.metric} >= {"Parameters"}, "every prediction made: the totals show"


def test_exercise_cards_score_the_answers() -> None:
    at = open_page(str(ROOT / "pages" / "practice.py"), 60)
    card = exercises.EXERCISES["notes-output"]
    truth = card.answers()["output"]
    boxes = [t for t in at.text_input if t.label == LABELS["output"]]
    boxes[0].set_value("x".join(map(str, truth))).run()
    boxes = [t for t in at.text_input if t.label == LABELS["output"]]
    boxes[1].set_value("1x1x1").run()  # the next card that asks an output size, answered wrong
    assert len(at.success) == 1 and len(at.error) == 1
    assert any("Score: 1 / 2 right" in m.value for m in at.markdown)


def test_a_prediction_that_is_not_a_number_gets_a_message() -> None:
    at = open_page(str(ROOT / "pages" / "layer_lab.py"), 60, ll_predict=1)
    _box(at, LABELS["params"]).set_value("<b>lots</b>").run()
    assert not at.exception and not at.success and not at.error
    assert at.warning and "whole number" in at.warning[0].value
