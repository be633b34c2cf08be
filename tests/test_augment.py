"""Augmentations: deterministic under a seed, shape and dtype kept, PCA as numpy, code == object."""
from __future__ import annotations

import os

import numpy as np
import PIL.Image
import pytest
import torch

from cnnviz import augment as A
from cnnviz.train.augment_gap import compare_with_without
from cnnviz.errors import ConfigError

SIZE = (24, 30)  # not square, so height and width cannot be mixed up


def _rgb(seed: int = 0) -> torch.Tensor:
    """A smooth colour picture with structure (a random field would hide flips and shifts)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, SIZE[0]), torch.linspace(0, 1, SIZE[1]), indexing="ij")
    base = torch.stack([xx, yy, (xx * yy) ** 0.5]) * 180 + 30
    noise = torch.rand(3, *SIZE, generator=g) * 40
    return (base + noise).clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def pca() -> A.PCAStats:
    return A.fit_pca(torch.stack([_rgb(i) for i in range(4)]))


def _pipe(method: str, pca: A.PCAStats | None, channels: int = 3, **params) -> A.Pipeline:
    return A.Pipeline([A.step(method, **params)], size=SIZE, channels=channels, pca=pca)


@pytest.mark.parametrize("method", list(A.METHODS))
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_each_method_is_seeded_and_keeps_shape_and_dtype(method: str, dtype: torch.dtype, pca: A.PCAStats) -> None:
    img = _rgb() if dtype == torch.uint8 else A.as_float(_rgb())
    transform = _pipe(method, pca).transform()
    first = A.samples(transform, img, 6, seed=7)
    again = A.samples(transform, img, 6, seed=7)
    other = A.samples(transform, img, 6, seed=8)
    for a, b in zip(first, again):
        assert a.shape == img.shape and a.dtype == dtype
        assert torch.equal(a, b)
    changed = [not torch.equal(a, img) for a in first]
    assert any(changed), f"{method} never changed the image"
    if method == "pad":  # padding is the one method without randomness
        assert all(torch.equal(a, b) for a, b in zip(first, other))
    else:
        assert not all(torch.equal(a, b) for a, b in zip(first, other)), f"{method} ignores the seed"


@pytest.mark.parametrize("method", [k for k, m in A.METHODS.items() if not m.colour])
def test_grey_images_keep_one_channel(method: str) -> None:
    img = _rgb()[:1]
    out = A.apply(_pipe(method, None, channels=1).transform(), img, seed=1)
    assert out.shape == img.shape and out.dtype == torch.uint8


def test_seeding_does_not_disturb_the_global_generator() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    A.apply(_pipe("rotate", None).transform(), _rgb(), seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_pca_matches_numpy(pca: A.PCAStats) -> None:
    pixels = np.concatenate([(_rgb(i).numpy().reshape(3, -1) / 255.0) for i in range(4)], axis=1)
    cov = np.cov(pixels)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    np.testing.assert_allclose(pca.covariance.numpy(), cov, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(pca.eigenvalues.numpy(), values, rtol=1e-4, atol=1e-9)
    # eigenvectors are defined up to sign: compare |cosine|, and check they are orthonormal
    cosines = np.abs(np.sum(pca.eigenvectors.numpy() * vectors, axis=0))
    np.testing.assert_allclose(cosines, 1.0, atol=1e-4)
    np.testing.assert_allclose(pca.eigenvectors.numpy().T @ pca.eigenvectors.numpy(), np.eye(3), atol=1e-5)
    assert pca.pixels == pixels.shape[1]
    assert float(pca.explained.sum()) == pytest.approx(1.0)


def test_pca_shift_is_the_alexnet_formula(pca: A.PCAStats) -> None:
    img = torch.full((3, *SIZE), 0.5)
    out = A.apply(_pipe("pca_colour", pca, sigma=0.5).transform(), img, seed=11)
    torch.manual_seed(11)
    alpha = torch.randn(3) * 0.5
    shift = sum(alpha[i] * pca.eigenvalues[i] * pca.eigenvectors[:, i] for i in range(3))
    torch.testing.assert_close(out, (img + shift[:, None, None]).clamp(0, 1))
    assert float(shift.abs().max()) > 0  # the shift is real, the same for every pixel
    assert torch.allclose(out - out[:, :1, :1], torch.zeros_like(out), atol=1e-6)


def test_pca_needs_colour() -> None:
    with pytest.raises(ConfigError, match="RGB"):
        A.fit_pca(_rgb()[:1])
    with pytest.raises(ConfigError, match="grey"):
        _pipe("pca_colour", None, channels=1).calls()
    with pytest.raises(ConfigError, match="statistics"):
        _pipe("pca_colour", None).calls()


def test_pipeline_code_runs_and_gives_the_same_images(pca: A.PCAStats) -> None:
    steps = [A.step(k) for k in A.METHODS]
    pipe = A.Pipeline(steps, size=SIZE, pca=pca)
    code = A.pipeline_code(pipe)
    assert "cnnviz" not in code  # self-contained: runs without cnnviz installed
    namespace: dict = {}
    exec(compile(code, "<pipeline_code>", "exec"), namespace)  # noqa: S102 - our own generated code
    img = _rgb()
    for seed in range(3):
        ours = A.apply(pipe.transform(), img, seed)
        theirs = A.apply(namespace["augment"], img, seed)
        assert torch.equal(ours, theirs)
    assert code.count("v2.RandomAffine(") == 3 and "PCAColorAugmentation(eigenvalues=[" in code


def test_empty_pipeline_is_identity_and_its_code_runs() -> None:
    pipe = A.Pipeline([], size=SIZE)
    img = _rgb()
    assert torch.equal(A.apply(pipe.transform(), img, 0), img)
    namespace: dict = {}
    exec(A.pipeline_code(pipe), namespace)  # noqa: S102
    assert torch.equal(namespace["augment"](img), img)


def test_relative_sizes_become_pixels() -> None:
    call = _pipe("crop", None, padding=0.25).calls()[0]
    assert call.kwargs["padding"] == 6 and call.kwargs["size"] == list(SIZE)
    big = A.Pipeline([A.step("crop", padding=0.25)], size=(200, 300)).calls()[0]
    assert big.kwargs["padding"] == 50


def test_custom_transforms_take_pil_images() -> None:
    img = PIL.Image.fromarray(_rgb().permute(1, 2, 0).numpy())
    out = A.apply(A.ChannelShift(0.3), img, seed=0)
    assert isinstance(out, PIL.Image.Image) and out.size == img.size
    assert not np.array_equal(np.asarray(out), np.asarray(img))


def test_batch_draws_per_image() -> None:
    batch = torch.stack([_rgb()] * 4)
    out = A.augment_batch(_pipe("rotate", None, degrees=90.0).transform(), batch, seed=0)
    assert out.shape == batch.shape
    assert not torch.equal(out[0], out[1])
    assert torch.equal(out, A.augment_batch(_pipe("rotate", None, degrees=90.0).transform(), batch, seed=0))


@pytest.mark.parametrize(
    ("method", "params", "match"),
    [("warp", {}, "unknown augmentation"), ("rotate", {"angle": 3}, "no parameter"),
     ("rotate", {"degrees": 500}, "outside"), ("crop", {"padding_mode": "wrap"}, "choose one of"),
     ("elastic", {"alpha": "x"}, "not a number")],
)
def test_bad_steps_are_config_errors(method: str, params: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        A.step(method, **params)


def test_compare_with_without_trains_both_the_same_way() -> None:
    seen = []
    r = compare_with_without(dataset="mnist", train_size=40, epochs=1, settings={"width": 4},
                               progress=lambda m, f: seen.append(f))
    assert r.train_size == 40 and r.test_size == 1000 and r.epochs == 1
    assert r.without.label == "without augmentation" and r.with_augmentation.label == "with augmentation"
    for g in (r.without, r.with_augmentation):
        assert 0 <= g.train_accuracy <= 1 and 0 <= g.test_accuracy <= 1 and len(g.epochs) == 1
        assert g.gap == pytest.approx(g.train_accuracy - g.test_accuracy)
    assert r.gap_change == pytest.approx(r.without.gap - r.with_augmentation.gap)
    assert "v2.ElasticTransform" in r.code and seen == sorted(seen) and seen[-1] == 1.0
    with pytest.raises(ConfigError, match="empty"):
        compare_with_without([], dataset="mnist")
    with pytest.raises(ConfigError, match="grey"):
        compare_with_without([A.step("pca_colour")], dataset="mnist", train_size=40, epochs=1)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("CNNVIZ_SLOW_TESTS") != "1", reason="the full experiment: set CNNVIZ_SLOW_TESTS=1")
def test_augmentation_narrows_the_gap() -> None:
    r = compare_with_without(dataset="mnist")
    assert r.with_augmentation.gap < r.without.gap
