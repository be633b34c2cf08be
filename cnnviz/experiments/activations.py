"""Sigmoid vs tanh vs ReLU in the same LeNet-5: saturating neurons stop the gradients."""
from __future__ import annotations

from typing import Any

from cnnviz.experiments.common import Emit, Planned, Runner, check, load
from cnnviz.train.config import TrainConfig
from cnnviz.zoo import build

TITLE = "Sigmoid vs tanh vs ReLU"
RUNS = ("sigmoid", "tanh", "relu")
LESSON = "ReLU and tanh each beat sigmoid by at least 5 points"
NOTES = ("The course notes: sigmoid neurons saturate and kill gradients, so the network barely learns; ReLU does "
         "not saturate for positive inputs. The same LeNet-5 (ReLU-era variant, max pooling, no batch norm) with "
         "each activation, the same data, epochs and optimiser (SGD, momentum 0.9, learning rate 0.05). The "
         "gradient norms per layer, at initialisation and after every epoch, show why: the sigmoid net's first "
         "layers get the smallest gradients.")
SIZES = {"tiny": dict(n_train=64, epochs=1), "quick": dict(n_train=2000, epochs=2), "full": dict(n_train=None, epochs=10)}


def run(seed: int, size: str, device: str, emit: Emit) -> dict[str, Any]:
    dev = check(seed, size, device)
    data = load("mnist", SIZES[size]["n_train"], dev)
    cfg = TrainConfig(optimizer="sgd", lr=0.05, momentum=0.9, schedule="none", batch_size=32,
                      epochs=SIZES[size]["epochs"], augment="none", track_grad_norms=True)

    def builder(act: str):  # noqa: ANN202 - a model factory
        return lambda: build("lenet5", in_channels=1, input_size=28, num_classes=10, variant="modern",
                             batch_norm=False, activation=act)

    return {"runs": Runner([Planned(a, builder(a), data, cfg) for a in RUNS], emit, seed).train_all()}


def lesson(result: dict[str, Any]) -> tuple[bool, str]:
    r = result["runs"]
    s, t, u = (r[k]["test_accuracy"] for k in RUNS)
    shown = t - s >= 0.05 and u - s >= 0.05
    return shown, (f"Test accuracy: sigmoid {s:.1%}, tanh {t:.1%} ({(t - s) * 100:+.1f} points), ReLU {u:.1%} "
                   f"({(u - s) * 100:+.1f} points); each needs at least +5 points over sigmoid.")
