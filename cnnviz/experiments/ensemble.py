"""Model ensembles: five networks from different random starts, their probabilities averaged."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from cnnviz.experiments.common import Emit, Planned, Runner, check, load
from cnnviz.train.config import TrainConfig
from cnnviz.train.evaluate import probabilities
from cnnviz.zoo import build

TITLE = "Model ensembles"
RUNS = ("members", "ensemble")
LESSON = "the average beats its mean member by at least 1 point and is at least as good as its best member"
NOTES = ("The course notes: train several independent models and average their predictions at test time, for "
         "about 2% extra. Five copies of the same small VGG, each from its own random weights and batch order, and "
         "each on its own bootstrap sample of the same 300 digits (bagging, Breiman 1996: members that err "
         "differently are what an average needs); the same epochs and optimiser (Adam, learning rate 1e-3). The "
         "ensemble averages their softmax probabilities.")
K = 5
SIZES = {"tiny": dict(n_train=64, epochs=1), "quick": dict(n_train=300, epochs=10), "full": dict(n_train=1000, epochs=20)}


def _scores(models: list[torch.nn.Module], x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Loss and accuracy of the averaged probabilities."""
    probs = torch.stack([probabilities(m, x)[0] for m in models]).mean(0)
    loss = F.nll_loss(probs.clamp_min(1e-12).log(), y).item()
    return loss, (probs.argmax(1) == y).float().mean().item()


def run(seed: int, size: str, device: str, emit: Emit) -> dict[str, Any]:
    dev = check(seed, size, device)
    data = load("mnist", SIZES[size]["n_train"], dev)
    cfg = TrainConfig(optimizer="adam", lr=1e-3, schedule="none", batch_size=32, epochs=SIZES[size]["epochs"],
                      augment="none")

    def net():  # noqa: ANN202
        return build("tinyvgg", in_channels=1, input_size=28, num_classes=10, width=8)

    x, y = data["train"]
    gen = torch.Generator().manual_seed(seed)
    plan = []
    for i in range(K):
        pick = torch.randint(0, len(y), (len(y),), generator=gen).to(y.device)  # a bootstrap sample
        plan.append(Planned(f"member{i + 1}", net, {"train": (x[pick], y[pick]), "test": data["test"]}, cfg))
    runner = Runner(plan, emit, seed)
    members = list(runner.train_all().values())
    train_loss, train_acc = _scores(runner.models, *data["train"])
    test_loss, test_acc = _scores(runner.models, *data["test"])
    ensemble = {"train_accuracy": train_acc, "test_accuracy": test_acc, "train_loss": train_loss,
                "test_loss": test_loss, "params": sum(m["params"] for m in members),
                "seconds": sum(m["seconds"] for m in members)}
    return {"runs": {"members": members, "ensemble": ensemble}}


def lesson(result: dict[str, Any]) -> tuple[bool, str]:
    members = [m["test_accuracy"] for m in result["runs"]["members"]]
    ens = result["runs"]["ensemble"]["test_accuracy"]
    mean, best = sum(members) / len(members), max(members)
    shown = ens - mean >= 0.01 and ens >= best
    return shown, (f"The ensemble of {len(members)} scores {ens:.1%}: {(ens - mean) * 100:+.1f} points over its mean "
                   f"member ({mean:.1%}; needs +1) and {(ens - best) * 100:+.1f} over its best ({best:.1%}; needs 0 "
                   f"or more).")
