"""Practice: answers come from the engine, and a prediction is checked right or wrong for each kind of number."""
from __future__ import annotations

import pytest

from cnnviz import exercises as ex
from cnnviz import lab
from cnnviz.errors import ConfigError


def test_course_notes_answers_are_computed_by_the_engine() -> None:
    """The course notes' own answers, reached through the engine (not typed into the cards)."""
    assert ex.EXERCISES["notes-output"].answers() == {"output": (32, 32, 10)}
    assert ex.EXERCISES["notes-params"].answers() == {"params": 760}
    assert ex.EXERCISES["alexnet-conv1"].answers() == {"output": (55, 55, 96), "params": 34_944}
    assert ex.EXERCISES["alexnet-pool1"].answers() == {"output": (27, 27, 96), "params": 0}
    assert ex.EXERCISES["seven-s1"].answers()["output"][:2] == (5, 5)
    assert ex.EXERCISES["seven-s2"].answers()["output"][:2] == (3, 3)
    assert ex.EXERCISES["seven-pad"].answers()["output"][:2] == (7, 7)
    assert ex.EXERCISES["vgg-conv"].answers()["params"] == 36_928


@pytest.mark.parametrize("card", list(ex.EXERCISES.values()), ids=list(ex.EXERCISES))
def test_every_card_asks_what_the_engine_computes(card: ex.Exercise) -> None:
    numbers = lab.layer_numbers(card.layer)
    answers = card.answers()
    assert set(answers) == set(card.asks) and set(card.asks) <= set(ex.KINDS)
    if "params" in answers:
        assert answers["params"] == numbers.params
    assert card.question().startswith(f"Input {card.layer.height}x{card.layer.width}x{card.layer.channels}")
    for kind, truth in answers.items():  # the true value written as the app shows it is right
        shown = "x".join(map(str, truth)) if isinstance(truth, tuple) else f"{truth:,}"
        assert ex.check(kind, shown, truth).right


@pytest.mark.parametrize("kind, guess, truth, right", [
    ("output", "32x32x10", (32, 32, 10), True),
    ("output", "32 × 32 × 10", (32, 32, 10), True),
    ("output", "32, 32, 10", (32, 32, 10), True),
    ("output", "28x28x10", (32, 32, 10), False),
    ("output", "32x32x3", (32, 32, 10), False),
    ("params", "760", 760, True),
    ("params", "750", 760, False),
    ("params", "34,944", 34_944, True),
    ("params", "34.9K", 34_944, True),
    ("params", "35K", 34_944, True),
    ("params", "34.8K", 34_944, False),
    ("macs", "105,415,200", 105_415_200, True),
    ("macs", "105.4M", 105_415_200, True),
    ("macs", "105M", 105_415_200, True),
    ("macs", "106M", 105_415_200, False),
    ("macs", "105,415,201", 105_415_200, False),
    ("rf", "5", 5, True),
    ("rf", "5x5", 5, True),
    ("rf", "3", 5, False),
    ("rf", "31x35", (31, 35), True),
    ("rf", "31", (31, 35), False),
])
def test_check_marks_right_and_wrong(kind: str, guess: str, truth: object, right: bool) -> None:
    assert ex.check(kind, guess, truth).right is right


@pytest.mark.parametrize("kind, guess", [("params", "lots"), ("params", "7.5"), ("params", "1" * 60),
                                         ("output", "big"), ("output", ""), ("rf", "-3"), ("nope", "1")])
def test_a_guess_that_is_not_a_number_gets_a_message(kind: str, guess: str) -> None:
    with pytest.raises(ConfigError):
        ex.check(kind, guess, 5)


def test_score_counts_right_answers() -> None:
    assert ex.score({("a", "params"): True, ("a", "output"): False, ("b", "macs"): True}, total=10) == {
        "right": 2, "answered": 3, "total": 10, "percent": 66.7}
    assert ex.score([]) == {"right": 0, "answered": 0, "total": 0, "percent": 0.0}
    assert ex.QUESTIONS == sum(len(c.asks) for c in ex.EXERCISES.values())
