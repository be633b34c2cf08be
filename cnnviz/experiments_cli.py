"""``python -m cnnviz experiment {augment,transfer,ensemble,multicrop} [--json]``: the little-data experiments.

Each prints its numbers as a table (or one JSON object with ``--json``); progress goes to stderr.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any, Callable

from cnnviz.errors import ConfigError

WHICH = ("augment", "transfer", "ensemble", "multicrop")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One sub-command per experiment, each with its sizes (defaults: those the app uses)."""
    sub = parser.add_subparsers(dest="which", required=True, metavar="{" + ",".join(WHICH) + "}")
    p = sub.add_parser("augment", help="the same small network trained without and with augmentation")
    p.add_argument("--dataset", choices=["mnist", "digits8x8", "cifar_standin"], default="mnist")
    p.add_argument("--train-size", type=int, default=500, help="training images (default 500)")
    p.add_argument("--epochs", type=int, default=20)
    p = sub.add_parser("transfer", help="from scratch vs the three transfer-learning cases on 3 new classes")
    p.add_argument("--dataset", choices=["mnist", "cifar_standin"], default="mnist")
    p.add_argument("--target", help="the target classes, e.g. 5,6,7 (default: mnist 5,6,7; cifar_standin 7,8,9); "
                                    "the source network learns the other classes")
    p.add_argument("--per-class", type=int, default=3, help="target training images per class (default 3)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--frozen-stages", type=int, default=1, help="case 2: how many early stages stay frozen")
    p.add_argument("--imagenet", action="store_true",
                   help="start from ResNet-18's ImageNet weights (only if already in the torch hub cache)")
    p = sub.add_parser("ensemble", help="k networks from different random initialisations, averaged")
    p.add_argument("--dataset", choices=["mnist", "cifar_standin"], default="mnist")
    p.add_argument("-k", type=int, default=5, help="networks (default 5)")
    p.add_argument("--train-size", type=int, default=500)
    p.add_argument("--epochs", type=int, default=10)
    p = sub.add_parser("multicrop", help="centre crop vs 10-crop testing")
    p.add_argument("--dataset", choices=["mnist", "cifar_standin"], default="cifar_standin")
    p.add_argument("--crop", type=int, default=28, help="crop size in pixels (default 28 of 32)")
    p.add_argument("--train-size", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=8)
    for p in sub.choices.values():
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--json", action="store_true", help="print one JSON object at the end")


def _progress() -> Callable[[str, float], None]:
    last = [""]

    def report(message: str, fraction: float) -> None:
        if message != last[0]:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)
            last[0] = message

    return report


def _target(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"--target {text!r}: write class numbers separated by commas, e.g. 5,6,7") from None


def _experiment(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """Run the chosen experiment; return its result and the derived numbers worth printing."""
    report = _progress()
    if args.which == "augment":
        from cnnviz.train.augment_gap import compare_with_without

        r = compare_with_without(dataset=args.dataset, train_size=args.train_size, epochs=args.epochs,
                                 seed=args.seed, progress=report)
        return r, {"gap_without": r.without.gap, "gap_with": r.with_augmentation.gap, "gap_change": r.gap_change}
    if args.which == "transfer":
        from cnnviz.train.transfer import run_transfer

        r = run_transfer(args.dataset, target=_target(args.target), per_class=args.per_class, epochs=args.epochs,
                         frozen_stages=args.frozen_stages, seed=args.seed,
                         pretrained="imagenet" if args.imagenet else "here", progress=report)
        return r, {"best": r.best().case}
    from cnnviz.train.ensemble import run_ensemble, run_multicrop

    if args.which == "ensemble":
        r = run_ensemble(args.dataset, k=args.k, train_size=args.train_size, epochs=args.epochs, seed=args.seed,
                         progress=report)
        return r, {"gain": r.gain}
    r = run_multicrop(args.dataset, crop=args.crop, train_size=args.train_size, epochs=args.epochs, seed=args.seed,
                      progress=report)
    return r, {"gain": r.gain}


def _print_text(which: str, r: Any) -> None:
    pct = "{:.1%}".format
    if which == "augment":
        print(f"{r.train_size} training images of {r.dataset}, {r.epochs} epochs; pipeline: {'; '.join(r.steps)}")
        print(f"{'':24}{'train acc':>11}{'test acc':>11}{'gap':>9}{'seconds':>9}")
        for g in (r.without, r.with_augmentation):
            print(f"{g.label:24}{pct(g.train_accuracy):>11}{pct(g.test_accuracy):>11}{g.gap * 100:>8.1f}p"
                  f"{g.seconds:>9.1f}")
        print(f"augmentation narrowed the train/test gap by {r.gap_change * 100:.1f} points")
    elif which == "transfer":
        print(f"source: {r.source_model} trained on {', '.join(r.source_classes)} (test accuracy "
              f"{pct(r.source_accuracy)}{', cached' if r.source_cached else ''}); target: "
              f"{', '.join(r.target_classes)} with {r.per_class} training images each, {r.test_size} test images")
        print(f"{'case':26}{'test acc':>10}{'trainable':>11}{'of':>9}{'seconds':>9}  frozen")
        for c in r.cases:
            print(f"{c.title:26}{pct(c.test_accuracy):>10}{c.trainable:>11,}{c.total:>9,}{c.seconds:>9.1f}  "
                  f"{', '.join(c.frozen) or '-'}")
        if r.off_the_shelf:
            s = r.off_the_shelf
            print(f"{'features off the shelf':26}{pct(s['test_accuracy']):>10}  ({s['features']} features + "
                  f"logistic regression, {s['seconds']:.1f}s)")
    elif which == "ensemble":
        print(f"{len(r.members)} x {r.model} on {r.train_size} images of {r.dataset}, {r.epochs} epochs")
        for m in r.members:
            print(f"  network seed {m.seed}: test accuracy {pct(m.test_accuracy)} ({m.train_seconds:.1f}s)")
        print(f"ensemble (mean of probabilities): {pct(r.ensemble_accuracy)}; average member "
              f"{pct(r.mean_member_accuracy)}, best member {pct(r.best_member_accuracy)}")
        print(f"cost: {r.train_seconds:.1f}s training, prediction {r.predict_seconds_all:.2f}s vs "
              f"{r.predict_seconds_one:.2f}s for one, memory {r.bytes_all / 1024:.0f} KiB vs "
              f"{r.bytes_one / 1024:.0f} KiB")
    else:
        print(f"{r.model} trained on random {r.crop}x{r.crop} crops of {r.train_size} {r.dataset} images "
              f"({r.image_size}x{r.image_size}), {r.epochs} epochs")
        print(f"centre crop: {pct(r.centre_accuracy)} in {r.centre_seconds:.2f}s; 10 crops: "
              f"{pct(r.ten_crop_accuracy)} in {r.ten_crop_seconds:.2f}s ({r.gain * 100:+.1f} points)")


def run(args: argparse.Namespace) -> int:
    """Run the experiment and print it; bad input raises ConfigError (``cnnviz.cli`` prints it, exit code 2)."""
    result, derived = _experiment(args)
    if args.json:
        print(json.dumps({"experiment": args.which, **dataclasses.asdict(result), **derived}, indent=2))
    else:
        _print_text(args.which, result)
    return 0

