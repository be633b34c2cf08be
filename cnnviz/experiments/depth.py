"""Plain vs residual nets, 20 and 56 layers: the degradation problem and how skip connections fix it."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from cnnviz.data import load_dataset
from cnnviz.experiments.common import Emit, Planned, Runner, check, load
from cnnviz.train.gradients import gradient_norms
from cnnviz.train.config import TrainConfig
from cnnviz.zoo import build

TITLE = "Plain vs residual nets, 20 and 56 layers"
RUNS = ("plain20", "plain56", "resnet20", "resnet56")
LESSON = ("plain-56 trains worse than plain-20 (higher training loss); ResNet-56 is at least 10 points above "
          "plain-56 on test accuracy; ResNet-56's training loss is no worse than 1.1x ResNet-20's")
NOTES = ("He et al. 2016: \"the 56-layer model performs worse on both training and test error\" than the 20-layer "
         "one: not overfitting but an optimisation problem. All four nets train with the same data, epochs and "
         "optimiser: SGD with momentum 0.9, weight decay 1e-4, learning rate 0.05 (0.1, the paper's, at the full "
         "size) with a one-epoch linear warm-up (He et al. warm up ResNet-110; Goyal et al. 2017) then cosine "
         "decay, batch norm everywhere, and the last batch norm of each residual block initialised to zero (Goyal "
         "et al. 2017), so a residual block starts as the identity. The plain nets have no skip to zero, so they "
         "keep the default initialisation.")
SIZES = {"tiny": dict(dataset="mnist", n_train=64, image_size=8, width_mult=0.25, epochs=1),
         "quick": dict(dataset="mnist", n_train=1200, image_size=12, width_mult=0.5, epochs=5, lr=0.05),
         "full": dict(dataset="cifar10", n_train=None, image_size=None, width_mult=1.0, epochs=30)}


def run(seed: int, size: str, device: str, emit: Emit) -> dict[str, Any]:
    dev = check(seed, size, device)
    s = SIZES[size]
    data = load(s["dataset"], s["n_train"], dev, s["image_size"])
    c, h = data["train"][0].shape[1], data["train"][0].shape[-1]
    cfg = TrainConfig(optimizer="sgd", lr=s.get("lr", 0.1), momentum=0.9, weight_decay=1e-4, schedule="cosine",
                      warmup_epochs=1.0, batch_size=32, epochs=s["epochs"], augment="none",
                      amp=True)

    def builder(name: str):  # noqa: ANN202 - a model factory
        extra = {"zero_init_residual": True} if name.startswith("resnet") else {}
        return lambda: build(name, in_channels=c, input_size=h, num_classes=10, width_mult=s["width_mult"], **extra)

    runner = Runner([Planned(name, builder(name), data, cfg) for name in RUNS], emit, seed)
    return {"runs": runner.train_all()}


def lesson(result: dict[str, Any]) -> tuple[bool, str]:
    r = result["runs"]
    p20, p56, r20, r56 = (r[k] for k in RUNS)
    degraded = p56["train_loss"] > p20["train_loss"]
    fixed = r56["test_accuracy"] - p56["test_accuracy"] >= 0.10
    deep_ok = r56["train_loss"] <= 1.1 * r20["train_loss"]
    words = (f"Plain-56's training loss {p56['train_loss']:.3f} is {'above' if degraded else 'not above'} plain-20's "
             f"{p20['train_loss']:.3f}{' (the degradation problem)' if degraded else ''}; ResNet-56 scores "
             f"{r56['test_accuracy']:.1%} on the test images vs plain-56's {p56['test_accuracy']:.1%} "
             f"({(r56['test_accuracy'] - p56['test_accuracy']) * 100:+.1f} points, needs +10); ResNet-56's training "
             f"loss {r56['train_loss']:.3f} is {r56['train_loss'] / max(r20['train_loss'], 1e-12):.2f}x ResNet-20's "
             f"(needs at most 1.1x).")
    return degraded and fixed and deep_ok, words


def init_gradients(models: tuple[str, ...] = RUNS, batch_norm: bool = True, image_size: int = 16, batch: int = 32,
                   seed: int = 0) -> dict[str, list[tuple[str, float]]]:
    """Per-layer gradient norms at initialisation for each model, on one batch of the CIFAR-shaped set: without
    batch norm the plain net's gradients vanish towards the input; with it they do not, yet it trains worse."""
    x, y = load_dataset("cifar_standin").tensors("train")
    x = F.interpolate(x[:batch], size=(image_size, image_size), mode="bilinear", antialias=True)
    out = {}
    for name in models:
        torch.manual_seed(seed)
        out[name] = gradient_norms(build(name, input_size=image_size, batch_norm=batch_norm), (x, y[:batch]))
    return out
