"""Dropout on / off in the same MLP on few images: dropout narrows the train-test gap."""
from __future__ import annotations

from typing import Any

import torch

from cnnviz.experiments.common import Emit, Planned, Runner, check, load
from cnnviz.train.config import TrainConfig
from cnnviz.zoo import build

TITLE = "Dropout on / off"
RUNS = ("no_dropout", "dropout")
LESSON = "dropout narrows the train-test accuracy gap by at least 2 points and does not lose test accuracy"
NOTES = ("The course notes: dropout randomly drops nodes during training to regulate overfitting, more effective "
         "for smaller datasets. The same MLP (two hidden layers of 512) on only 1,000 digits, a fifth of them with a "
         "wrong label on purpose (the same ones for both runs): the kind of data where memorising hurts (Arpit et "
         "al. 2017 show dropout holds off memorising noise). Same epochs and optimiser (Adam, learning rate 1e-3); "
         "dropout 0.5 after each hidden layer (Srivastava et al. 2014) or none. Training accuracy is measured "
         "against the given labels with dropout off; the test labels are all correct.")
NOISE = 0.2  # the share of training labels replaced by a random wrong one
SIZES = {"tiny": dict(n_train=64, epochs=1), "quick": dict(n_train=1000, epochs=30), "full": dict(n_train=1000, epochs=60)}


def gap(run: dict[str, Any]) -> float:
    return run["train_accuracy"] - run["test_accuracy"]


def run(seed: int, size: str, device: str, emit: Emit) -> dict[str, Any]:
    dev = check(seed, size, device)
    data = load("mnist", SIZES[size]["n_train"], dev)
    x, y = data["train"]
    gen = torch.Generator().manual_seed(0)  # the same wrong labels at every seed: the data is part of the lesson
    wrong = torch.rand(len(y), generator=gen) < NOISE
    shift = torch.randint(1, 10, (len(y),), generator=gen)
    data["train"] = (x, torch.where(wrong.to(y.device), (y + shift.to(y.device)) % 10, y))
    cfg = TrainConfig(optimizer="adam", lr=1e-3, schedule="none", batch_size=64, epochs=SIZES[size]["epochs"],
                      augment="none")

    def builder(p: float):  # noqa: ANN202 - a model factory
        return lambda: build("mlp", in_channels=1, input_size=28, num_classes=10, hidden=512, depth=2, dropout=p)

    plan = [Planned(label, builder(p), data, cfg) for label, p in zip(RUNS, (0.0, 0.5))]
    return {"runs": Runner(plan, emit, seed).train_all()}


def lesson(result: dict[str, Any]) -> tuple[bool, str]:
    off, on = (result["runs"][k] for k in RUNS)
    narrowed = gap(off) - gap(on)
    kept = on["test_accuracy"] >= off["test_accuracy"]
    return narrowed >= 0.02 and kept, (
        f"Train-test gap without dropout {gap(off) * 100:.1f} points, with dropout {gap(on) * 100:.1f} points "
        f"(narrowed by {narrowed * 100:.1f}; needs at least 2); test accuracy {off['test_accuracy']:.1%} without, "
        f"{on['test_accuracy']:.1%} with dropout ({'not lost' if kept else 'lost'}).")
