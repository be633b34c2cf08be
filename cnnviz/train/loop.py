"""The training loop: one plain function that trains a model and reports what it does as events.

    result = fit(model, {"train": (x, y), "val": (x_val, y_val)}, TrainConfig(epochs=3), emit=print)

Events are JSON-able dicts with a ``"type"`` (the job layer forwards them to the page):

- ``start``: ``{"run", "runs", "epochs", "batches", "steps", "train_images"}``
- ``progress`` after every step: ``{"run", "epoch" (1-based), "epochs", "batch" (1-based), "batches", "step",
  "steps", "images", "seconds", "images_per_s", "seconds_left", "threads"}``; at record points (about
  ``POINTS_PER_EPOCH`` per epoch, and the epoch's last step) it also carries the mean training ``loss`` /
  ``accuracy`` since the previous record and the ``lr``: only those read the device (one sync), so the
  events cost almost nothing on a GPU.
- ``grad_norms``: ``{"run", "step", "epoch", "layers", "norms"}`` at initialisation and after every epoch,
  when the config tracks them.
- ``epoch``: ``{"run", "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "seconds",
  "split"}`` after every epoch (a stopped run reports its partial last epoch, ``epoch`` then being fractional);
  ``test_*`` is measured on the held-out split named by ``split`` (``val`` when given, else ``test``).

``done`` / ``stopped`` / ``error`` are the job's, not the loop's: :func:`fit` returns a :class:`FitResult`
(its ``reason`` says finished, stopped or time limit) or raises.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.train.config import TrainConfig
from cnnviz.train.device import ThreadTuner, available_cores, describe
from cnnviz.train.evaluate import loss_and_accuracy
from cnnviz.train.gradients import current_norms, gradient_norms, weighted_layers
from cnnviz.train.metrics import History

POINTS_PER_EPOCH = 10  # step records per epoch on the live curves
GRAD_BATCH = 128  # images for the gradient norms at initialisation

Emit = Callable[[dict[str, Any]], None]


@dataclass
class FitResult:
    """What :func:`fit` did: why it ended, how far it got, how fast, and the curves."""

    reason: str  # finished, stopped or time limit
    steps: int
    steps_per_epoch: int
    images: int  # training images seen
    seconds: float  # wall time of training steps and per-epoch evaluation
    train_seconds: float  # time in training steps only
    device: str
    history: History = field(default_factory=History)

    @property
    def epochs_done(self) -> float:
        return self.steps / self.steps_per_epoch

    @property
    def images_per_second(self) -> float:
        """Training images per second of training steps."""
        return self.images / self.train_seconds if self.train_seconds > 0 else 0.0


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


def lr_at(config: TrainConfig, step: int, total: int, steps_per_epoch: int) -> float:
    """The learning rate of ``step``: a linear warm-up over ``config.warmup_epochs``, then the schedule.

    The warm-up (Goyal et al. 2017; He et al. 2016 warm up ResNet-110 the same way) climbs from
    ``lr / warm`` to ``lr``; the schedule then runs over the remaining steps.
    """
    warm = min(total, round(config.warmup_epochs * steps_per_epoch))
    if step < warm:
        return config.lr * (step + 1) / warm
    return config.lr * lr_factor(config.schedule, (step - warm) / max(1, total - warm))


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam or SGD (with momentum) over the trainable parameters only: frozen ones are left out."""
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def fit(model: nn.Module, data: Mapping[str, tuple[Any, torch.Tensor]], config: TrainConfig, *,
        emit: Emit | None = None, should_stop: Callable[[], bool] | None = None, label: str = "",
        threads: int | None = None) -> FitResult:
    """Train ``model`` (already on its device) on ``data["train"]`` as ``config`` says; see the module doc.

    ``data`` maps split names to ``(x, y)`` on the model's device; ``x`` may be any object that
    gives a batch for a tensor of indices (e.g. a lazy per-image augmentation) and has a length.
    The held-out split evaluated after every epoch is ``val`` (else ``test``; none: no evaluation).
    ``config.init`` re-initialises the weights first (the torch random state decides them);
    ``config.seed`` fixes the batch order and the augmentation. ``should_stop`` is asked after
    every step; ``threads`` caps the CPU threads (None: every core; the :class:`ThreadTuner`
    picks 1 or all). The model ends in train mode (eval for evaluation calls); its weights are
    what training left.
    """
    send: Emit = emit or (lambda event: None)
    history = History()
    x_train, y_train = data["train"]
    device = y_train.device
    held_name = "val" if "val" in data else ("test" if "test" in data else None)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    init_weights(model, config.init)
    n = len(y_train)
    bs = min(config.batch_size, n)
    per_epoch = max(1, n // bs)  # the last partial batch is dropped (BN needs > 1 image)
    total = config.epochs * per_epoch
    record_every = max(1, per_epoch // POINTS_PER_EPOCH)
    opt = _optimizer(model, config)
    amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    gen = torch.Generator(device=device if device.type == "cuda" else "cpu")
    gen.manual_seed(config.seed)
    layers = weighted_layers(model)
    # CPU threads are set in this thread only (OpenMP settings are per thread), re-checked as it trains
    tuner = ThreadTuner(threads or available_cores()) if device.type == "cpu" else None

    def out(event: dict[str, Any]) -> None:
        event = {"run": label, **event}
        history.record(event)
        send(event)

    out({"type": "start", "runs": [label], "epochs": config.epochs, "batches": per_epoch, "steps": total,
         "train_images": n})
    if config.track_grad_norms:
        first = min(n, GRAD_BATCH)
        norms = gradient_norms(model, (x_train[torch.arange(first, device=device)], y_train[:first]))
        out({"type": "grad_norms", "step": 0, "epoch": 0.0, "layers": [name for name, _ in norms],
             "norms": [v for _, v in norms]})
    model.train()
    epoch_loss = torch.zeros((), device=device)
    epoch_correct = torch.zeros((), device=device, dtype=torch.long)
    step = images = 0
    t_start = time.perf_counter()
    train_seconds, reason = 0.0, "finished"
    for epoch in range(config.epochs):
        t_epoch = time.perf_counter()
        perm = torch.randperm(n, device=gen.device, generator=gen).to(device)
        epoch_loss.zero_()
        epoch_correct.zero_()
        epoch_images, recorded_loss, recorded_correct, since = 0, 0.0, 0, 0
        for i in range(per_epoch):
            t_step = time.perf_counter()
            idx = perm[i * bs:(i + 1) * bs]
            xb, yb = augment_batch(x_train[idx], config.augment, gen), y_train[idx]
            lr = lr_at(config, step, total, per_epoch)
            for group in opt.param_groups:
                group["lr"] = lr
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            last_of_epoch = i == per_epoch - 1
            if config.track_grad_norms and last_of_epoch:
                scaler.unscale_(opt)
                out({"type": "grad_norms", "step": step + 1, "epoch": epoch + 1.0,
                     "layers": [name for name, _ in layers], "norms": current_norms(layers)})
            scaler.step(opt)
            scaler.update()
            with torch.no_grad():
                epoch_loss += loss.detach().float() * len(idx)
                epoch_correct += (logits.argmax(1) == yb).sum()
            if tuner is not None:
                tuner.step_done(time.perf_counter() - t_step)
            since += len(idx)
            epoch_images += len(idx)
            step, images = step + 1, images + len(idx)
            seconds = time.perf_counter() - t_start
            speed = images / seconds if seconds > 0 else 0.0
            left = (total - step) * seconds / step
            if config.max_seconds is not None:
                left = min(left, max(0.0, config.max_seconds - seconds))
            event: dict[str, Any] = {
                "type": "progress", "epoch": epoch + 1, "epochs": config.epochs, "batch": i + 1,
                "batches": per_epoch, "step": step, "steps": total, "images": images, "seconds": seconds,
                "images_per_s": speed, "seconds_left": left,
                "threads": tuner.current if tuner is not None else None}
            if step % record_every == 0 or last_of_epoch:
                total_loss, total_correct = epoch_loss.item(), int(epoch_correct.item())
                event.update(loss=(total_loss - recorded_loss) / since,
                             accuracy=(total_correct - recorded_correct) / since, lr=lr)
                recorded_loss, recorded_correct, since = total_loss, total_correct, 0
            out(event)
            if should_stop is not None and should_stop():
                reason = "stopped"
                break
            if config.max_seconds is not None and time.perf_counter() - t_start >= config.max_seconds:
                reason = "time limit"
                break
        train_seconds += time.perf_counter() - t_epoch
        if epoch_images:
            test_loss, test_acc = (loss_and_accuracy(model, *data[held_name], amp) if held_name
                                   else (math.nan, math.nan))
            model.train()
            done = step / per_epoch
            out({"type": "epoch", "epoch": int(done) if done == int(done) else done,
                 "train_loss": epoch_loss.item() / epoch_images,
                 "train_accuracy": epoch_correct.item() / epoch_images, "test_loss": test_loss,
                 "test_accuracy": test_acc, "lr": opt.param_groups[0]["lr"],
                 "seconds": time.perf_counter() - t_start, "split": held_name})
        if reason != "finished":
            break
    return FitResult(reason=reason, steps=step, steps_per_epoch=per_epoch, images=images,
                     seconds=time.perf_counter() - t_start, train_seconds=train_seconds,
                     device=describe(device, tuner.current if tuner is not None else None), history=history)
