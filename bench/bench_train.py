"""Training speed of the app's run objects vs a bare PyTorch loop: same model, data, batch size, device.

The bare loop is what a tutorial writes: tensors on the device, ``randperm``, forward,
cross-entropy, ``zero_grad``, backward, ``step`` (with autocast + GradScaler on CUDA,
as the app). :class:`~cnnviz.train.TrainingRun` (notebook, CLI) does the same plus what
the page needs: live curves, progress, the learning-rate schedule, a stop check, the
CPU-thread tuner and a validation pass after every epoch; a ``train`` job of
:mod:`cnnviz.jobs` (what the web page starts) runs that in a pre-started worker process and streams its
events back. All run
without data augmentation; the bare loop uses the CPU threads the app settled on. They
alternate for ``--rounds`` rounds; the medians are compared. Target: app / bare >= 0.9.
The load average is printed: other work on the machine makes every number noisy.

Run: ``.venv/bin/python bench/bench_train.py [--model lenet5] [--dataset mnist] [--epochs 3]``
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from cnnviz import jobs  # noqa: E402

from cnnviz.data import load_dataset  # noqa: E402
from cnnviz.train import TrainConfig, TrainingRun  # noqa: E402
from cnnviz.zoo import build  # noqa: E402

TARGET = 0.9


def bare_loop(cfg: TrainConfig, device: torch.device, threads: int | None = None,
              channels_last: bool = False) -> tuple[float, int]:
    """Seconds and training images of ``cfg.epochs`` epochs of a tutorial's plain loop over the same training
    images (``cfg.subset`` honoured): tensors on the device, randperm, forward under autocast on CUDA,
    cross-entropy, backward through a GradScaler, step; the model and images channels-last if asked."""
    if threads:
        torch.set_num_threads(threads)
    data = load_dataset(cfg.dataset)
    x, y = (t[:cfg.subset].to(device) if cfg.subset else t.to(device) for t in data.tensors("train"))
    c, h, _ = data.image_shape
    torch.manual_seed(cfg.seed)
    model = build(cfg.model, in_channels=c, input_size=h, num_classes=data.num_classes, **cfg.model_settings())
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model, x = model.to(device, memory_format=fmt), x.contiguous(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    bs, n = cfg.batch_size, len(x)
    model.train()
    _sync(device)
    start = time.perf_counter()
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, device=device)
        for i in range(n // bs):
            idx = perm[i * bs:(i + 1) * bs]
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    _sync(device)
    return time.perf_counter() - start, (n // bs) * bs * cfg.epochs


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="model setting")
    return parser.parse_args()


def measure(cfg: TrainConfig, rounds: int) -> None:
    """Alternate the three loops ``rounds`` times and print the medians and ratios."""
    images = (load_dataset(cfg.dataset).size("train") // cfg.batch_size) * cfg.batch_size * cfg.epochs
    times: dict[str, list[float]] = {"bare": [], "run": [], "run_wall": [], "job": []}
    spec = {"config": cfg.to_dict(), "save": False}
    TrainingRun(cfg.replace(epochs=1)).run()  # warm-up (kernel selection, data cache)
    jobs.run("train", {"config": cfg.replace(epochs=1).to_dict(), "save": False}, owner="bench")  # starts a worker
    for r in range(rounds):
        run = TrainingRun(cfg).run()
        job = jobs.run("train", spec, owner="bench")
        assert run.result is not None
        times["run"].append(run.result.train_seconds)
        times["run_wall"].append(run.result.seconds)
        times["job"].append(job["train_seconds"])
        times["bare"].append(bare_loop(cfg, run.device, run.cpu_threads)[0])
        print(f"round {r + 1}: images/s bare loop {images / times['bare'][-1]:,.0f}, TrainingRun "
              f"{images / times['run'][-1]:,.0f}, train job {images / times['job'][-1]:,.0f}; "
              f"{run.device_name}", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{cfg.model} {cfg.model_settings()} on {cfg.dataset}, batch {cfg.batch_size}, {cfg.epochs} epochs "
          f"({images:,} images), device {run.device_name}, load average {os.getloadavg()[0]:.1f}")
    print(f"bare PyTorch loop:                     {images / med['bare']:10,.0f} images/s")
    for key, label in (("run", "TrainingRun, training steps:"), ("run_wall", "TrainingRun, with validation:"),
                       ("job", "train job (the page), steps:")):
        print(f"{label:<39}{images / med[key]:10,.0f} images/s   ratio {med['bare'] / med[key]:.2f}x")
    worst = min(med["bare"] / med["run"], med["bare"] / med["job"])
    print(f"{'meets' if worst >= TARGET else 'MISSES'} the target: app / bare >= {TARGET}x (training steps)")


def main() -> None:
    args = parse()
    cfg = TrainConfig(model=args.model, dataset=args.dataset, batch_size=args.batch_size, epochs=args.epochs,
                      augment="none", device=args.device, settings=dict(i.split("=", 1) for i in args.set)).validate()
    measure(cfg, args.rounds)


if __name__ == "__main__":
    main()
