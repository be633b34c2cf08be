"""What a run records (curves, results) and the course notes' reading of the curves in plain words."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np


class History:
    """Curves recorded while training, safe to read from another thread.

    ``steps``: every few optimizer steps, the mean training loss / accuracy since the
    last record. ``epochs``: per epoch (a stopped run adds its partial last epoch),
    training loss / accuracy over the epoch and validation loss / accuracy after it.
    ``grad_norms``: per-layer gradient norms (at initialisation as step 0, then at the
    end of every epoch) when the run tracks them, for the layers in ``grad_layers``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: list[dict[str, float]] = []
        self._epochs: list[dict[str, float]] = []
        self._grad_norms: list[dict[str, Any]] = []
        self.grad_layers: list[str] = []

    def add_step(self, **record: float) -> None:
        with self._lock:
            self._steps.append(record)

    def add_epoch(self, **record: float) -> None:
        with self._lock:
            self._epochs.append(record)

    def add_grad_norms(self, step: int, epoch: float, norms: list[float]) -> None:
        with self._lock:
            self._grad_norms.append({"step": step, "epoch": epoch, "norms": norms})

    def record(self, event: dict[str, Any]) -> None:
        """Add what a training loop event (see :mod:`cnnviz.train.loop`) says about the curves."""
        kind = event.get("type")
        if kind == "progress" and "loss" in event:
            self.add_step(step=event["step"], epoch=event["epoch"] - 1 + event["batch"] / event["batches"],
                          images=event["images"], loss=event["loss"], accuracy=event["accuracy"], lr=event["lr"],
                          seconds=event["seconds"])
        elif kind == "epoch":
            self.add_epoch(epoch=event["epoch"], train_loss=event["train_loss"],
                           train_accuracy=event["train_accuracy"], val_loss=event["test_loss"],
                           val_accuracy=event["test_accuracy"], lr=event["lr"], seconds=event["seconds"])
        elif kind == "grad_norms":
            self.grad_layers = list(event["layers"])
            self.add_grad_norms(event["step"], event["epoch"], list(event["norms"]))

    @property
    def steps(self) -> list[dict[str, float]]:
        with self._lock:
            return list(self._steps)

    @property
    def epochs(self) -> list[dict[str, float]]:
        with self._lock:
            return list(self._epochs)

    @property
    def grad_norms(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._grad_norms)


@dataclass(frozen=True)
class Mistake:
    """A misclassified test image."""

    index: int  # in the test split
    true: int
    predicted: int
    confidence: float  # softmax probability of the wrong prediction
    image: np.ndarray  # uint8 (C, H, W), as stored in the dataset


@dataclass
class RunResult:
    """What a finished (or stopped) run measured on the held-out test split."""

    test_accuracy: float
    test_loss: float
    confusion: np.ndarray  # (K, K): rows = true class, columns = predicted class
    classes: tuple[str, ...]
    mistakes: list[Mistake]
    seconds: float  # wall time of the training phase (steps and per-epoch validation)
    train_seconds: float  # time in training steps only
    images_seen: int
    epochs_done: float
    device: str
    reason: str  # finished, stopped or time limit
    params: int

    @property
    def images_per_second(self) -> float:
        """Training images per second of training steps."""
        return self.images_seen / self.train_seconds if self.train_seconds > 0 else 0.0

    @property
    def per_class_accuracy(self) -> np.ndarray:
        totals = self.confusion.sum(axis=1)
        return np.divide(np.diag(self.confusion), totals, out=np.zeros(len(totals)), where=totals > 0)


@dataclass(frozen=True)
class CurveReading:
    """The verdict on a run's curves, and what the course notes advise."""

    verdict: str  # overfitting, underfitting, not learning, diverged, good fit, too early
    summary: str
    advice: tuple[str, ...]


GAP = 0.05  # train - validation accuracy above which a gap is "big"
LOW = 0.8  # validation accuracy below which both curves are "low"


def read_curves(epochs: list[dict[str, float]], num_classes: int = 10) -> CurveReading:
    """The course notes' training tips applied to the per-epoch curves.

    "If big gap between training accuracy and validation accuracy, then it is
    overfitting: try increase regularization. If no gap, then may increase model
    capacity." Underfitting: both accuracies low. Not learning: the loss barely moved.
    """
    if not epochs:
        return CurveReading("too early", "No epoch has finished yet.", ())
    last = epochs[-1]
    losses = [e["train_loss"] for e in epochs]
    if any(not math.isfinite(v) for v in losses + [last["val_loss"]]):
        return CurveReading(
            "diverged", "The loss became infinite or NaN: the updates are too big.",
            ("Lower the learning rate 3-10x.", "Check the weight initialisation: weights that are too large "
             "saturate the neurons (the course notes on sigmoid)."))
    train_acc = _recent(epochs, "train_accuracy")
    val_acc = _recent(epochs, "val_accuracy")
    gap = train_acc - val_acc
    numbers = f"training accuracy {train_acc:.1%}, validation accuracy {val_acc:.1%}, gap {gap * 100:+.1f} points"
    chance = 1.0 / max(1, num_classes)
    if val_acc < chance + 0.1 and train_acc < chance + 0.1:
        return CurveReading(
            "not learning", f"The network is guessing ({numbers}; chance is {chance:.0%}).",
            ("Start with small regularization and find a learning rate that makes the loss go down.",
             "Saturating activations (sigmoid) or a poor initialisation can stop the gradients; try ReLU, "
             "batch norm or kaiming initialisation."))
    advice_gap = ("Try increasing regularization: weight decay, dropout, data augmentation.",
                  "More training data closes the gap too; or stop at the epoch where validation was best.")
    if gap > GAP:
        best = min(range(len(epochs)), key=lambda i: epochs[i]["val_loss"])
        rose = best < len(epochs) - 1 and last["val_loss"] > 1.1 * epochs[best]["val_loss"]
        note = f" The validation loss was lowest after epoch {epochs[best]['epoch']:g} and rose since." if rose else ""
        return CurveReading("overfitting", f"Big gap between training and validation accuracy ({numbers}): "
                            f"the network is memorising the training images.{note}", advice_gap)
    if val_acc < LOW:
        return CurveReading(
            "underfitting", f"Both accuracies are low and close ({numbers}): the network has not learned enough.",
            ("Train longer or with a larger learning rate.",
             "No gap: increase model capacity (more filters or layers), or reduce regularization."))
    return CurveReading(
        "good fit", f"Small gap and good accuracy ({numbers}).",
        ("If there is no gap, you may increase model capacity.",
         "Check the test accuracy: it is the only number measured on images no training step saw."))


def _recent(epochs: list[dict[str, float]], key: str) -> float:
    """Mean of the last two epochs: one noisy epoch should not flip the verdict."""
    values = [e[key] for e in epochs[-2:]]
    return float(sum(values) / len(values))
