"""``python -m cnnviz train MODEL --dataset NAME [--epochs N] [--set key=value ...] [--json]``: a training job;
``python -m cnnviz checkpoints [--share NAME | --unshare NAME | --prune]``: the server's checkpoints.

The options are :data:`cnnviz.train.config.FIELDS` (their bounds are checked there); the run goes through
:func:`cnnviz.jobs.run`, like a run from the app. Sharing is the lecturer's: whoever runs commands on the
server (its files are theirs); a student's page cannot share a checkpoint.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from typing import Any

from cnnviz import jobs
from cnnviz.cli_args import parse_settings
from cnnviz.data import DATASETS
from cnnviz.errors import ConfigError
from cnnviz.train.checkpoints import MIN_EPOCHS, checkpoint_path, list_checkpoints, prune_checkpoints, share
from cnnviz.train.config import FIELDS, TrainConfig
from cnnviz.zoo import get_spec

_DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}
_TYPES = {"int": int, "float": float}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` sub-command's options: one per training setting, default that of :class:`TrainConfig`."""
    parser.add_argument("model", help="a zoo model, e.g. lenet5, mlp, tinyvgg, resnet20 (python -m cnnviz list)")
    parser.add_argument("--dataset", choices=list(DATASETS), help=f"default {_DEFAULTS['dataset']}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a model setting, repeatable (lenet5 trains with variant=modern batch_norm=true "
                             "unless set)")
    for f in FIELDS.values():
        default = _DEFAULTS[f.name]
        shown = f"; default {default:g}" if isinstance(default, float) else f"; default {default}"
        extra: dict[str, Any] = {"choices": f.choices} if f.kind == "choice" else {"type": _TYPES[f.kind]}
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name,
                            help=f.help + ("" if default is None else shown), **extra)
    parser.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    parser.add_argument("--no-save", action="store_true", help="do not save a checkpoint")
    parser.add_argument("--name", help="checkpoint file name (default: model-dataset-time)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """A checked :class:`TrainConfig` from the parsed options."""
    get_spec(args.model)  # an unknown model fails here, with suggestions
    changes: dict[str, Any] = {k: getattr(args, k) for k in ("dataset", *FIELDS) if getattr(args, k, None) is not None}
    if args.no_amp:
        changes["amp"] = False
    return TrainConfig(model=args.model, settings=parse_settings(args.set), **changes).validate()


def _print_event(event: dict[str, Any]) -> None:
    if event.get("type") == "start":
        return
    if event.get("type") == "epoch":
        e = event
        print(f"epoch {e['epoch']:6.2f}  train loss {e['train_loss']:.4f} acc {e['train_accuracy']:.2%}  "
              f"val loss {e['val_loss']:.4f} acc {e['val_accuracy']:.2%}  lr {e['lr']:.2g}  {e['seconds']:.1f}s",
              flush=True)


def run(args: argparse.Namespace) -> int:
    """Train, print the epochs (or one JSON object with ``--json``); 0 on success, 1 if training failed.

    Bad input raises ConfigError (found before or during the run): ``cnnviz.cli`` prints it, exit code 2.
    """
    cfg = config_from_args(args)
    if args.name and not args.no_save and checkpoint_path(args.name).exists():  # before training, not after
        raise ConfigError(f"a checkpoint called {checkpoint_path(args.name).stem!r} exists already; choose "
                          "another --name")
    # the command line is the lecturer's (or the server's): its checkpoints are shared with the class
    params: dict[str, Any] = {"config": cfg.to_dict(), "name": args.name, "shared": True,
                              "save": False if args.no_save else (True if args.name else None)}
    if not args.json:
        print(f"training {cfg.model} {cfg.model_settings()} on {cfg.dataset} (Ctrl-C stops and keeps what was "
              "learned)", flush=True)
    try:
        result = jobs.run("train", params, owner="cli", on_event=None if args.json else _print_event)
    except jobs.JobFailed as exc:
        print(f"error: training failed: {exc}", file=sys.stderr, flush=True)
        return 1
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k not in ("steps", "grad_norms", "mistakes")},
                         indent=2))
        return 0
    if result.get("checkpoint") is None and not args.no_save:
        print(f"not saved: a run stopped before {MIN_EPOCHS:g} epoch is kept only with --name", flush=True)
    print(f"test accuracy {result['test_accuracy']:.2%} on {sum(map(sum, result['confusion'])):,} held-out "
          f"images; {result['seconds']:.1f}s of training at {result['images_per_second']:,.0f} images/s "
          f"({result['reason']}), {result['device']}")
    if result.get("checkpoint"):
        print(f"checkpoint: {result['checkpoint']}")
    return 0


def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``checkpoints`` sub-command's options."""
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--share", metavar="NAME", help="show this checkpoint to the whole class")
    what.add_argument("--unshare", metavar="NAME", help="show it to its owner only again")
    what.add_argument("--prune", action="store_true", help="delete what is past the count cap or too old now "
                                                           "(CNNVIZ_MAX_CHECKPOINTS per owner, CNNVIZ_CHECKPOINT_DAYS)")


def checkpoints(args: argparse.Namespace) -> int:
    """List every checkpoint on this server (owner, shared, usable), or share, unshare or prune."""
    if args.share or args.unshare:
        path = share(args.share or args.unshare, shared=bool(args.share))
        print(f"{path.stem}: {'shared with the class' if args.share else 'its owner only'}")
        return 0
    if args.prune:
        owners = {c.owner for c in list_checkpoints()}
        gone = [p for owner in sorted(owners, key=str) for p in prune_checkpoints(owner=owner)]
        print(f"deleted {len(gone)} checkpoint{'s' if len(gone) != 1 else ''}")
        return 0
    for c in list_checkpoints():
        accuracy = "" if c.test_accuracy is None else f"{c.test_accuracy:.2%}"
        whose = "the command line" if c.owner is None else f"a browser ({c.owner[:6]}...)"
        state = f"unusable: {c.error}" if c.error else ("shared" if c.shared else "private")
        print(f"{c.name:<48} {c.model:<14} {c.dataset:<14} {accuracy:>7}  {whose}, {state}")
    return 0
