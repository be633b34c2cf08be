"""Overfit a tiny subset first: the sanity check before a long run."""
from __future__ import annotations

from typing import Any

from cnnviz.experiments.common import Emit, Planned, Runner, check, load
from cnnviz.train.config import TrainConfig
from cnnviz.zoo import build

TITLE = "Overfit a tiny subset first"
RUNS = ("tiny",)
LESSON = "a tiny subset is memorised (training accuracy at least 99%, test at most 85%)"
NOTES = ("The course notes: make sure you can overfit a very small portion of the training data before a long "
         "run. LeNet-5 (ReLU, max pooling) on 64 digits, Adam with learning rate 3e-3, batch 16: the training "
         "accuracy should reach 100% (if not, something is broken) while the test accuracy stays far lower.")
SIZES = {"tiny": dict(epochs=1), "quick": dict(epochs=30), "full": dict(epochs=60)}


def run(seed: int, size: str, device: str, emit: Emit) -> dict[str, Any]:
    dev = check(seed, size, device)
    data = load("mnist", 64, dev)
    cfg = TrainConfig(optimizer="adam", lr=3e-3, schedule="none", batch_size=16, epochs=SIZES[size]["epochs"],
                      augment="none")
    plan = [Planned("tiny", lambda: build("lenet5", in_channels=1, input_size=28, num_classes=10,
                                          variant="modern", batch_norm=False), data, cfg)]
    return {"runs": Runner(plan, emit, seed).train_all()}


def lesson(result: dict[str, Any]) -> tuple[bool, str]:
    r = result["runs"]["tiny"]
    shown = r["train_accuracy"] >= 0.99 and r["test_accuracy"] <= 0.85
    return shown, (f"On 64 training images: training accuracy {r['train_accuracy']:.1%} (needs at least 99%), test "
                   f"accuracy {r['test_accuracy']:.1%} (at most 85%): "
                   f"{'memorised' if shown else 'not a clean memorisation'}.")
