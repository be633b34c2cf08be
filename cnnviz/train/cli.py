"""``python -m cnnviz train MODEL --dataset NAME [--epochs N] [--set key=value ...] [--json]``."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from typing import Any

from cnnviz.errors import ConfigError
from cnnviz.data import DATASETS
from cnnviz.train.config import AUGMENTS, DEVICES, INITS, OPTIMIZERS, SCHEDULES, TrainConfig

_DEFAULTS = {f.name: f.default for f in fields(TrainConfig) if f.name != "settings"}
# argparse dest -> TrainConfig field, for the options that override the defaults only when given
_OPTIONS = ("dataset", "epochs", "lr", "momentum", "weight_decay", "schedule", "batch_size", "optimizer", "init",
            "augment", "seed", "max_seconds", "subset", "image_size", "device")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` sub-command's options (defaults: those of :class:`TrainConfig`)."""
    d = _DEFAULTS
    parser.add_argument("model", help="a zoo model, e.g. lenet5, mlp, tinyvgg, resnet20 (python -m cnnviz list)")
    parser.add_argument("--dataset", choices=list(DATASETS), help=f"default {d['dataset']}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a model setting, repeatable (lenet5 trains with variant=modern batch_norm=true "
                             "unless set)")
    parser.add_argument("--epochs", type=int, help=f"default {d['epochs']}")
    parser.add_argument("--lr", type=float, help=f"learning rate, default {d['lr']:g}")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help=f"default {d['optimizer']}")
    parser.add_argument("--momentum", type=float, help=f"SGD momentum, default {d['momentum']:g}")
    parser.add_argument("--weight-decay", type=float, help=f"default {d['weight_decay']:g}")
    parser.add_argument("--schedule", choices=SCHEDULES, help=f"learning-rate schedule, default {d['schedule']}")
    parser.add_argument("--batch-size", type=int, help=f"default {d['batch_size']}")
    parser.add_argument("--init", choices=INITS, help=f"weight initialisation, default {d['init']}")
    parser.add_argument("--augment", choices=AUGMENTS, help=f"data augmentation, default {d['augment']}")
    parser.add_argument("--seed", type=int, help=f"default {d['seed']}")
    parser.add_argument("--max-seconds", type=float, help="stop training after this many seconds")
    parser.add_argument("--subset", type=int, help="train on the first N training images only")
    parser.add_argument("--image-size", type=int, help="resize the images to N x N pixels")
    parser.add_argument("--device", choices=DEVICES, help="default auto: CUDA, then MPS, then CPU")
    parser.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    parser.add_argument("--no-save", action="store_true", help="do not save a checkpoint")
    parser.add_argument("--name", help="checkpoint file name (default: model-dataset-time)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """A checked :class:`TrainConfig` from the parsed options."""
    from cnnviz.cli import parse_settings
    from cnnviz.zoo import get_spec

    get_spec(args.model)  # an unknown model fails here, with suggestions
    changes: dict[str, Any] = {k: getattr(args, k) for k in _OPTIONS if getattr(args, k, None) is not None}
    if args.no_amp:
        changes["amp"] = False
    return TrainConfig(model=args.model, settings=parse_settings(args.set), **changes).validate()


def _print_epoch(e: dict[str, float]) -> None:
    print(f"epoch {e['epoch']:6.2f}  train loss {e['train_loss']:.4f} acc {e['train_accuracy']:.2%}  "
          f"val loss {e['val_loss']:.4f} acc {e['val_accuracy']:.2%}  lr {e['lr']:.2g}  {e['seconds']:.1f}s",
          flush=True)


def run(args: argparse.Namespace) -> int:
    """Train, print the epochs (or one JSON object with ``--json``); 0 on success, 1 if training failed.

    Bad input raises ConfigError: ``cnnviz.cli`` prints it as one line, exit code 2.
    """
    from cnnviz.train.checkpoints import MIN_EPOCHS, checkpoint_path, worth_keeping
    from cnnviz.train.run import TrainingRun

    try:
        cfg = config_from_args(args)
        if args.name and not args.no_save and checkpoint_path(args.name).exists():  # before training, not after
            raise ConfigError(f"a checkpoint called {checkpoint_path(args.name).stem!r} exists already; choose "
                              "another --name")
        job = TrainingRun(cfg)
        if not args.json:
            print(f"training {cfg.model} {cfg.model_settings()} on {cfg.dataset}, device {job.device_name}",
                  flush=True)
        job.start()
        shown = 0
        try:
            while not job.wait(0.25):
                epochs = job.history.epochs
                if not args.json:
                    for e in epochs[shown:]:
                        _print_epoch(e)
                shown = len(epochs)
        except KeyboardInterrupt:
            print("stopping after this batch ...", file=sys.stderr, flush=True)
            job.stop()
            job.wait()
        if job.status == "failed":
            raise job.exception if isinstance(job.exception, ConfigError) else RuntimeError(job.error)
        if not args.json:
            for e in job.history.epochs[shown:]:
                _print_epoch(e)
        if not args.no_save and (args.name or worth_keeping(job.result)):  # a name asks for it
            job.save_checkpoint(args.name)
        elif not args.no_save and not args.json:
            print(f"not saved: a run stopped before {MIN_EPOCHS:g} epoch is kept only with --name", flush=True)
    except RuntimeError as exc:
        print(f"error: training failed: {exc}", file=sys.stderr)
        return 1
    summary = job.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    r = job.result
    assert r is not None
    print(f"test accuracy {r.test_accuracy:.2%} on {int(r.confusion.sum())} held-out "
          f"images; {r.seconds:.1f}s of training at {r.images_per_second:,.0f} images/s ({r.reason}), "
          f"{job.device_name}")
    if job.checkpoint is not None:
        print(f"checkpoint: {job.checkpoint}")
    return 0

