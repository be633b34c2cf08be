"""``python -m cnnviz experiment NAME [--seed N] [--size quick|full] [--device auto|cpu|cuda] [--json]``.

Runs one of :mod:`cnnviz.experiments` through the job layer (job kind ``experiment``), as the page does;
progress goes to stderr about once a second; ``--json`` prints exactly the experiment's JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from cnnviz import experiments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help=f"one of {', '.join(experiments.NAMES)}")
    parser.add_argument("--seed", type=int, default=0, help="random seed (weights and batch order; default 0)")
    parser.add_argument("--size", choices=experiments.SIZES, default=None,
                        help="quick: the CPU default (each about a minute at most); full: paper-sized, for a GPU")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _progress_printer() -> Any:
    last = [0.0]

    def show(event: dict[str, Any]) -> None:
        if event.get("type") != "progress" or time.monotonic() - last[0] < 1.0:
            return
        last[0] = time.monotonic()
        left = event.get("seconds_left")
        stage = (f"{event['phase']} ({event.get('fraction', 0):.0%})" if "phase" in event
                 else f"epoch {event['epoch']}/{event['epochs']}")
        print(f"run {event.get('run_index', 0) + 1}/{event.get('runs_total', 1)} {event['run']}: {stage}, "
              f"{event['images_per_s']:.0f} images/s, "
              f"{'about %.0f s left' % left if left is not None else 'estimating time left'}",
              file=sys.stderr, flush=True)

    return show


def _rows(runs: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for label, r in runs.items():
        if isinstance(r, list):
            rows += [(f"{label}[{i}]", m) for i, m in enumerate(r)]
        else:
            rows.append((label, r))
    return rows


def run(args: argparse.Namespace) -> int:
    """Bad input raises ConfigError (``cnnviz.cli`` prints it, exit code 2)."""
    from cnnviz import jobs

    module = experiments.get(args.name)  # a clear message before any job starts
    experiments.common.check(args.seed, args.size or "quick", args.device)
    params = {"name": args.name, "seed": args.seed, "size": args.size, "device": args.device}
    result = jobs.run("experiment", params, on_event=_progress_printer())
    if not result:
        print("stopped: no result", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result))
        return 0
    shown, words = module.lesson(result)
    print(f"{module.TITLE} (seed {result['seed']}, {result['device']}, {result['seconds']:.1f} s)")
    print(f"{'run':16}{'train acc':>11}{'test acc':>10}{'train loss':>12}{'test loss':>11}{'params':>10}")
    for label, r in _rows(result["runs"]):
        print(f"{label:16}{r['train_accuracy']:>11.1%}{r['test_accuracy']:>10.1%}{r['train_loss']:>12.3f}"
              f"{r['test_loss']:>11.3f}{r['params']:>10,}")
    print(f"The lesson: {module.LESSON}.")
    print(("Shown. " if shown else "NOT shown by this run. ") + words)
    return 0
