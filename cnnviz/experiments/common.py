"""What every experiment shares: its data, one training run with fit(), and progress for the whole experiment.

An experiment trains a few labelled runs one after the other. :class:`Runner` trains each with
:func:`cnnviz.train.loop.fit` and forwards fit's progress (at most every :data:`PROGRESS_S` seconds)
with the experiment's time left: the work still to do (:func:`work`: the images trained and evaluated x the
model's multiply-adds per image) over the rate measured so far in this experiment.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.data import load_dataset
from cnnviz.errors import ConfigError
from cnnviz.train.config import TrainConfig
from cnnviz.train.device import pick_device
from cnnviz.train.evaluate import loss_and_accuracy
from cnnviz.train.loop import fit

Emit = Callable[[dict[str, Any]], None]
Splits = dict[str, tuple[torch.Tensor, torch.Tensor]]
SIZES = ("quick", "full")  # the CLI's and the page's; "tiny" (seconds, shows nothing) is for the tests
ENGINE_SIZES = ("tiny", *SIZES)
PROGRESS_S = 0.25  # progress events at most this often (fit sends one per step)


def check(seed: Any, size: Any, device: Any) -> torch.device:
    """The device to run on; a clear ConfigError for a bad seed, size or device."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise ConfigError(f"the seed must be a whole number from 0 to {2**31 - 1}, got {str(seed)[:20]!r}")
    if size not in ENGINE_SIZES:
        raise ConfigError(f"the size must be quick or full, got {str(size)[:20]!r}")
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"the device must be auto, cpu or cuda, got {str(device)[:20]!r}")
    return pick_device(device)


def load(dataset: str, n_train: int | None, device: torch.device, image_size: int | None = None,
         classes: tuple[int, ...] | None = None) -> Splits:
    """Normalised train/test tensors on ``device``: the first ``n_train`` training images (the split is
    shuffled once, so they are a fixed sample of every class), optionally resized and restricted to ``classes``
    (relabelled 0..k-1). The test split is the dataset's, never a training image."""
    data = load_dataset(dataset)
    out = {}
    for split in ("train", "test"):
        x, y = data.tensors(split)
        if classes is not None:
            keep = torch.isin(y, torch.tensor(classes))
            x, y = x[keep], torch.searchsorted(torch.tensor(classes), y[keep])
        if split == "train" and n_train is not None:
            x, y = x[:n_train], y[:n_train]
        if image_size is not None and image_size != x.shape[-1]:
            x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
        out[split] = (x.to(device), y.to(device))
    return out


def params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def multiply_adds(model: nn.Module, image: torch.Tensor) -> int:
    """Multiply-adds of the conv and linear layers for one image (the unit of work of the time estimate)."""
    total = 0

    def count(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += output.numel() * k
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(image[:1])
    model.train(was_training)
    for h in hooks:
        h.remove()
    return max(total, 1)


def work(planned: "Planned", model: nn.Module) -> float:
    """A run's work in forward multiply-adds, the unit of the time estimate: a training image counts three times
    (forward, then backward through the activations and the weights), each epoch's evaluation of the test
    split and the final evaluations of both splits once, and what the experiment evaluates afterwards. Without
    the evaluations a run on a few images (where they are most of the time) looks almost free next to one on many."""
    n_train, n_test = len(planned.data["train"][1]), len(planned.data["test"][1])
    batch = min(planned.config.batch_size, n_train)
    images = planned.config.epochs * (3 * (n_train // batch) * batch + n_test) + n_train + n_test
    return (images + planned.after_images) * multiply_adds(model, planned.data["train"][0])


@dataclass
class Planned:
    """One run of an experiment: its label, a function that builds the model (after the seed is set), its data
    and its settings."""

    label: str
    build: Callable[[], nn.Module]
    data: Splits
    config: TrainConfig
    prepare: Callable[[nn.Module], None] | None = None  # just before training, e.g. copy a trained source in
    after_images: int = 0  # images the experiment evaluates with this model after training (e.g. 10 crops each)


class Runner:
    """Trains an experiment's planned runs in order; every run reports with the experiment's progress."""

    def __init__(self, plan: list[Planned], emit: Emit, seed: int) -> None:
        self.plan, self.emit, self.seed = plan, emit, seed
        self.models: list[nn.Module] = []
        for i, p in enumerate(plan):  # built up front: the estimate needs every run's work
            torch.manual_seed(seed * 1000 + i)
            self.models.append(p.build().to(p.data["train"][1].device))
        self.work = [work(p, m) for p, m in zip(plan, self.models)]
        self.after_work = [p.after_images * multiply_adds(m, p.data["train"][0]) for p, m in zip(plan, self.models)]
        self.done_work = 0.0
        self.t0 = time.perf_counter()
        self._last = 0.0
        self.emit({"type": "start", "runs": [p.label for p in plan], "epochs": max(p.config.epochs for p in plan)})

    def seconds_left(self, current: int, fraction: float) -> float | None:
        done = self.done_work + self.work[current] * fraction
        elapsed = time.perf_counter() - self.t0
        if done <= 0 or elapsed < 0.2:
            return None
        return (sum(self.work) - done) * elapsed / done

    def after(self, index: int, phase: str, fraction: float, images_per_s: float) -> None:
        """Progress of what run ``index``'s model does after training (its ``after_images``, e.g. 10 crops of
        every image): ``fraction`` of it done; sent at most every :data:`PROGRESS_S` seconds, and at the end."""
        now = time.perf_counter()
        if now - self._last < PROGRESS_S and fraction < 1.0:
            return
        self._last = now
        p, undone = self.plan[index], self.after_work[index] * (1.0 - min(max(fraction, 0.0), 1.0))
        done, elapsed = self.done_work - undone, now - self.t0  # done_work counted this run whole when it trained
        left = (sum(self.work) - done) * elapsed / done if done > 0 and elapsed >= 0.2 else None
        self.emit({"type": "progress", "run": p.label, "run_index": index, "runs_total": len(self.plan),
                   "epoch": p.config.epochs, "epochs": p.config.epochs, "step": 1, "steps": 1, "phase": phase,
                   "fraction": fraction, "images_per_s": images_per_s, "seconds_left": left})

    def train(self, index: int) -> dict[str, Any]:
        """Train run ``index``; its numbers: final-epoch training loss, accuracy and loss on the (un-augmented)
        training images and on the test split, parameters, seconds, the per-epoch curves and gradient norms."""
        p, model = self.plan[index], self.models[index]
        if p.prepare is not None:
            p.prepare(model)

        def forward(event: dict[str, Any]) -> None:
            if event["type"] == "progress":
                now = time.perf_counter()
                if now - self._last < PROGRESS_S and event["step"] < event["steps"]:
                    return
                self._last = now
                event = {**event, "run_index": index, "runs_total": len(self.plan),
                         "run_seconds_left": event["seconds_left"],
                         "seconds_left": self.seconds_left(index, event["step"] / event["steps"])}
            elif event["type"] == "start":
                return
            self.emit(event)

        t = time.perf_counter()
        fitted = fit(model, {"train": p.data["train"], "test": p.data["test"]}, p.config.replace(seed=self.seed),
                     emit=forward, label=p.label)
        self.done_work += self.work[index]
        epochs = fitted.history.epochs
        x, y = p.data["train"]
        # a lazily augmented training set (see multicrop) says how its images look without augmentation
        train_loss, train_acc = loss_and_accuracy(model, x if isinstance(x, torch.Tensor) else x.unaugmented(), y)
        test_loss, test_acc = loss_and_accuracy(model, *p.data["test"])
        return {"train_accuracy": train_acc, "test_accuracy": test_acc,
                "train_loss": epochs[-1]["train_loss"] if epochs else train_loss, "test_loss": test_loss,
                "params": params(model), "seconds": round(time.perf_counter() - t, 3),
                "train_eval_loss": train_loss, "epochs": epochs,
                "grad_layers": fitted.history.grad_layers, "grad_norms": fitted.history.grad_norms}

    def train_all(self) -> dict[str, dict[str, Any]]:
        """Every run in order, by label."""
        return {p.label: self.train(i) for i, p in enumerate(self.plan)}
