"""Multi-crop testing: the average over 10 crops vs the centre crop, for a net trained on random crops."""
from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from cnnviz.experiments.common import Emit, Planned, Runner, check, load
from cnnviz.train.config import TrainConfig
from cnnviz.train.evaluate import probabilities
from cnnviz.zoo import build

TITLE = "Centre crop vs 10-crop testing"
RUNS = ("centre_crop", "ten_crop")
LESSON = "10-crop is at least as good as the centre crop"
NOTES = ("AlexNet and the course notes: train on random crops (and mirrors), then at test time average the "
         "predictions over 10 crops (4 corners and the centre, and their mirrors). One small VGG trained on random "
         "28x28 crops of 32x32 images (AlexNet's 224 of 256) with random mirrors (Adam, learning rate 1e-3), then "
         "tested both ways on the same test images.")
CROP = 28
CHUNK = 50  # images per step of the test (500 crops): under a second on one busy core
SIZES = {"tiny": dict(n_train=64, epochs=1), "quick": dict(n_train=2000, epochs=8), "full": dict(n_train=None, epochs=20)}


class RandomCrops:
    """Training images as fit() reads them: each batch randomly cropped and mirrored, from a seeded generator."""

    def __init__(self, images: torch.Tensor, crop: int, seed: int) -> None:
        self.images, self.crop = images, crop
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    def unaugmented(self) -> torch.Tensor:
        return v2.CenterCrop(self.crop)(self.images)

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.images[idx]
        n, room = len(x), x.shape[-1] - self.crop
        dy, dx = torch.randint(0, room + 1, (2, n), generator=self.gen).tolist()
        out = torch.stack([x[i, :, a:a + self.crop, b:b + self.crop] for i, (a, b) in enumerate(zip(dy, dx))])
        flip = (torch.rand(n, generator=self.gen) < 0.5).to(x.device)
        return torch.where(flip[:, None, None, None], out.flip(3), out)


def _scores(probs: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    return F.nll_loss(probs.clamp_min(1e-12).log(), y).item(), (probs.argmax(1) == y).float().mean().item()


def run(seed: int, size: str, device: str, emit: Emit) -> dict[str, Any]:
    dev = check(seed, size, device)
    data = load("cifar_standin", SIZES[size]["n_train"], dev)
    cfg = TrainConfig(optimizer="adam", lr=1e-3, schedule="none", batch_size=32, epochs=SIZES[size]["epochs"],
                      augment="none")
    full = dict(data)
    centre = v2.CenterCrop(CROP)
    train = {"train": (RandomCrops(data["train"][0], CROP, seed), data["train"][1]),
             "test": (centre(data["test"][0]), data["test"][1])}

    def net():  # noqa: ANN202
        return build("tinyvgg", in_channels=3, input_size=CROP, num_classes=10, width=16)

    n_eval = len(data["train"][1]) + len(data["test"][1])
    plan = [Planned("random_crops", net, train, cfg, after_images=11 * n_eval)]  # type: ignore[arg-type]
    runner = Runner(plan, emit, seed)
    trained = runner.train(0)
    model = runner.models[0]
    runs, seen, t = {}, 0, time.perf_counter()
    for label in RUNS:
        row = {"train_loss": trained["train_loss"], "params": trained["params"], "seconds": trained["seconds"]}
        for split in ("train", "test"):
            x, y = full[split]
            parts = []
            for i in range(0, len(x), CHUNK):  # in chunks: the page hears how far it is at least once a second
                part = x[i:i + CHUNK]
                if label == "centre_crop":
                    parts.append(probabilities(model, centre(part))[0])
                    seen += len(part)
                else:
                    views = torch.stack(v2.TenCrop(CROP)(part), dim=1)
                    parts.append(probabilities(model, views.flatten(0, 1))[0].reshape(len(part), 10, -1).mean(1))
                    seen += 10 * len(part)
                runner.after(0, "testing on the centre crop" if label == "centre_crop" else "testing on 10 crops",
                             seen / (11 * n_eval), seen / max(time.perf_counter() - t, 1e-6))
            loss, acc = _scores(torch.cat(parts), y)
            row[f"{split}_accuracy"] = acc
            if split == "test":
                row["test_loss"] = loss
        runs[label] = row
    return {"runs": runs}


def lesson(result: dict[str, Any]) -> tuple[bool, str]:
    c, t = (result["runs"][k]["test_accuracy"] for k in RUNS)
    return t >= c, (f"Test accuracy with the centre crop {c:.1%}, averaged over 10 crops {t:.1%} "
                    f"({(t - c) * 100:+.1f} points; needs 0 or more).")
