"""The training run: a plain object that trains a zoo model on a dataset, in a thread or not.

From a notebook::

    from cnnviz.train import TrainingRun
    run = TrainingRun(model="lenet5", dataset="mnist").run()   # synchronous
    run.result.test_accuracy, run.history.epochs

    run = TrainingRun(epochs=30).start()                         # background thread
    run.progress; run.stop(); run.wait()

The run loads the data and builds the model; :func:`cnnviz.train.loop.fit` trains it and
:func:`cnnviz.train.evaluate.evaluate` scores it on the test split.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz import guard
from cnnviz.errors import ConfigError
from cnnviz.data import Dataset, load_dataset
from cnnviz.train.config import TrainConfig
from cnnviz.train.device import available_cores, describe, pick_device
from cnnviz.train.evaluate import evaluate
from cnnviz.train.jobs import Job
from cnnviz.train.loop import FitResult, fit
from cnnviz.train.metrics import History, Mistake, RunResult


@dataclass(frozen=True)
class Progress:
    """Where a run is: fraction done, speed and time left."""

    fraction: float
    epoch: float
    step: int
    total_steps: int
    images: int
    seconds: float
    images_per_second: float
    seconds_left: float | None


class TrainingRun(Job):
    """Train ``config.model`` on ``config.dataset``; see :class:`TrainConfig` for every knob.

    ``TrainingRun(config, **changes)`` or ``TrainingRun(model="mlp", epochs=3)``; ``autosave=True``
    saves a checkpoint when training ends (:attr:`checkpoint`).
    After the run: :attr:`result` (test accuracy, confusion matrix, mistakes),
    :attr:`history` (curves), :attr:`model` (on the CPU, in eval mode).
    """

    def __init__(self, config: TrainConfig | None = None, label: str = "", autosave: bool = False,
                 **changes: Any) -> None:
        super().__init__()
        self.autosave = autosave  # save a checkpoint when training ends
        self.config = (config or TrainConfig()).replace(**changes).validate()
        self.label = label or self.config.model
        self.device = pick_device(self.config.device)
        self.history = History()
        self.result: RunResult | None = None
        self.model: nn.Module | None = None
        self.dataset: Dataset | None = None
        self.checkpoint: Path | None = None
        self.train_images: int | None = None
        self.cpu_threads: int | None = None  # CPU threads in use (see ThreadTuner)
        self.phase = "waiting"
        self._step = 0
        self._images = 0
        self._total_steps = 0
        self._steps_per_epoch = 1
        self._t_start: float | None = None
        self._t_end: float | None = None
        self._data: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    # -- what a page polls ---------------------------------------------------------------------
    @property
    def device_name(self) -> str:
        if self.device.type == "cpu" and self.cpu_threads is None:  # not training yet: the tuner decides
            return f"cpu (up to {self.threads or available_cores()} threads)"
        return describe(self.device, self.cpu_threads)

    @property
    def progress(self) -> Progress:
        step, images, total = self._step, self._images, max(1, self._total_steps)
        start = self._t_start
        seconds = 0.0 if start is None else (self._t_end or time.perf_counter()) - start
        speed = images / seconds if seconds > 0 else 0.0
        left = None
        if speed > 0 and not self.done:
            left = (total - step) * (images / max(1, step)) / speed
            if self.config.max_seconds is not None:
                left = min(left, max(0.0, self.config.max_seconds - seconds))
        return Progress(fraction=1.0 if self.status == "finished" else min(1.0, step / total),
                        epoch=step / self._steps_per_epoch, step=step, total_steps=self._total_steps,
                        images=images, seconds=seconds, images_per_second=speed, seconds_left=left)

    # -- the work ------------------------------------------------------------------------------
    def _prepare(self) -> tuple[nn.Module, Dataset]:
        cfg = self.config
        self.phase = "loading data"
        data = load_dataset(cfg.dataset)
        splits = {s: data.tensors(s) for s in ("train", "val", "test")}
        if cfg.subset is not None:
            x, y = splits["train"]
            splits["train"] = (x[: cfg.subset], y[: cfg.subset])
        c, h, _ = data.image_shape
        resize = cfg.image_size is not None and cfg.image_size != h
        h = cfg.image_size if cfg.image_size is not None else h
        fixed = {"in_channels": c, "input_size": h, "num_classes": data.num_classes}
        for key, need in fixed.items():  # set by the data: a different value would fail in the first batch
            given = cfg.model_settings().get(key)
            if given is not None and str(given).strip() != str(need):
                hint = " (use image_size to resize the images)" if key == "input_size" else ""
                raise ConfigError(f"{cfg.model} on {cfg.dataset}: {key}={str(given)[:20]} does not fit the data, "
                                  f"which has {key}={need}; leave the setting out{hint}")
        settings = {**fixed, **cfg.model_settings()}
        # the budget is checked on the meta-device analysis, before any resize or weight is allocated
        optimizer = "adam" if cfg.optimizer == "adam" else ("sgd_momentum" if cfg.momentum else "sgd")
        try:
            report = guard.check_model(cfg.model, settings, purpose="training", batch_size=cfg.batch_size,
                                       optimizer=optimizer)
            out = tuple(report.output_shape)
            if out != (data.num_classes,):  # a builder network may end anywhere; the loss needs class scores
                shown = f"{out[1]} x {out[2]} x {out[0]} maps" if len(out) == 3 else f"{out[0]} values"
                raise ConfigError(f"the network's output is {shown}, but training needs one score per class: "
                                  f"end it with fc({data.num_classes})")
            if resize:
                splits = {s: (F.interpolate(x, size=(h, h), mode="bilinear", antialias=True, align_corners=False),
                              y) for s, (x, y) in splits.items()}
            self.phase = "building the model"
            from cnnviz.zoo import build

            torch.manual_seed(cfg.seed)  # the weights, and the init scheme fit() applies after
            model = build(cfg.model, **settings)
        except ConfigError as exc:
            raise ConfigError(f"{cfg.model} on {cfg.dataset} ({c}x{h}x{h} images): {exc}") from None
        model.to(self.device)
        self._data = {s: (x.to(self.device), y.to(self.device)) for s, (x, y) in splits.items()}
        self.train_images = len(splits["train"][1])
        return model, data

    def _work(self) -> None:
        model, data = self._prepare()
        self.model, self.dataset = model, data
        if self.stop_requested:  # stopped while loading: nothing learned, nothing to test (a Stop acts at once)
            self.phase = "done"
            return
        self.phase = "training"
        fitted = fit(model, {s: self._data[s] for s in ("train", "val")}, self.config, emit=self._on_event,
                     should_stop=lambda: self.stop_requested, label=self.label, threads=self.threads)
        self._step, self._images = fitted.steps, fitted.images
        self._t_end = time.perf_counter()
        self.phase = "testing"
        self.result = self._test(model, data, fitted)
        if self.autosave:
            self.phase = "saving"
            self.autosave_checkpoint()
        self.phase = "done"

    def _on_event(self, event: dict[str, Any]) -> None:
        """Follow the loop's events: the counters :attr:`progress` reads, and the curves."""
        if event["type"] == "start":
            self._steps_per_epoch, self._total_steps = event["batches"], event["steps"]
            self._t_start = time.perf_counter()
        elif event["type"] == "progress":
            self._step, self._images = event["step"], event["images"]
            self.cpu_threads = event["threads"]
        self.history.record(event)

    def _test(self, model: nn.Module, data: Dataset, fitted: FitResult) -> RunResult:
        amp = self.config.amp and self.device.type == "cuda"
        scores = evaluate(model, self._data["test"], num_classes=data.num_classes, amp=amp)
        mistakes = [Mistake(m["index"], m["true"], m["predicted"], m["confidence"],
                            data.images["test"][m["index"]].numpy()) for m in scores["mistakes"]]
        return RunResult(
            test_accuracy=scores["accuracy"], test_loss=scores["loss"], confusion=np.array(scores["confusion"]),
            classes=data.classes, mistakes=mistakes, seconds=fitted.seconds, train_seconds=fitted.train_seconds,
            images_seen=fitted.images, epochs_done=fitted.epochs_done, device=self.device_name,
            reason=fitted.reason, params=sum(p.numel() for p in model.parameters()),
        )

    def _release(self) -> None:
        """Free the device copies of the data; keep the model on the CPU."""
        self._data = {}
        if self.model is not None:
            self.model.to("cpu").eval()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        if self.phase != "done" and self._t_start is not None and self._t_end is None:
            self._t_end = time.perf_counter()

    # -- afterwards ----------------------------------------------------------------------------
    def autosave_checkpoint(self) -> Path | None:
        """Save when the run is worth keeping (:func:`~cnnviz.train.checkpoints.worth_keeping`), then prune old ones."""
        from cnnviz.train.checkpoints import prune_checkpoints, worth_keeping

        if not worth_keeping(self.result):
            return None
        path = self.save_checkpoint()
        prune_checkpoints()
        return path

    def save_checkpoint(self, name: str | None = None) -> Path:
        """Save the trained model (state_dict + everything needed to rebuild it); returns the path."""
        if self.model is None or self.result is None:
            raise ConfigError("nothing to save yet: the run has no trained model (it has not finished)")
        from cnnviz.train.checkpoints import save_checkpoint

        self.checkpoint = save_checkpoint(self, name)
        return self.checkpoint

    def summary(self) -> dict[str, Any]:
        """The run as plain JSON-able values; ends with test_accuracy, seconds, images_per_second, device."""
        r = self.result
        out: dict[str, Any] = {
            "model": self.config.model, "dataset": self.config.dataset,
            "settings": getattr(self.model, "cnnviz_settings", self.config.model_settings()),
            "config": {k: v for k, v in self.config.to_dict().items() if k not in ("model", "settings", "dataset")},
            "status": self.status, "error": self.error,
            "train_images": self.train_images,
            "epochs": self.history.epochs,
            "checkpoint": None if self.checkpoint is None else str(self.checkpoint),
        }
        if r is not None:
            out.update(
                reason=r.reason, epochs_done=round(r.epochs_done, 3), params=r.params, test_loss=r.test_loss,
                per_class_accuracy=dict(zip(r.classes, [round(float(a), 4) for a in r.per_class_accuracy])),
                confusion=r.confusion.tolist(), train_seconds=round(r.train_seconds, 3),
            )
        out.update(
            test_accuracy=None if r is None else r.test_accuracy,
            seconds=None if r is None else round(r.seconds, 3),
            images_per_second=None if r is None else round(r.images_per_second, 1),
            device=self.device_name,
        )
        return out
