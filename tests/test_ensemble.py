"""Ensembles average probabilities; 10-crop makes 10 views per image and averages their predictions."""
from __future__ import annotations

import os

import pytest
import torch
from torch import nn

from cnnviz.train import ensemble as E
from cnnviz.train.tensors import accuracy
from cnnviz.errors import ConfigError


def _linear(seed: int, size: int = 8, classes: int = 4) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * size * size, classes))


def test_ensemble_averages_the_members_probabilities() -> None:
    x = torch.randn(10, 3, 8, 8)
    models = [_linear(s) for s in range(3)]
    expected = sum(torch.softmax(m(x), dim=1) for m in models) / 3
    got = E.average_probabilities(models, x, batch_size=4)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got.sum(dim=1), torch.ones(10))
    # the average of probabilities, not of logits: they differ in general
    logits_mean = torch.softmax(sum(m(x) for m in models) / 3, dim=1)
    assert not torch.allclose(got, logits_mean)
    with pytest.raises(ConfigError):
        E.average_probabilities([], x)


def test_accuracy_and_model_bytes() -> None:
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert accuracy(probs, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    model = nn.Sequential(nn.Linear(10, 5), nn.BatchNorm1d(5))
    assert E.model_bytes(model) == 4 * (55 + 10 + 10) + 8  # params, running mean/var, num_batches_tracked


def test_ten_crop_gives_corners_centre_and_their_mirrors() -> None:
    x = torch.arange(2 * 3 * 10 * 12, dtype=torch.float32).reshape(2, 3, 10, 12)
    s = 6
    views = E.ten_crop_views(x, s)
    assert views.shape == (2, 10, 3, s, s)
    top, left = (10 - s) // 2, (12 - s) // 2
    five = [x[..., :s, :s], x[..., :s, -s:], x[..., -s:, :s], x[..., -s:, -s:],
            x[..., top:top + s, left:left + s]]
    expected = five + [v.flip(-1) for v in five]
    for img in range(2):
        got = [views[img, i] for i in range(10)]
        for want in expected:
            assert sum(torch.equal(g, want[img]) for g in got) == 1
    torch.testing.assert_close(E.centre_crop(x, s), five[4])


def test_ten_crop_predictions_are_the_mean_over_views() -> None:
    x = torch.randn(5, 3, 10, 10)
    model = _linear(0, size=8)
    views = E.ten_crop_views(x, 8)
    expected = torch.stack([torch.softmax(model(views[:, i]), dim=1) for i in range(10)]).mean(dim=0)
    torch.testing.assert_close(E.ten_crop_probabilities(model, x, 8, batch_size=7), expected)
    with pytest.raises(ConfigError, match="does not fit"):
        E.ten_crop_views(x, 11)


def test_small_ensemble_run() -> None:
    seen = []
    r = E.run_ensemble("mnist", k=2, train_size=40, epochs=1, settings={"width": 4},
                       progress=lambda m, f: seen.append(f))
    assert len(r.members) == 2 and [m.seed for m in r.members] == [0, 1]
    assert len(r.curve) == 2 and r.curve[0] == r.members[0].test_accuracy and r.curve[-1] == r.ensemble_accuracy
    assert r.bytes_all == 2 * r.bytes_one and r.mean_member_accuracy == pytest.approx(
        sum(m.test_accuracy for m in r.members) / 2)
    assert r.test_size == 1000 and r.train_size == 40 and seen[-1] == 1.0
    with pytest.raises(ConfigError, match="2 to 10"):
        E.run_ensemble("mnist", k=1)


def test_small_multicrop_run() -> None:
    r = E.run_multicrop("cifar_standin", crop=24, train_size=40, epochs=1, settings={"width": 4})
    assert r.crop == 24 and r.image_size == 32 and r.test_size == 1000
    assert 0 <= r.centre_accuracy <= 1 and 0 <= r.ten_crop_accuracy <= 1 and r.ten_crop_seconds > 0
    with pytest.raises(ConfigError, match="crop must be"):
        E.run_multicrop("cifar_standin", crop=32)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("CNNVIZ_SLOW_TESTS") != "1", reason="the full experiments: set CNNVIZ_SLOW_TESTS=1")
def test_the_effects_the_page_teaches() -> None:
    ens = E.run_ensemble("mnist")
    assert ens.ensemble_accuracy > ens.mean_member_accuracy
    crop = E.run_multicrop("cifar_standin")
    assert crop.ten_crop_accuracy >= crop.centre_accuracy
