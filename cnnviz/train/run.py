"""The training run: a plain object that trains a zoo model on a dataset, in a thread or not.

From a notebook::

    from cnnviz.train import TrainingRun
    run = TrainingRun(model="lenet5", dataset="mnist").run()   # synchronous
    run.result.test_accuracy, run.history.epochs

    run = TrainingRun(epochs=30).start()                         # background thread
    run.progress; run.stop(); run.wait()

The loop is a bare PyTorch loop over tensors already on the device: recording the
curves costs a few tensor additions per step and one device sync every
``record_every`` steps, so a live page does not slow training down.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz import guard
from cnnviz.errors import ConfigError
from cnnviz.data import Dataset, load_dataset
from cnnviz.train.config import TrainConfig
from cnnviz.train.device import ThreadTuner, available_cores, describe, pick_device
from cnnviz.train.gradients import current_norms, gradient_norms, weighted_layers
from cnnviz.train.jobs import Job
from cnnviz.train.metrics import History, Mistake, RunResult, confusion_matrix

EVAL_BATCH = 1024
MAX_MISTAKES = 36
POINTS_PER_EPOCH = 10  # step records per epoch on the live curves


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


def init_weights(model: nn.Module, scheme: str) -> None:
    """Re-initialise every conv / linear weight: kaiming (He), xavier (Glorot), normal (std 0.01) or default."""
    if scheme == "default":
        return
    for m in model.modules():
        if not isinstance(m, (nn.Conv2d, nn.Linear)):
            continue
        if scheme == "kaiming":
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        elif scheme == "xavier":
            nn.init.xavier_uniform_(m.weight)
        elif scheme == "normal":
            nn.init.normal_(m.weight, 0.0, 0.01)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def augment_batch(x: torch.Tensor, mode: str, generator: torch.Generator, shift: int = 2) -> torch.Tensor:
    """Random translation by up to ``shift`` pixels per image (edges replicated), and random horizontal flips."""
    if mode == "none":
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (shift, shift, shift, shift), mode="replicate")
    dy, dx = torch.randint(0, 2 * shift + 1, (2, n, 1), device=generator.device, generator=generator).to(x.device)
    rows = (dy + torch.arange(h, device=x.device))[:, :, None]
    cols = (dx + torch.arange(w, device=x.device))[:, None, :]
    out = padded[torch.arange(n, device=x.device)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
    if mode == "shift_flip":
        flip = torch.rand(n, device=generator.device, generator=generator).to(x.device) < 0.5
        out = torch.where(flip[:, None, None, None], out.flip(3), out)
    return out.contiguous()


def lr_factor(schedule: str, t: float) -> float:
    """Learning-rate multiplier at fraction ``t`` of training: cosine to 0, or x0.1 at 50% and 75% (step)."""
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))
    if schedule == "step":
        return 0.1 ** ((t >= 0.5) + (t >= 0.75))
    return 1.0


@dataclass
class _Loop:
    """What the training loop carries from step to step."""

    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    gen: torch.Generator
    amp: bool
    tuner: ThreadTuner | None
    layers: list[tuple[str, nn.Module]]
    batch_size: int
    record_every: int
    epoch_loss: torch.Tensor
    epoch_correct: torch.Tensor
    epoch_images: int = 0


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
        self._optimizer: torch.optim.Optimizer | None = None

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

            torch.manual_seed(cfg.seed)
            model = build(cfg.model, **settings)
        except ConfigError as exc:
            raise ConfigError(f"{cfg.model} on {cfg.dataset} ({c}x{h}x{h} images): {exc}") from None
        init_weights(model, cfg.init)
        model.to(self.device)
        self._data = {s: (x.to(self.device), y.to(self.device)) for s, (x, y) in splits.items()}
        self.train_images = len(splits["train"][1])
        return model, data

    def _work(self) -> None:
        cfg = self.config
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        model, data = self._prepare()
        self.model, self.dataset = model, data
        if self.stop_requested:  # stopped while loading: nothing learned, nothing to test (a Stop acts at once)
            self.phase = "done"
            return
        loop = self._make_loop(model)
        self.phase = "training"
        self._t_start = time.perf_counter()
        train_seconds, reason = 0.0, "finished"
        for epoch in range(cfg.epochs):
            t_epoch, first_step = time.perf_counter(), self._step
            reason = self._train_epoch(model, loop, epoch)
            train_seconds += time.perf_counter() - t_epoch
            if self._step > first_step:
                val_loss, val_acc = self._evaluate(model, *self._data["val"], loop.amp)
                model.train()
                images = loop.epoch_images
                self.history.add_epoch(epoch=self._step / self._steps_per_epoch,
                                       train_loss=loop.epoch_loss.item() / images,
                                       train_accuracy=loop.epoch_correct.item() / images,
                                       val_loss=val_loss, val_accuracy=val_acc, lr=loop.opt.param_groups[0]["lr"],
                                       seconds=time.perf_counter() - self._t_start)
            if reason != "finished":
                break
        self._t_end = time.perf_counter()
        self.phase = "testing"
        self.result = self._test(model, data, loop.amp, self._t_end - self._t_start, train_seconds, reason)
        if self.autosave:
            self.phase = "saving"
            self.autosave_checkpoint()
        self.phase = "done"

    def _make_loop(self, model: nn.Module) -> _Loop:
        """Optimizer, scaler, random generator, thread tuner; gradient norms at initialisation if tracked."""
        cfg = self.config
        x_train, y_train = self._data["train"]
        n = len(x_train)
        bs = min(cfg.batch_size, n)
        self._steps_per_epoch = max(1, n // bs)  # the last partial batch is dropped (BN needs > 1 image)
        self._total_steps = cfg.epochs * self._steps_per_epoch
        params = [p for p in model.parameters() if p.requires_grad]
        if cfg.optimizer == "adam":
            opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        else:
            opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        self._optimizer = opt
        amp = cfg.amp and self.device.type == "cuda"
        gen = torch.Generator(device=self.device if self.device.type == "cuda" else "cpu")
        gen.manual_seed(cfg.seed)
        layers = weighted_layers(model)
        if cfg.track_grad_norms:
            self.history.grad_layers = [name for name, _ in layers]
            first = min(n, 128)
            self.history.add_grad_norms(0, 0.0, [v for _, v in gradient_norms(model, (x_train[:first],
                                                                                      y_train[:first]))])
        # CPU threads are set in this thread only (OpenMP settings are per thread), re-checked as it trains
        tuner = ThreadTuner(self.threads or available_cores()) if self.device.type == "cpu" else None
        model.train()
        return _Loop(opt=opt, scaler=torch.amp.GradScaler("cuda", enabled=amp), gen=gen, amp=amp, tuner=tuner,
                     layers=layers, batch_size=bs, record_every=max(1, self._steps_per_epoch // POINTS_PER_EPOCH),
                     epoch_loss=torch.zeros((), device=self.device),
                     epoch_correct=torch.zeros((), device=self.device, dtype=torch.long))

    def _train_epoch(self, model: nn.Module, loop: _Loop, epoch: int) -> str:
        """One epoch (or less, when stopped); returns finished, stopped or time limit.

        Loss and accuracy sums stay on the device; a record reads them (one sync) every
        ``record_every`` steps, so the live curves cost almost nothing.
        """
        cfg, bs = self.config, loop.batch_size
        x_train, y_train = self._data["train"]
        perm = torch.randperm(len(x_train), device=loop.gen.device, generator=loop.gen).to(self.device)
        loop.epoch_loss.zero_()
        loop.epoch_correct.zero_()
        loop.epoch_images = 0
        recorded_loss, recorded_correct, since = 0.0, 0, 0
        for i in range(self._steps_per_epoch):
            t_step = time.perf_counter()
            idx = perm[i * bs:(i + 1) * bs]
            xb, yb = augment_batch(x_train[idx], cfg.augment, loop.gen), y_train[idx]
            for group in loop.opt.param_groups:
                group["lr"] = cfg.lr * lr_factor(cfg.schedule, self._step / self._total_steps)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=loop.amp):
                out = model(xb)
                loss = F.cross_entropy(out, yb)
            loop.opt.zero_grad(set_to_none=True)
            loop.scaler.scale(loss).backward()
            last_of_epoch = i == self._steps_per_epoch - 1
            if cfg.track_grad_norms and last_of_epoch:
                loop.scaler.unscale_(loop.opt)
                self.history.add_grad_norms(self._step + 1, epoch + 1.0, current_norms(loop.layers))
            loop.scaler.step(loop.opt)
            loop.scaler.update()
            with torch.no_grad():
                loop.epoch_loss += loss.detach().float() * len(idx)
                loop.epoch_correct += (out.argmax(1) == yb).sum()
            if loop.tuner is not None:
                loop.tuner.step_done(time.perf_counter() - t_step)
                self.cpu_threads = loop.tuner.current
            since += len(idx)
            loop.epoch_images += len(idx)
            self._step, self._images = self._step + 1, self._images + len(idx)
            if self._step % loop.record_every == 0 or last_of_epoch:
                total_loss, total_correct = loop.epoch_loss.item(), int(loop.epoch_correct.item())
                self.history.add_step(step=self._step, epoch=self._step / self._steps_per_epoch,
                                      images=self._images, loss=(total_loss - recorded_loss) / since,
                                      accuracy=(total_correct - recorded_correct) / since,
                                      lr=loop.opt.param_groups[0]["lr"], seconds=time.perf_counter() - self._t_start)
                recorded_loss, recorded_correct, since = total_loss, total_correct, 0
            if self.stop_requested:
                return "stopped"
            if cfg.max_seconds is not None and time.perf_counter() - self._t_start >= cfg.max_seconds:
                return "time limit"
        return "finished"

    @torch.no_grad()
    def _evaluate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, amp: bool,
                  keep_outputs: bool = False) -> tuple[Any, ...]:
        """Mean loss and accuracy on (x, y) in eval mode (and the softmax outputs if asked)."""
        model.eval()
        total_loss = torch.zeros((), device=x.device)
        probs = []
        correct = torch.zeros((), device=x.device, dtype=torch.long)
        for i in range(0, len(x), EVAL_BATCH):
            with torch.autocast(x.device.type, dtype=torch.float16, enabled=amp):
                out = model(x[i:i + EVAL_BATCH]).float()
            yb = y[i:i + EVAL_BATCH]
            total_loss += F.cross_entropy(out, yb, reduction="sum")
            correct += (out.argmax(1) == yb).sum()
            if keep_outputs:
                probs.append(out.softmax(1))
        n = max(1, len(x))
        stats = (total_loss.item() / n, correct.item() / n)
        return (*stats, torch.cat(probs)) if keep_outputs else stats

    def _test(self, model: nn.Module, data: Dataset, amp: bool, seconds: float, train_seconds: float,
              reason: str) -> RunResult:
        x, y = self._data["test"]
        loss, acc, probs = self._evaluate(model, x, y, amp, keep_outputs=True)
        conf, pred = probs.max(1)
        wrong = torch.nonzero(pred != y).flatten()
        wrong = wrong[conf[wrong].argsort(descending=True)][:MAX_MISTAKES].cpu()
        y_cpu, pred_cpu, conf_cpu = y.cpu(), pred.cpu(), conf.cpu()
        mistakes = [Mistake(int(i), int(y_cpu[i]), int(pred_cpu[i]), float(conf_cpu[i]),
                            data.images["test"][i].numpy()) for i in wrong]
        return RunResult(
            test_accuracy=acc, test_loss=loss, confusion=confusion_matrix(y_cpu, pred_cpu, data.num_classes),
            classes=data.classes, mistakes=mistakes, seconds=seconds, train_seconds=train_seconds,
            images_seen=self._images, epochs_done=self._step / self._steps_per_epoch, device=self.device_name,
            reason=reason, params=sum(p.numel() for p in model.parameters()),
        )

    def _release(self) -> None:
        """Free the device copies of the data and the optimizer state; keep the model on the CPU."""
        self._data = {}
        self._optimizer = None
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
