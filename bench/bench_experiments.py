"""Every one-click experiment of the app at the page's default settings: time, and the effect it teaches.

The Training lab's experiments (at the size the page picks on this device: ``quick`` on a
CPU) and the little-data experiments of the Augmentation and Transfer pages, each run the
way its page runs it, one after the other, from a fresh ``$CNNVIZ_HOME`` (so the transfer
experiment also pretrains its source network, as on a fresh server). Each line gives the
wall time, whether it stayed under the 60 s target, and the numbers that show the effect.

Run: ``.venv/bin/python bench/bench_experiments.py [--only transfer,ensemble]``
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["CNNVIZ_HOME"] = tempfile.mkdtemp(prefix="cnnviz-bench-")  # cold: nothing cached yet

from cnnviz import augment as A  # noqa: E402
from cnnviz.train import ensemble as E  # noqa: E402
from cnnviz.train import transfer as T  # noqa: E402
from cnnviz.train.augment_gap import compare_with_without  # noqa: E402
from cnnviz.train.experiments import EXPERIMENTS, ExperimentRun, default_size, get_experiment  # noqa: E402

TARGET_S = 60.0


def training_experiment(key: str) -> Callable[[], str]:
    """One of the Training lab's experiments, each run in its own process as the page does."""
    def run() -> str:
        job = ExperimentRun(get_experiment(key), isolate=True)
        job.run()
        parts = []
        for r in job.runs:
            train = r.history.epochs[-1]["train_accuracy"] if r.history.epochs else float("nan")
            test = r.result.test_accuracy if r.result else float("nan")
            parts.append(f"{r.label}: train {train:.1%} test {test:.1%}")
        return "; ".join(parts)
    return run


def augment() -> str:
    r = compare_with_without(dataset="mnist")
    return (f"gap without {r.without.gap:+.1%} (test {r.without.test_accuracy:.1%}), with "
            f"{r.with_augmentation.gap:+.1%} (test {r.with_augmentation.test_accuracy:.1%}): "
            f"narrowed by {r.gap_change:.1%}")


def transfer() -> str:
    r = T.run_transfer("mnist")
    cases = ", ".join(f"{c.title} {c.test_accuracy:.1%}" for c in r.cases)
    return f"source {r.source_accuracy:.1%} ({r.source_seconds:.1f} s); {cases}"


def shelf() -> str:
    out = T.features_experiment("mnist")
    return f"logistic regression on {out['features']} features: test {out['test_accuracy']:.1%}"


def ensemble() -> str:
    r = E.run_ensemble("mnist")
    cost = r.predict_seconds_all / max(r.predict_seconds_one, 1e-9)
    return (f"members {', '.join(f'{m.test_accuracy:.1%}' for m in r.members)}; mean {r.mean_member_accuracy:.1%}, "
            f"ensemble {r.ensemble_accuracy:.1%} ({r.gain:+.1%}); predicting costs {cost:.1f}x one net")


def multicrop() -> str:
    r = E.run_multicrop("cifar_standin")
    return (f"centre crop {r.centre_accuracy:.1%} ({r.centre_seconds:.2f} s), 10 crops {r.ten_crop_accuracy:.1%} "
            f"({r.ten_crop_seconds:.2f} s): {r.gain:+.1%}")


JOBS: dict[str, Callable[[], str]] = {**{k: training_experiment(k) for k in EXPERIMENTS}, "augment": augment,
                                      "transfer": transfer, "shelf": shelf, "ensemble": ensemble,
                                      "multicrop": multicrop}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated, among {', '.join(JOBS)}")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(JOBS)
    unknown = [n for n in names if n not in JOBS]
    if unknown:
        parser.error(f"unknown experiment {unknown[0]!r}")
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}, training experiments at size "
          f"{default_size()!r}; target under {TARGET_S:.0f} s each")
    slow = 0
    for name in names:
        start = time.perf_counter()
        effect = JOBS[name]()
        seconds = time.perf_counter() - start
        ok = seconds < TARGET_S
        slow += not ok
        print(f"{name:18s} {seconds:6.1f} s  {'ok  ' if ok else 'SLOW'}  {effect}", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
