"""Datasets (splits, statistics, the stand-in, torchvision offline) and the preprocessing steps."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from cnnviz.errors import ConfigError
from cnnviz.data import DATASETS, load_dataset, preprocessing_steps
from cnnviz.data import datasets as ds
from cnnviz.data.preprocess import as_matrix, covariance, decorrelate, pca_whiten, zca_whiten
from cnnviz.data.standin import CLASSES, make_standin


def _hashes(x: torch.Tensor) -> set[str]:
    return {hashlib.sha1(img.numpy().tobytes()).hexdigest() for img in x}


def test_mnist_splits_are_stratified_disjoint_and_fixed() -> None:
    data = load_dataset("mnist")
    assert data.image_shape == (1, 28, 28) and data.classes == tuple("0123456789")
    assert {s: data.size(s) for s in ("train", "val", "test")} == {"train": 3600, "val": 400, "test": 1000}
    assert (data.counts("test") == 100).all() and (data.counts("val") == 40).all()
    train, val, test = (_hashes(data.images[s]) for s in ("train", "val", "test"))
    assert not (train & test) and not (val & test) and not (train & val)  # the test split is held out
    # the splits are a property of the dataset: another load gives the same test images
    ds._load.cache_clear()
    assert torch.equal(load_dataset("mnist").images["test"], data.images["test"])
    # shuffled: the first 100 training labels are not all one class (the raw data is sorted by class)
    assert len(np.unique(data.labels["train"][:100].numpy())) == 10


def test_normalised_tensors_have_zero_mean_unit_std_on_train() -> None:
    for name in ("mnist", "cifar_standin"):
        data = load_dataset(name)
        x, y = data.tensors("train")
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(x.shape[1]), atol=1e-4)
        assert torch.allclose(x.std(dim=(0, 2, 3)), torch.ones(x.shape[1]), atol=1e-3)
        assert len(data.mean) == len(data.std) == data.image_shape[0]


def test_digits8x8_scales_its_17_grey_levels() -> None:
    data = load_dataset("digits8x8")
    px = data.pixels("train")
    assert data.image_shape == (1, 8, 8) and px.min() == 0 and px.max() == 1
    assert sum(data.size(s) for s in ("train", "val", "test")) == 1797


def test_standin_is_deterministic_balanced_and_colour_is_not_enough() -> None:
    x1, y1 = make_standin(20, seed=3)
    x2, y2 = make_standin(20, seed=3)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert x1.shape == (200, 3, 32, 32) and x1.dtype == np.uint8
    assert (np.bincount(y1) == 20).all() and len(CLASSES) == 10
    data = load_dataset("cifar_standin")
    assert data.image_shape == (3, 32, 32) and (data.counts("test") == 100).all()
    # not trivial: nearest class centroid on the mean colour of an image is far from solving it
    feats = {s: data.pixels(s).mean(dim=(2, 3)).numpy() for s in ("train", "test")}
    ytr, yte = data.labels["train"].numpy(), data.labels["test"].numpy()
    centroids = np.stack([feats["train"][ytr == c].mean(0) for c in range(10)])
    pred = np.argmin(((feats["test"][:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert 0.1 < (pred == yte).mean() < 0.5


def test_unknown_dataset_and_bad_split_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")
    with pytest.raises(ConfigError, match="unknown split"):
        load_dataset("mnist").pixels("holdout")


def test_torchvision_dataset_offline_names_its_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("CNNVIZ_DATA", str(tmp_path))
    monkeypatch.setattr(ds, "_online", lambda address, timeout=3.0: False)
    ds._load.cache_clear()
    with pytest.raises(ConfigError, match="offline dataset CIFAR-shaped stand-in") as err:
        load_dataset("cifar10")
    assert str(tmp_path) not in str(err.value)  # a student reads it: no server folder
    data = load_dataset("mnist_full", fallback=True)
    assert data.name == "mnist" and data.size("test") == 1000 and "could not be downloaded" in data.note
    assert DATASETS["cifar10"].fallback == "cifar_standin"
    ds._load.cache_clear()


def test_as_matrix_pools_to_at_most_max_dim() -> None:
    x = torch.rand(5, 3, 32, 32)
    rows, shape = as_matrix(x, max_dim=196)
    assert rows.shape == (5, int(np.prod(shape))) and rows.shape[1] <= 196 and shape[0] == 3
    rows, shape = as_matrix(x[:, :1, :8, :8], max_dim=196)
    assert shape == (1, 8, 8)  # small enough: untouched


def test_whitening_gives_identity_covariance_and_decorrelation_a_diagonal_one() -> None:
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(6, 6))
    x = rng.normal(size=(4000, 6)) @ mix + 3.0  # correlated, not centred
    values = np.linalg.eigvalsh(covariance(x))[::-1]
    dec = covariance(decorrelate(x))
    assert np.allclose(dec, np.diag(np.diag(dec)), atol=1e-8)  # diagonal ...
    assert np.allclose(np.diag(dec), values)  # ... with the eigenvalues, largest first
    assert np.allclose(covariance(pca_whiten(x, eps=0.0)), np.eye(6), atol=1e-8)
    assert np.allclose(covariance(zca_whiten(x, eps=0.0)), np.eye(6), atol=1e-8)
    # eps shrinks the variance of weak directions below 1 instead of blowing them up
    assert (np.diag(covariance(pca_whiten(x, eps=1.0))) < 1).all()


def test_preprocessing_steps_on_mnist() -> None:
    data = load_dataset("mnist")
    steps = {s.key: s for s in preprocessing_steps(data.pixels("train")[:500], data.mean, data.std)}
    assert list(steps) == ["raw", "normalized", "mean_subtracted", "decorrelated", "pca_whitened", "zca_whitened"]
    assert np.allclose(steps["mean_subtracted"].rows.mean(0), 0, atol=1e-9)
    assert steps["raw"].off_diagonal > 0 and steps["decorrelated"].off_diagonal < 1e-9
    assert steps["zca_whitened"].image_shape == steps["raw"].image_shape
    assert np.diag(steps["pca_whitened"].cov).max() <= 1.0 + 1e-9
