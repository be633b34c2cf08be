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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """The checked config of :meth:`to_dict`'s output (a job's spec); unknown keys are a ConfigError."""
        if not isinstance(data, dict):
            raise ConfigError("a training run's settings must be a dict")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown training setting {unknown[0][:40]!r}; known: {', '.join(sorted(known))}")
        return cls(**data).validate()

    def validate(self) -> "TrainConfig":
        """Raise :class:`ConfigError` with a clear message for any impossible value; return self."""
        for f in FIELDS.values():
            f.check(getattr(self, f.name))
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if not isinstance(self.settings, dict):
            raise ConfigError("settings must be a dict of model settings, e.g. {'variant': 'modern'}")
        if not isinstance(self.amp, bool) or not isinstance(self.track_grad_norms, bool):
            raise ConfigError("amp and track_grad_norms must be true or false")
        return self


@dataclass(frozen=True)
class Field:
    """One training setting's bounds: ``kind`` is choice, int or float; an ``optional`` one may be None
    (the page shows None as 0, "none"). The CLI's options, the page's widgets and :meth:`TrainConfig.validate`
    all read this table."""

    name: str
    kind: str
    lo: float = 0.0
    hi: float = 0.0
    choices: tuple[str, ...] = ()
    optional: bool = False
    low_open: bool = False  # lo itself is refused (a learning rate of 0 learns nothing)
    help: str = ""

    def check(self, value: Any) -> None:
        if value is None and self.optional:
            return
        if self.kind == "choice":
            _choice(self.name, value, self.choices)
        elif self.kind == "int":
            _integer(self.name, value, int(self.lo), int(self.hi))
        else:
            _number(self.name, value, self.lo, self.hi, low_open=self.low_open)


FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("optimizer", "choice", choices=OPTIMIZERS, help="adam, or sgd with momentum"),
    Field("lr", "float", 0.0, 10.0, low_open=True, help="learning rate"),
    Field("momentum", "float", 0.0, 0.999, help="SGD momentum"),
    Field("weight_decay", "float", 0.0, 1.0, help="L2 penalty on the weights"),
    Field("schedule", "choice", choices=SCHEDULES, help="learning-rate schedule"),
    Field("warmup_epochs", "float", 0.0, 100.0, help="linear learning-rate warm-up, in epochs (0: none)"),
    Field("batch_size", "int", 1, 4096, help="images per training step"),
    Field("epochs", "int", 1, 1000, help="passes over the training images"),
    Field("init", "choice", choices=INITS, help="weight initialisation"),
    Field("augment", "choice", choices=AUGMENTS, help="data augmentation"),
    Field("seed", "int", 0, 2**31 - 1, help="random seed (weights, order, augmentation)"),
    Field("max_seconds", "float", 0.0, 7 * 24 * 3600.0, optional=True, low_open=True,
          help="stop training after this many seconds"),
    Field("subset", "int", 1, 10**7, optional=True, help="train on the first N training images only"),
    Field("image_size", "int", 4, 1024, optional=True, help="resize the images to N x N pixels"),
    Field("device", "choice", choices=DEVICES, help="auto: CUDA, then MPS, then the CPU"),
)}


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
