"""Every challenge: its start does not reach the target, its reference solution does."""
from __future__ import annotations

import os

import pytest

from cnnviz.challenges import CHALLENGES, LENET5_ACCURACY, LENET5_PARAMS, get_challenge, train_and_check
from cnnviz.builder import describe
from cnnviz.train import TrainingRun
from cnnviz.zoo.custom import LENET5_TEXT

SLOW = pytest.mark.skipif(os.environ.get("CNNVIZ_SLOW_TESTS") != "1", reason="trains on MNIST: set CNNVIZ_SLOW_TESTS=1")


@pytest.mark.parametrize("challenge", CHALLENGES, ids=lambda c: c.id)
def test_the_start_is_not_the_answer_and_the_solution_is(challenge):
    start = challenge.check(challenge.start)
    assert not start.passed
    verdict = challenge.check(challenge.solution, accuracy=1.0 if challenge.needs_training else None)
    assert verdict.error is None and verdict.passed, verdict
    if challenge.needs_training:
        untrained = challenge.check(challenge.solution)
        assert untrained.needs_training and not untrained.passed
        low = challenge.check(challenge.solution, accuracy=challenge.accuracy - 0.001)
        assert not low.passed and low.criteria[-1].ok is False
    assert challenge.title and challenge.prompt and challenge.hint


def test_ids_are_unique_and_found():
    assert len({c.id for c in CHALLENGES}) == len(CHALLENGES) == 5
    assert get_challenge("exact-760").solution == "conv(10,5,padding=same)"
    with pytest.raises(KeyError, match="exact-760"):
        get_challenge("nope")


def test_the_broken_network_is_broken_at_c5():
    c = get_challenge("fix-broken")
    verdict = c.check(c.start)
    assert verdict.error == ("layer 7 conv(120,5) at character 54: kernel 5 larger than the input 4x4")


def test_criteria_measure_what_they_say():
    c = get_challenge("exact-760")
    v = c.check("conv(10,3,padding=same)")
    assert [(x.label, x.measured, x.ok) for x in v.criteria] == [
        ("output", "32 x 32 x 10", True), ("parameters", "280", False)]
    rf = get_challenge("receptive-field")
    v = rf.check("14*(conv(4,3,padding=1))")  # stride 1: 1 + 2 x 14 = 29 px, but 14 layers
    assert [x.ok for x in v.criteria] == [True, True, False] and v.criteria[1].measured == "29 px"
    v = rf.check("conv(4,5,stride=2) maxpool(2) conv(4,3,stride=2)")
    assert v.criteria[0].ok is False and "maxpool" in v.criteria[0].measured
    halve = get_challenge("halve-lenet")
    assert halve.check(LENET5_TEXT, 0.99).criteria[1].measured == f"{LENET5_PARAMS:,}"
    assert describe(LENET5_TEXT, halve.input_size).params == LENET5_PARAMS
    assert halve.accuracy == pytest.approx(LENET5_ACCURACY - 0.01)


def test_training_recipe():
    cfg = get_challenge("halve-lenet").train_config("fc(10)")
    assert (cfg.model, cfg.settings, cfg.dataset, cfg.image_size) == ("custom", {"layers": "fc(10)"}, "mnist", 32)
    assert get_challenge("small-mnist").train_config("fc(10)").image_size is None


@SLOW
@pytest.mark.parametrize("challenge", [c for c in CHALLENGES if c.needs_training], ids=lambda c: c.id)
def test_training_solutions_reach_the_target(challenge):
    verdict = train_and_check(challenge, challenge.solution, device="cpu")
    assert verdict.passed, verdict


@SLOW
def test_lenet5_baseline_accuracy():
    c = get_challenge("halve-lenet")
    run = TrainingRun(c.train_config(LENET5_TEXT, device="cpu")).run()
    assert run.result.test_accuracy >= LENET5_ACCURACY - 0.005
