"""Training a given model on given uint8 tensors, and reading its predictions: what the transfer,
ensemble, multi-crop and augmentation experiments share.

:class:`TensorRun` trains with the training engine's loop (:class:`cnnviz.train.TrainingRun`),
optionally through a per-image ``torchvision.transforms.v2`` pipeline; :func:`probabilities` and
:func:`accuracy` read a trained model; :func:`build_model` sizes a zoo model for a dataset.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import nn

from cnnviz import guard
from cnnviz.data import Dataset
from cnnviz.errors import ConfigError
from cnnviz.train.run import TrainingRun
from cnnviz.zoo import build

Splits = dict[str, tuple[torch.Tensor, torch.Tensor]]  # split -> (uint8 images (N, C, H, W), labels (N,))


class _Batches:
    """uint8 images that index like a tensor: ``x[idx]`` is the normalised (and augmented) batch."""

    def __init__(self, images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, device: torch.device,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        self.images, self.mean, self.std, self.device, self.transform = images, mean, std, device, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: Any) -> torch.Tensor:
        batch = self.images[idx.cpu() if isinstance(idx, torch.Tensor) else idx]
        if self.transform is not None:
            batch = torch.stack([self.transform(img) for img in batch])
        return normalise(batch, self.mean, self.std).to(self.device)


def normalise(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float, scaled to [0, 1] and standardised per channel."""
    return (images.float() / 255 - mean[:, None, None]) / std[:, None, None]


class TensorRun(TrainingRun):
    """A :class:`TrainingRun` of ``network`` on ``splits`` (train / val / test uint8 tensors).

    ``transform`` (e.g. an augmentation pipeline) is applied to each training image, each
    time it is drawn. ``mean`` / ``std`` normalise the inputs (a pretrained network keeps its
    own). ``config`` changes (``epochs``, ``lr``, ``seed`` ...) are the engine's; its
    ``dataset`` only names the data. Frozen parameters (``requires_grad=False``) are not
    given to the optimizer, and frozen modules listed in ``frozen`` stay in eval mode
    (batch-norm statistics unchanged). ``threads`` defaults to 1: on images of 32 pixels or
    less, per-image augmentation and small convolutions run faster on one thread than on two
    (no synchronisation between threads), and a busy machine does not make them crawl.
    """

    def __init__(self, network: nn.Module, splits: Splits, classes: Sequence[str], mean: Sequence[float],
                 std: Sequence[float], *, transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 frozen: Sequence[str] = (), label: str = "", threads: int | None = 1, **changes: Any) -> None:
        missing = [s for s in ("train", "val", "test") if s not in splits]
        if missing:
            raise ConfigError(f"TensorRun needs train, val and test splits; missing {', '.join(missing)}")
        super().__init__(label=label, **{"augment": "none", **changes})
        self.network = network
        self.splits = splits
        self.classes = tuple(classes)
        self.mean_std = (torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32))
        self.transform = transform
        self.frozen = tuple(frozen)
        self.threads = threads

    def _prepare(self) -> tuple[nn.Module, Dataset]:
        self.phase = "building the model"
        name, settings = getattr(self.network, "cnnviz_name", None), getattr(self.network, "cnnviz_settings", None)
        if name is not None and settings is not None:  # the resource budget, as the engine checks it
            shape = tuple(self.splits["val"][0].shape[1:])  # what the network sees (train may be cropped)
            guard.check_model(name, settings, input_shape=shape, purpose="training",
                              batch_size=self.config.batch_size)
        torch.manual_seed(self.config.seed)
        model = self.network.to(self.device)
        for name in self.frozen:
            model.get_submodule(name).register_forward_pre_hook(_keep_eval)
        mean, std = self.mean_std
        x, y = self.splits["train"]
        self._data = {"train": (_Batches(x, mean, std, self.device, self.transform), y.to(self.device))}
        for split in ("val", "test"):
            xs, ys = self.splits[split]
            self._data[split] = (normalise(xs, mean, std).to(self.device), ys.to(self.device))
        self.train_images = len(y)
        data = Dataset(name=self.config.dataset, title=self.label, about="", classes=self.classes,
                       images={s: v[0] for s, v in self.splits.items()},
                       labels={s: v[1] for s, v in self.splits.items()})
        data._cache["stats"] = (mean, std)
        return model, data


def _keep_eval(module: nn.Module, _inputs: Any) -> None:
    """Forward pre-hook on a frozen module: run it in eval mode even while the rest trains."""
    module.eval()


def train_tensors(network: nn.Module, splits: Splits, classes: Sequence[str], mean: Sequence[float],
                  std: Sequence[float], *, report: Callable[[str, float], None] | None = None, message: str = "",
                  span: tuple[float, float] = (0.0, 1.0), **kwargs: Any) -> TensorRun:
    """Train and return the finished :class:`TensorRun` (its ``model`` is ``network``, trained).

    With ``report``, the run trains in its own thread while ``report(message, fraction)`` is
    called a few times a second, the fraction going from ``span[0]`` to ``span[1]``.
    """
    run = TensorRun(network, splits, classes, mean, std, **kwargs)
    if report is None:
        run.run()
        return run
    run.start()
    lo, hi = span
    try:
        while not run.wait(0.25):
            report(message, lo + (hi - lo) * run.progress.fraction)
    except BaseException:
        run.stop()
        raise
    if run.status == "failed":
        raise ConfigError(run.error or "training failed")
    return run


@torch.no_grad()
def probabilities(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Softmax outputs (N, classes) of ``model`` in eval mode, in batches."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        out = [torch.softmax(model(images[i:i + batch_size].to(device)).float(), dim=1).cpu()
               for i in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out)


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of the rows whose most probable class is the label."""
    return float((probs.argmax(dim=1) == labels).float().mean())


def balanced_subset(labels: torch.Tensor, size: int, num_classes: int) -> torch.Tensor:
    """Indices of the first ``size // num_classes`` images of each class."""
    per_class = max(1, size // num_classes)
    return torch.cat([torch.nonzero(labels == c).flatten()[:per_class] for c in range(num_classes)])


def build_model(name: str, data: Any, settings: dict[str, Any] | None = None) -> torch.nn.Module:
    """A zoo model sized for ``data`` (channels, image size, classes); tinyvgg defaults to ``width`` 8.

    A narrow network trains in seconds on a CPU and, on a few hundred images, overfits
    clearly: what the augmentation and ensemble experiments need to show their effect.
    """
    c, h, _ = data.image_shape
    defaults = {"width": 8} if name == "tinyvgg" else {}
    return build(name, in_channels=c, input_size=h, num_classes=data.num_classes, **{**defaults, **(settings or {})})
