"""What a training run is asked to do: one dataclass, checked before anything is built."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from cnnviz.errors import ConfigError
from cnnviz.data import DATASETS

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("cosine", "step", "none")
INITS = ("default", "kaiming", "xavier", "normal")
AUGMENTS = ("none", "shift", "shift_flip")
DEVICES = ("auto", "cpu", "cuda", "mps")

# Model settings the training defaults add to the zoo's own defaults (the user's --set wins):
# LeNet-5 trains as the modern variant (ReLU + max pooling) with batch norm, which reaches
# 97-98% on the bundled 4,000 MNIST digits in a few seconds on a laptop CPU.
RECOMMENDED_SETTINGS: dict[str, dict[str, Any]] = {
    "lenet5": {"variant": "modern", "batch_norm": True},
}


@dataclass
class TrainConfig:
    """A training run's settings. Defaults: LeNet-5 on the bundled MNIST, >= 97% test accuracy in seconds.

    ``settings`` are the model's own settings (see ``cnnviz.get_spec(model)``); the
    dataset fills in ``in_channels``, ``input_size`` and ``num_classes`` unless given.
    ``subset`` trains on the first N training images only ("overfit a tiny subset
    first"); ``image_size`` resizes every image (e.g. 16 to make deep nets quick on a CPU).
    """

    model: str = "lenet5"
    settings: dict[str, Any] = field(default_factory=dict)
    dataset: str = "mnist"
    optimizer: str = "adam"
    lr: float = 3e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_epochs: float = 0.0  # linear learning-rate warm-up before the schedule (0: none)
    batch_size: int = 64
    epochs: int = 12
    init: str = "default"
    augment: str = "shift"
    seed: int = 0
    max_seconds: float | None = None
    subset: int | None = None
    image_size: int | None = None
    device: str = "auto"
    amp: bool = True
    track_grad_norms: bool = False

    def model_settings(self) -> dict[str, Any]:
        """The recommended settings for this model, overridden by the user's."""
        return {**RECOMMENDED_SETTINGS.get(self.model, {}), **self.settings}

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["settings"] = self.model_settings()
        return out

    def validate(self) -> "TrainConfig":
        """Raise :class:`ConfigError` with a clear message for any impossible value; return self."""
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("init", self.init, INITS)
        _choice("augment", self.augment, AUGMENTS)
        _choice("device", self.device, DEVICES)
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        _number("lr", self.lr, 0.0, 10.0, low_open=True)
        _number("momentum", self.momentum, 0.0, 0.999)
        _number("weight_decay", self.weight_decay, 0.0, 1.0)
        _number("warmup_epochs", self.warmup_epochs, 0.0, 10000.0)
        _integer("batch_size", self.batch_size, 1, 65536)
        _integer("epochs", self.epochs, 1, 10000)
        _integer("seed", self.seed, 0, 2**31 - 1)
        if self.max_seconds is not None:
            _number("max_seconds", self.max_seconds, 0.0, 7 * 24 * 3600.0, low_open=True)
        if self.subset is not None:
            _integer("subset", self.subset, 1, 10**8)
        if self.image_size is not None:
            _integer("image_size", self.image_size, 4, 1024)
        if not isinstance(self.settings, dict):
            raise ConfigError("settings must be a dict of model settings, e.g. {'variant': 'modern'}")
        return self


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(choices)}")


def _number(name: str, value: Any, lo: float, hi: float, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if value < lo or (low_open and value == lo) or value > hi:
        bound = f"above {lo:g}" if low_open else f"at least {lo:g}"
        raise ConfigError(f"{name} must be {bound} and at most {hi:g}, got {value:g}")


def _integer(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
