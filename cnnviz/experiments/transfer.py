"""Transfer learning: a network trained on digits 0-4 reused for digits 5-9 with 5 images per class."""
from __future__ import annotations

from typing import Any

from torch import nn

from cnnviz.experiments.common import Emit, Planned, Runner, check, load
from cnnviz.train.config import TrainConfig
from cnnviz.zoo import build

TITLE = "Transfer learning: scratch vs the three cases"
RUNS = ("scratch", "new_head", "freeze_early", "finetune_all")
LESSON = "every transfer case beats scratch; fine-tuning all beats it by at least 5 points"
NOTES = ("The course notes' three cases with little data: train only a new head on the frozen features, freeze the "
         "early layers and train the rest, or fine-tune everything. A small VGG first learns digits 0-4 (the "
         "source, 3 epochs on its 1,800 images); each case then starts from its weights with a new 5-class head "
         "and learns digits 5-9 from only 5 images per class in 4 short epochs. Scratch is the same network from "
         "random weights. All four use the same images, epochs and optimiser (Adam, learning rate 1e-3). With so "
         "little data and time, scratch is still finding its first features while the reused ones are ready: that "
         "head start is what transfer learning buys (given many more epochs scratch closes part of the gap).")
SOURCE, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
SIZES = {"tiny": dict(source_images=64, source_epochs=1, per_class=2, epochs=1),
         "quick": dict(source_images=None, source_epochs=3, per_class=5, epochs=4),
         "full": dict(source_images=None, source_epochs=4, per_class=10, epochs=60)}
FROZEN = {"scratch": (), "new_head": ("features",), "freeze_early": ("features.block1",), "finetune_all": ()}


def _net() -> nn.Module:
    return build("tinyvgg", in_channels=1, input_size=28, num_classes=5, width=16)


def run(seed: int, size: str, device: str, emit: Emit) -> dict[str, Any]:
    dev = check(seed, size, device)
    s = SIZES[size]
    source_data = load("mnist", s["source_images"], dev, classes=SOURCE)
    target_data = load("mnist", None, dev, classes=TARGET)
    x, y = target_data["train"]
    pick = [i for c in range(len(TARGET)) for i in (y == c).nonzero().flatten()[:s["per_class"]].tolist()]
    target_data["train"] = (x[pick], y[pick])
    source_cfg = TrainConfig(optimizer="adam", lr=1e-3, schedule="none", batch_size=32, epochs=s["source_epochs"],
                             augment="none")
    cfg = source_cfg.replace(batch_size=10, epochs=s["epochs"])
    trained: list[nn.Module] = []

    def case(name: str):  # noqa: ANN202 - prepares the case's model from the trained source
        def prepare(model: nn.Module) -> None:
            if name != "scratch":
                body = {k: v for k, v in trained[0].state_dict().items() if not k.startswith("head.")}
                model.load_state_dict(body, strict=False)
            for prefix in FROZEN[name]:
                for p in model.get_submodule(prefix).parameters():
                    p.requires_grad_(False)
        return prepare

    plan = [Planned("source", _net, source_data, source_cfg, prepare=lambda m: trained.append(m))]
    plan += [Planned(name, _net, target_data, cfg, prepare=case(name)) for name in RUNS]
    runs = Runner(plan, emit, seed).train_all()
    source = runs.pop("source")
    for r in runs.values():
        r["source_test_accuracy"] = source["test_accuracy"]
    return {"runs": runs}


def lesson(result: dict[str, Any]) -> tuple[bool, str]:
    r = result["runs"]
    scratch = r["scratch"]["test_accuracy"]
    gains = {k: r[k]["test_accuracy"] - scratch for k in RUNS[1:]}
    shown = all(g > 0 for g in gains.values()) and gains["finetune_all"] >= 0.05
    cases = ", ".join(f"{k} {r[k]['test_accuracy']:.1%} ({g * 100:+.1f})" for k, g in gains.items())
    return shown, (f"Test accuracy on digits 5-9: scratch {scratch:.1%}; {cases} points over scratch; every case "
                   f"must beat scratch and fine-tuning all by at least 5 points.")
