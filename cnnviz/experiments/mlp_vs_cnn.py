"""The Keras MLP vs LeNet-5 on the same digits: weight sharing wins with fewer weights."""
from __future__ import annotations

from typing import Any

from cnnviz.experiments.common import Emit, Planned, Runner, check, load
from cnnviz.train.config import TrainConfig
from cnnviz.zoo import build

TITLE = "MLP vs LeNet-5"
RUNS = ("mlp", "lenet5")
LESSON = "LeNet-5 beats the MLP with fewer parameters"
NOTES = ("The Keras example MLP (Flatten, Dense 512 ReLU, Dropout 0.2, Dense 10) against LeNet-5 (ReLU, max "
         "pooling), which shares weights over local receptive fields. Same digits, epochs and optimiser (Adam, "
         "learning rate 1e-3, batch 32). The Keras example fits 5 epochs of 60,000 digits; on 2,000 digits both "
         "nets get 10 epochs, so that LeNet-5, which learns more slowly at first, is past its start.")
SIZES = {"tiny": dict(n_train=64, epochs=1), "quick": dict(n_train=2000, epochs=10), "full": dict(n_train=None, epochs=5)}


def run(seed: int, size: str, device: str, emit: Emit) -> dict[str, Any]:
    dev = check(seed, size, device)
    data = load("mnist", SIZES[size]["n_train"], dev)
    cfg = TrainConfig(optimizer="adam", lr=1e-3, schedule="none", batch_size=32, epochs=SIZES[size]["epochs"],
                      augment="none")
    shape = dict(in_channels=1, input_size=28, num_classes=10)
    plan = [Planned("mlp", lambda: build("mlp", **shape), data, cfg),
            Planned("lenet5", lambda: build("lenet5", variant="modern", batch_norm=False, **shape), data, cfg)]
    return {"runs": Runner(plan, emit, seed).train_all()}


def lesson(result: dict[str, Any]) -> tuple[bool, str]:
    mlp, cnn = (result["runs"][k] for k in RUNS)
    better = cnn["test_accuracy"] > mlp["test_accuracy"]
    smaller = cnn["params"] < mlp["params"]
    return better and smaller, (
        f"LeNet-5 {cnn['test_accuracy']:.1%} with {cnn['params']:,} parameters vs the MLP {mlp['test_accuracy']:.1%} "
        f"with {mlp['params']:,} ({(cnn['test_accuracy'] - mlp['test_accuracy']) * 100:+.1f} points, "
        f"{mlp['params'] / max(1, cnn['params']):.1f}x fewer weights).")
