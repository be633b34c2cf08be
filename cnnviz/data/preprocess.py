"""The course notes' preprocessing steps as plain functions on arrays, ready to plot.

"Preprocessing of training dataset: normalize data; decorrelate data (diagonal
covariance matrix); whitening of data (identity covariance matrix); subtract mean."
Each image becomes a row vector (pixels x channels, average-pooled so that the
covariance matrix stays small enough to draw); every step returns the new rows and
their covariance, so a page can show the covariance before and after.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

# The per-channel statistics a pretrained ImageNet network was trained with (torchvision's weights)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def as_matrix(images: torch.Tensor, max_dim: int = 196) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Images (N, C, H, W) -> rows (N, D) with D <= ``max_dim`` (average-pooled), and the pooled shape."""
    c, h, w = images.shape[1:]
    factor = 1
    while c * math.ceil(h / factor) * math.ceil(w / factor) > max_dim and factor < max(h, w):
        factor += 1
    x = images.float()
    if factor > 1:
        x = F.avg_pool2d(x, factor, ceil_mode=True)
    shape = tuple(x.shape[1:])
    return x.reshape(len(x), -1).double().numpy(), shape  # type: ignore[return-value]


def normalize_channels(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Per-channel ``(x - mean) / std``: every channel gets mean 0 and standard deviation 1."""
    m = torch.tensor(mean, dtype=images.dtype)[:, None, None]
    s = torch.tensor(std, dtype=images.dtype)[:, None, None]
    return (images - m) / s


def subtract_mean(x: np.ndarray) -> np.ndarray:
    """Subtract the mean image (per pixel, over the samples): every column gets mean 0."""
    return x - x.mean(axis=0, keepdims=True)


def covariance(x: np.ndarray) -> np.ndarray:
    """Covariance matrix (D, D) of the rows of ``x``."""
    xc = subtract_mean(x)
    return xc.T @ xc / max(1, len(x) - 1)


def pca(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (largest first) and eigenvectors (columns) of the covariance of ``x``."""
    values, vectors = np.linalg.eigh(covariance(x))
    order = np.argsort(values)[::-1]
    return np.clip(values[order], 0, None), vectors[:, order]


def decorrelate(x: np.ndarray) -> np.ndarray:
    """Rotate onto the principal axes: the covariance becomes diagonal (the eigenvalues)."""
    _, vectors = pca(x)
    return subtract_mean(x) @ vectors


def pca_whiten(x: np.ndarray, eps: float = 0.1) -> np.ndarray:
    """Decorrelate, then divide each axis by sqrt(eigenvalue + eps): covariance close to the identity.

    ``eps`` keeps axes with almost no variance (MNIST's empty corners) from being blown
    up into noise: their variance ends below 1 instead of at 1.
    """
    values, vectors = pca(x)
    return subtract_mean(x) @ vectors / np.sqrt(values + eps)


def zca_whiten(x: np.ndarray, eps: float = 0.1) -> np.ndarray:
    """PCA whitening rotated back to pixel space: identity-like covariance, still looks like an image."""
    _, vectors = pca(x)
    return pca_whiten(x, eps) @ vectors.T


def off_diagonal(cov: np.ndarray) -> float:
    """Mean absolute off-diagonal entry: how correlated the pixels are (0 = decorrelated)."""
    d = len(cov)
    return float((np.abs(cov).sum() - np.abs(np.diag(cov)).sum()) / max(1, d * d - d))


@dataclass(frozen=True)
class Step:
    """One preprocessing step: its rows, their covariance and, where they are images, their shape."""

    key: str
    title: str
    what: str
    rows: np.ndarray
    cov: np.ndarray
    image_shape: tuple[int, int, int] | None

    @property
    def off_diagonal(self) -> float:
        return off_diagonal(self.cov)


def preprocessing_steps(pixels: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...],
                        eps: float = 0.1, max_dim: int = 196) -> list[Step]:
    """Raw -> normalised -> mean subtracted -> decorrelated -> PCA-whitened -> ZCA-whitened.

    ``pixels``: images in [0, 1], (N, C, H, W); ``mean``/``std``: per-channel statistics.
    """
    raw, shape = as_matrix(pixels, max_dim)
    norm, _ = as_matrix(normalize_channels(pixels, mean, std), max_dim)
    centred = subtract_mean(norm)
    rows = [
        ("raw", "Raw pixels", "Pixel values in [0, 1]: neighbouring pixels are strongly correlated.", raw, shape),
        ("normalized", "Normalised", "Per channel: subtract the channel mean, divide by its standard deviation.",
         norm, shape),
        ("mean_subtracted", "Mean subtracted", "Subtract the mean image: every pixel has mean 0 over the data.",
         centred, shape),
        ("decorrelated", "Decorrelated (PCA)", "Rotate onto the principal axes: diagonal covariance matrix.",
         decorrelate(norm), None),
        ("pca_whitened", "PCA whitened", "Decorrelate and scale every axis to variance 1: identity covariance "
         f"(eps={eps:g} keeps near-empty axes below 1).", pca_whiten(norm, eps), None),
        ("zca_whitened", "ZCA whitened", "Whitened, then rotated back to pixels: identity-like covariance, edges "
         "stand out.", zca_whiten(norm, eps), shape),
    ]
    return [Step(k, t, w, r, covariance(r), s) for k, t, w, r, s in rows]
