"""fit(): the plain training loop and its events; evaluate(): the held-out scores."""
from __future__ import annotations

import json
import time

import pytest
import torch
from torch import nn

from cnnviz.train.config import TrainConfig
from cnnviz.train.evaluate import evaluate
from cnnviz.train.loop import fit, lr_at

CPU = dict(device="cpu", augment="none", batch_size=16)


def _data(n: int = 96, seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Two classes a small net separates at once: bright or dark 8x8 images."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 1, 8, 8, generator=g) * 0.3 + (y.float() * 2 - 1)[:, None, None, None]
    return {"train": (x[: n // 2 + 16], y[: n // 2 + 16]), "val": (x[n // 2 + 16:], y[n // 2 + 16:])}


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 2))


def test_fit_emits_start_progress_and_epoch_events() -> None:
    events: list[dict] = []
    result = fit(_net(), _data(), TrainConfig(epochs=3, **CPU), emit=events.append, label="tiny")
    json.dumps(events)  # every event can cross a process boundary as JSON
    assert all(e["run"] == "tiny" for e in events)
    start = events[0]
    assert start["type"] == "start" and start["runs"] == ["tiny"] and start["epochs"] == 3
    assert start["batches"] == 4 and start["steps"] == 12  # 64 images in batches of 16
    progress = [e for e in events if e["type"] == "progress"]
    assert [e["step"] for e in progress] == list(range(1, 13))  # one after every step
    assert [(e["epoch"], e["batch"]) for e in progress[:5]] == [(1, 1), (1, 2), (1, 3), (1, 4), (2, 1)]
    assert all(e["epochs"] == 3 and e["batches"] == 4 and e["images_per_s"] > 0 for e in progress)
    assert progress[-1]["seconds_left"] == 0 and progress[0]["seconds_left"] > 0
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3] and all(e["split"] == "val" for e in epochs)
    assert all(0 <= e[k] <= 1 for e in epochs for k in ("train_accuracy", "test_accuracy"))
    assert epochs[-1]["test_accuracy"] > 0.9 and epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    order = [e["type"] for e in events]
    assert order.index("epoch") > max(i for i, t in enumerate(order) if t == "progress" and events[i]["step"] == 4)
    assert result.reason == "finished" and result.steps == 12 and result.images == 192 and result.epochs_done == 3
    assert result.history.epochs[-1]["val_accuracy"] == epochs[-1]["test_accuracy"]  # the curves are the events
    assert len(result.history.steps) == 12 and result.images_per_second > 0 and result.device.startswith("cpu")


def test_fit_stops_within_one_step_and_reports_the_partial_epoch() -> None:
    events: list[dict] = []
    steps = [0]

    def stop() -> bool:
        steps[0] += 1
        return steps[0] >= 6

    result = fit(_net(), _data(), TrainConfig(epochs=50, **CPU), emit=events.append, should_stop=stop)
    assert result.reason == "stopped" and result.steps == 6
    last = [e for e in events if e["type"] == "epoch"][-1]
    assert last["epoch"] == pytest.approx(1.5)  # 6 steps of 4 per epoch


class _Slow(nn.Module):
    """A layer that takes 0.15 s: a slow network whose epoch (4 steps) lasts longer than a second."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(0.15)
        return x


def test_progress_comes_at_least_once_a_second() -> None:
    stamps: list[float] = []
    t0 = time.monotonic()
    fit(nn.Sequential(_Slow(), _net()), _data(), TrainConfig(epochs=2, **CPU),
        emit=lambda e: stamps.append(time.monotonic()))
    assert stamps[-1] - t0 > 1.0 and max(b - a for a, b in zip([t0, *stamps], stamps)) < 1.0


def test_time_limit_and_grad_norms() -> None:
    events: list[dict] = []
    result = fit(_net(), _data(), TrainConfig(epochs=2, track_grad_norms=True, **CPU), emit=events.append)
    norms = [e for e in events if e["type"] == "grad_norms"]
    assert [e["epoch"] for e in norms] == [0.0, 1.0, 2.0] and norms[0]["layers"] == ["0", "3"]
    assert all(len(e["norms"]) == 2 and all(v > 0 for v in e["norms"]) for e in norms)
    assert result.history.grad_layers == ["0", "3"]
    limited = fit(_net(), _data(), TrainConfig(epochs=10000, max_seconds=0.2, **CPU))
    assert limited.reason == "time limit" and limited.epochs_done < 10000


def test_warm_up_climbs_linearly_then_the_schedule_runs() -> None:
    cfg = TrainConfig(lr=0.1, warmup_epochs=2, schedule="cosine")
    lrs = [lr_at(cfg, s, total=20, steps_per_epoch=4) for s in range(20)]
    assert lrs[:8] == pytest.approx([0.1 * (i + 1) / 8 for i in range(8)])
    assert lrs[8] == pytest.approx(0.1) and lrs[-1] < 0.01 and lrs[8:] == sorted(lrs[8:], reverse=True)
    assert lr_at(TrainConfig(lr=0.1, schedule="none"), 0, 10, 1) == 0.1
    events: list[dict] = []
    fit(_net(), _data(), TrainConfig(epochs=2, warmup_epochs=1, schedule="none", lr=0.01, **CPU),
        emit=events.append)
    assert [e["lr"] for e in events if e["type"] == "progress"] == pytest.approx(
        [0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01, 0.01, 0.01])


def test_same_seed_same_run() -> None:
    a = fit(_net(), _data(), TrainConfig(epochs=2, seed=3, **{**CPU, "augment": "shift"}))
    b = fit(_net(), _data(), TrainConfig(epochs=2, seed=3, **{**CPU, "augment": "shift"}))
    assert a.history.epochs[-1]["train_loss"] == b.history.epochs[-1]["train_loss"]


def test_evaluate_scores_confusion_and_most_confident_mistakes() -> None:
    model = nn.Linear(2, 3)
    with torch.no_grad():
        model.weight.copy_(torch.eye(3, 2))
        model.bias.zero_()
    x = torch.tensor([[5.0, 0], [0, 5.0], [3.0, 0], [0, 1.0], [0, 0]])
    y = torch.tensor([0, 1, 1, 0, 2])
    scores = evaluate(model, (x, y))
    json.dumps(scores)
    assert scores["accuracy"] == pytest.approx(2 / 5) and scores["images"] == 5
    assert scores["confusion"] == [[1, 1, 0], [1, 1, 0], [1, 0, 0]]
    assert sum(map(sum, scores["confusion"])) == 5
    mistakes = scores["mistakes"]
    assert [m["index"] for m in mistakes] == [2, 3, 4] and all(m["true"] != m["predicted"] for m in mistakes)
    assert [m["confidence"] for m in mistakes] == sorted((m["confidence"] for m in mistakes), reverse=True)
    assert scores["loss"] > 0 and evaluate(model, (x, y), max_mistakes=1)["mistakes"] == mistakes[:1]
