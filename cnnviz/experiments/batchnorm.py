"""Batch norm on / off in the same small VGG started from small weights."""
from __future__ import annotations

from typing import Any

from cnnviz.experiments.common import Emit, Planned, Runner, check, load
from cnnviz.train.config import TrainConfig
from cnnviz.zoo import build

TITLE = "Batch norm on / off"
RUNS = ("no_bn", "bn")
LESSON = "batch norm wins by at least 5 points"
NOTES = ("The course notes: batch normalization improves gradient flow, allows higher learning rates and reduces "
         "the strong dependence on initialization. The same small VGG (4 convolutions), both started from small "
         "random weights (normal, std 0.01), the same data, epochs and optimiser (SGD, momentum 0.9, learning rate "
         "0.05): without batch norm the signal shrinks layer by layer and the net stays near chance for long; with "
         "batch norm every layer's output is re-normalised and it learns at once.")
SIZES = {"tiny": dict(n_train=64, epochs=1), "quick": dict(n_train=2000, epochs=1), "full": dict(n_train=None, epochs=10)}


def run(seed: int, size: str, device: str, emit: Emit) -> dict[str, Any]:
    dev = check(seed, size, device)
    data = load("mnist", SIZES[size]["n_train"], dev)
    cfg = TrainConfig(optimizer="sgd", lr=0.05, momentum=0.9, schedule="none", init="normal", batch_size=32,
                      epochs=SIZES[size]["epochs"], augment="none", track_grad_norms=True)

    def builder(bn: bool):  # noqa: ANN202 - a model factory
        return lambda: build("tinyvgg", in_channels=1, input_size=28, num_classes=10, width=8, batch_norm=bn)

    plan = [Planned(label, builder(bn), data, cfg) for label, bn in zip(RUNS, (False, True))]
    return {"runs": Runner(plan, emit, seed).train_all()}


def lesson(result: dict[str, Any]) -> tuple[bool, str]:
    off, on = (result["runs"][k]["test_accuracy"] for k in RUNS)
    return on - off >= 0.05, (f"Test accuracy without batch norm {off:.1%}, with batch norm {on:.1%} "
                              f"({(on - off) * 100:+.1f} points; needs at least +5).")
