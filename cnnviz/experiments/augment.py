"""Training without and with data augmentation (random shifts) on few images."""
from __future__ import annotations

from typing import Any

from cnnviz.experiments.common import Emit, Planned, Runner, check, load
from cnnviz.train.config import TrainConfig
from cnnviz.zoo import build

TITLE = "Data augmentation on / off"
RUNS = ("plain", "augmented")
LESSON = "augmentation narrows the gap and does not lose test accuracy"
NOTES = ("The course notes: data augmentation creates new training images by transformations that keep the "
         "label, a regulariser for small datasets. The same small VGG on 500 digits, the same epochs and "
         "optimiser (Adam, learning rate 1e-3); the augmented run sees every image shifted by up to 2 pixels each "
         "time. Training accuracy is measured on the original (un-shifted) images.")
SIZES = {"tiny": dict(n_train=64, epochs=1), "quick": dict(n_train=500, epochs=20), "full": dict(n_train=500, epochs=40)}


def gap(run: dict[str, Any]) -> float:
    return run["train_accuracy"] - run["test_accuracy"]


def run(seed: int, size: str, device: str, emit: Emit) -> dict[str, Any]:
    dev = check(seed, size, device)
    data = load("mnist", SIZES[size]["n_train"], dev)
    cfg = TrainConfig(optimizer="adam", lr=1e-3, schedule="none", batch_size=32, epochs=SIZES[size]["epochs"])

    def net():  # noqa: ANN202
        return build("tinyvgg", in_channels=1, input_size=28, num_classes=10, width=16)

    plan = [Planned("plain", net, data, cfg.replace(augment="none")),
            Planned("augmented", net, data, cfg.replace(augment="shift"))]
    return {"runs": Runner(plan, emit, seed).train_all()}


def lesson(result: dict[str, Any]) -> tuple[bool, str]:
    off, on = (result["runs"][k] for k in RUNS)
    narrowed = gap(off) - gap(on)
    kept = on["test_accuracy"] >= off["test_accuracy"]
    return narrowed > 0 and kept, (
        f"Train-test gap without augmentation {gap(off) * 100:.1f} points, with it {gap(on) * 100:.1f} points "
        f"({'narrowed' if narrowed > 0 else 'not narrowed'} by {narrowed * 100:.1f}); test accuracy "
        f"{off['test_accuracy']:.1%} without, {on['test_accuracy']:.1%} with ({'not lost' if kept else 'lost'}).")
