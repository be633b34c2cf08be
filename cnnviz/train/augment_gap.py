"""Augmentation against overfitting: the same network, data and seed trained without and with an
augmentation pipeline (:mod:`cnnviz.augment`), and how much the train/test gap narrows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from cnnviz.augment import RECOMMENDED, Pipeline, Step, fit_pca, pipeline_code
from cnnviz.data import load_dataset
from cnnviz.errors import ConfigError
from cnnviz.train.tensors import accuracy, balanced_subset, build_model, normalise, probabilities, train_tensors


@dataclass
class GapResult:
    """One training run: accuracy on its own (clean) training images and on the test set."""

    label: str
    train_accuracy: float
    test_accuracy: float
    seconds: float
    epochs: list[dict[str, float]]

    @property
    def gap(self) -> float:
        return self.train_accuracy - self.test_accuracy


@dataclass
class Comparison:
    """The same network, data and seed, trained without and with the augmentation pipeline."""

    without: GapResult
    with_augmentation: GapResult
    dataset: str
    train_size: int
    test_size: int
    epochs: int
    steps: list[str]
    code: str

    @property
    def gap_change(self) -> float:
        """How much the train/test gap shrank (positive: augmentation narrowed it)."""
        return self.without.gap - self.with_augmentation.gap


def compare_with_without(steps: Sequence[Step] | None = None, *, dataset: str = "mnist", train_size: int = 500,
                         epochs: int = 20, seed: int = 0, model: str = "tinyvgg",
                         settings: dict[str, Any] | None = None,
                         progress: Callable[[str, float], None] | None = None) -> Comparison:
    """Train ``model`` on ``train_size`` images of ``dataset`` without, then with, the pipeline.

    ``steps`` default to :data:`RECOMMENDED` for the dataset. Returns both runs' accuracy on
    their (un-augmented) training images and on the test split: augmentation should narrow the gap.
    """
    if not 20 <= train_size <= 3000:
        raise ConfigError(f"training images must be 20 to 3,000, got {train_size}")
    data = load_dataset(dataset)
    steps = list(RECOMMENDED.get(dataset, ()) if steps is None else steps)
    if not steps:
        raise ConfigError("the pipeline is empty: add at least one augmentation to compare")
    c, h, w = data.image_shape
    pipe = Pipeline(steps, size=(h, w), channels=c, pca=fit_pca(data.images["train"][:2000]) if c == 3 else None)
    transform = pipe.transform()
    pick = balanced_subset(data.labels["train"], train_size, data.num_classes)
    x, y = data.images["train"][pick], data.labels["train"][pick]
    if data.max_value != 255:  # e.g. digits8x8's 0..16: the pipeline works on 0..255
        x = (x.float() * (255 / data.max_value)).round().to(torch.uint8)
        test = (data.images["test"].float() * (255 / data.max_value)).round().to(torch.uint8)
        val = (data.images["val"].float() * (255 / data.max_value)).round().to(torch.uint8)
    else:
        test, val = data.images["test"], data.images["val"]
    splits = {"train": (x, y), "val": (val, data.labels["val"]), "test": (test, data.labels["test"])}
    mean, std = data.mean, data.std
    report = progress or (lambda _m, _f: None)
    results = []
    for i, (label, t) in enumerate((("without augmentation", None), ("with augmentation", transform))):
        torch.manual_seed(seed)
        net = build_model(model, data, settings)
        run = train_tensors(net, splits, data.classes, mean, std, transform=t, report=progress,
                            message=f"Training {label} ...", span=(i / 2, (i + 1) / 2), dataset=dataset, model=model,
                            epochs=epochs, lr=3e-3, batch_size=32, seed=seed, label=label)
        mean_t, std_t = torch.tensor(mean), torch.tensor(std)
        train_acc = accuracy(probabilities(run.model, normalise(x, mean_t, std_t)), y)
        results.append(GapResult(label, train_acc, run.result.test_accuracy, run.result.train_seconds,
                                  run.history.epochs))
    report("Done", 1.0)
    return Comparison(results[0], results[1], dataset, len(y), len(data.labels["test"]), epochs,
                      [s.label() for s in steps], pipeline_code(pipe))
