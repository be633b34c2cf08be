"""Checkpoints: a trained model as plain tensors, strings and numbers, loadable with ``weights_only=True``.

A checkpoint is a dict: ``format``, ``version``, ``model`` (zoo name), ``settings``
(the model's settings, enough to rebuild it with :func:`cnnviz.zoo.build`),
``state_dict``, ``dataset``, ``classes``, ``mean``/``std`` (the input normalisation),
``metrics``, ``config`` (the training settings), ``epochs`` (the curves), ``created``, ``owner`` (the
browser's owner key of the student who trained it; None for a notebook's or the command line's) and
``shared`` (a lecturer shared it with the class). A student's lists show their own and the shared ones.
It is written to a temporary file and renamed, so a crash never leaves half a file.
"""
from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnviz import paths
from cnnviz.budget import env_whole
from cnnviz.errors import ConfigError

MIN_EPOCHS = 1.0
"""A run stopped early is saved automatically only when it trained at least this many epochs."""
FORMAT = "cnnviz-checkpoint"
VERSION = 1
SUFFIX = ".pt"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt model (CPU, eval mode) and what it was trained on."""

    path: Path
    model_name: str
    settings: dict[str, Any]
    model: nn.Module
    dataset: str
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    metrics: dict[str, float]
    config: dict[str, Any]
    epochs: list[dict[str, float]]
    created: float


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint file holds, without building its model (``error``: why it is unusable).

    A file is usable when it is a readable cnnviz checkpoint, its model can be built with its
    settings within :mod:`cnnviz.guard`'s budget, and every weight has the shape that model wants.
    """

    path: Path
    name: str
    model: str = ""
    dataset: str = ""
    test_accuracy: float | None = None
    created: float = 0.0
    size_bytes: int = 0
    error: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    classes: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    owner: str | None = None
    shared: bool = False

    def visible_to(self, owner: str | None) -> bool:
        """Whether ``owner``'s lists show it: their own, the shared ones and those made outside the app."""
        return owner is None or self.owner is None or self.shared or self.owner == owner


def _plain(value: Any) -> Any:
    """Only what ``torch.load(weights_only=True)`` accepts: tensors, str, int, float, bool, None, lists, dicts."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool, torch.Tensor)) or value is None:
        return value
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _plain(value.tolist())
    return str(value)


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip(".-")[:100]
    if not cleaned:
        raise ConfigError(f"checkpoint name {name!r} has no usable characters (letters, digits, _ . -)")
    return cleaned


def worth_keeping(result: Any) -> bool:
    """Whether a run's result deserves an automatic checkpoint: it finished, or trained :data:`MIN_EPOCHS`."""
    return result is not None and (result.reason == "finished" or result.epochs_done >= MIN_EPOCHS)


def checkpoint_path(name: str, folder: Path | None = None) -> Path:
    """Where a checkpoint called ``name`` is written (ConfigError for a name with no usable characters)."""
    stem = _safe_name(name)
    folder = Path(folder) if folder is not None else paths.checkpoint_dir()
    return folder / (stem if stem.endswith(SUFFIX) else stem + SUFFIX)


def _target(folder: Path, name: str | None, stem: str, overwrite: bool) -> Path:
    if name:
        target = checkpoint_path(name, folder)
        if target.exists() and not overwrite:
            raise ConfigError(f"a checkpoint called {target.stem!r} exists already; choose another name")
        return target
    target, n = folder / (stem + SUFFIX), 1
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}{SUFFIX}"
    return target


def save(model: nn.Module, meta: dict[str, Any], *, name: str | None = None, folder: Path | None = None,
         overwrite: bool = False) -> Path:
    """Write ``model``'s weights with ``meta`` (model, settings, dataset, classes, mean, std, metrics, config,
    epochs, owner, shared) to ``folder`` (default :func:`cnnviz.paths.checkpoint_dir`) atomically.

    A checkpoint of the same ``name`` is replaced only with ``overwrite=True``; without a name, the file is
    named after the model, the dataset and the time, and never replaces another.
    """
    folder = Path(folder) if folder is not None else paths.checkpoint_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{meta['model']}-{meta['dataset']}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid() % 10000}"
    target = _target(folder, name, stem, overwrite)
    payload = {**_plain(meta), "format": FORMAT, "version": VERSION, "created": time.time(),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    _write(payload, target)
    return target


def _write(payload: dict[str, Any], target: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(run: Any, name: str | None = None, folder: Path | None = None,
                    overwrite: bool = False, owner: str | None = None, shared: bool = False) -> Path:
    """Write ``run``'s trained model with :func:`save` (``owner``: whose lists show it).

    ``run``: a finished :class:`cnnviz.train.run.TrainingRun` (its model, result, config, dataset, history),
    not imported here: the run saves itself through this module, so this one stays below it."""
    if run.model is None or run.result is None or run.dataset is None:
        raise ConfigError("nothing to save yet: the run has no trained model")
    cfg, r = run.config, run.result
    settings = getattr(run.model, "cnnviz_settings", cfg.model_settings())
    meta = {
        "model": cfg.model, "settings": settings, "dataset": cfg.dataset, "classes": list(r.classes),
        "mean": list(run.dataset.mean), "std": list(run.dataset.std),
        "image_size": int(settings.get("input_size", run.dataset.image_shape[1])),
        "metrics": {"test_accuracy": r.test_accuracy, "test_loss": r.test_loss, "seconds": r.seconds,
                    "images_per_second": r.images_per_second, "epochs_done": r.epochs_done},
        "config": cfg.to_dict(), "epochs": run.history.epochs, "owner": owner, "shared": shared,
    }
    return save(run.model, meta, name=name, folder=folder, overwrite=overwrite)


def share(path: str | Path, shared: bool = True) -> Path:
    """Show a checkpoint to the whole class (or stop showing it): a lecturer's choice, kept in the file."""
    file = _resolve(path)
    data = _read(file)
    data["shared"] = bool(shared)
    _write(data, file)
    return file


def prune_checkpoints(folder: Path | None = None, keep: int | None = None, max_days: int | None = None,
                      owner: str | None = None) -> list[Path]:
    """Delete ``owner``'s oldest checkpoints beyond ``keep`` and everyone's older than ``max_days`` (shared ones
    stay until a lecturer unshares them); returns what was deleted.

    Defaults: ``$CNNVIZ_MAX_CHECKPOINTS`` (50 per owner) and ``$CNNVIZ_CHECKPOINT_DAYS`` (30). A run of the
    app prunes its owner's after each save, so a classroom's disk and the time to list stay bounded.
    """
    folder = Path(folder) if folder is not None else paths.checkpoint_dir()
    keep = keep if keep is not None else env_whole("CNNVIZ_MAX_CHECKPOINTS", 50)
    max_days = max_days if max_days is not None else env_whole("CNNVIZ_CHECKPOINT_DAYS", 30)
    too_old = time.time() - max_days * 86400
    mine = [c for c in list_checkpoints(folder) if not c.shared and c.owner == owner]
    gone = [c.path for i, c in enumerate(mine) if i >= keep]
    gone += [c.path for c in list_checkpoints(folder) if not c.shared and c.created < too_old and c.path not in gone]
    for file in gone:
        file.unlink(missing_ok=True)
    return gone


def _resolve(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists() and not p.is_absolute():
        for candidate in (paths.checkpoint_dir() / p, paths.checkpoint_dir() / (str(p) + SUFFIX)):
            if candidate.exists():
                return candidate
    if not p.is_file():
        raise ConfigError(f"no checkpoint file {str(path)[:200]!r} (see list_checkpoints())")
    return p


def _read(path: Path, mmap: bool = False) -> dict[str, Any]:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001 - corrupted, truncated, foreign pickle, not a torch file ...
        raise ConfigError(f"{path.name} is not a readable cnnviz checkpoint ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:160] if str(exc) else 'unreadable'})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{path.name} is a PyTorch file but not a cnnviz checkpoint (no format={FORMAT!r} entry)")
    missing = [k for k in ("model", "settings", "state_dict", "dataset") if k not in data]
    if missing:
        raise ConfigError(f"{path.name} is an incomplete cnnviz checkpoint: missing {', '.join(missing)}")
    if int(data.get("version", 0)) > VERSION:
        raise ConfigError(f"{path.name} was written by a newer cnnviz (version {data['version']})")
    return data


def load(path: str | Path) -> Checkpoint:
    """Load a checkpoint (a path, or a name in the checkpoint folder) and rebuild its model.

    Uses ``torch.load(weights_only=True)``: a checkpoint cannot run code. A corrupted or
    foreign file raises :class:`ConfigError` saying so.
    """
    from cnnviz.zoo import build

    file = _resolve(path)
    data = _read(file)
    _check(data, file.name)  # the budget and the weights' shapes, on the meta device: nothing big is built
    model = build(data["model"], **data["settings"])
    try:
        model.load_state_dict(data["state_dict"], strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{file.name}: the weights do not fit {data['model']} with its settings "
                          f"({str(exc).splitlines()[0][:160]})") from None
    model.eval()
    return Checkpoint(
        path=file, model_name=data["model"], settings=dict(data["settings"]), model=model, dataset=data["dataset"],
        classes=tuple(data.get("classes", ())), mean=tuple(data.get("mean", ())), std=tuple(data.get("std", ())),
        metrics=dict(data.get("metrics", {})), config=dict(data.get("config", {})), epochs=list(data.get("epochs", [])),
        created=float(data.get("created", file.stat().st_mtime)),
    )


def _numbers(value: Any) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (int, float)) for v in value):
        return ()
    return tuple(float(v) for v in value)


def _check(data: dict[str, Any], name: str) -> None:
    """ConfigError unless ``data``'s model fits the budget and its weights fit the model (meta device only)."""
    from cnnviz import guard
    from cnnviz.zoo import build

    model, settings, state = data["model"], data["settings"], data["state_dict"]
    if not isinstance(model, str) or not isinstance(settings, dict) or not isinstance(state, dict):
        raise ConfigError(f"{name}: the model name, settings or weights are of the wrong kind")
    try:
        guard.check_model(model, settings)
        expected = {k: tuple(v.shape) for k, v in build(model, device="meta", **settings).state_dict().items()}
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - settings of the wrong type reach the model's constructor
        raise ConfigError(f"{name}: its settings do not build {model} ({type(exc).__name__})") from None
    got = {k: tuple(v.shape) if isinstance(v, torch.Tensor) else None for k, v in state.items()}
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    wrong = [k for k in expected if k in got and got[k] != expected[k]]
    if missing or extra or wrong:
        first = (f"{wrong[0]} is {got[wrong[0]]}, the model wants {expected[wrong[0]]}" if wrong
                 else f"missing {missing[0]}" if missing else f"unexpected {extra[0]}")
        raise ConfigError(f"{name}: the weights do not fit {model} with its settings ({len(missing)} missing, "
                          f"{len(extra)} unexpected, {len(wrong)} of the wrong shape; {first[:160]})")


@lru_cache(maxsize=512)
def _info(file: Path, mtime: float, size: int) -> CheckpointInfo:
    """:func:`checkpoint_info` for one version of a file (the weights stay on disk, memory-mapped)."""
    try:
        data = _read(file, mmap=True)
    except ConfigError as exc:
        return CheckpointInfo(file, file.stem, created=mtime, size_bytes=size, error=str(exc))
    try:
        _check(data, file.name)
    except ConfigError as exc:
        model = data["model"] if isinstance(data["model"], str) else ""
        owner = data.get("owner") if isinstance(data.get("owner"), str) else None
        return CheckpointInfo(file, file.stem, model[:60], str(data["dataset"])[:60], created=mtime, size_bytes=size,
                              error=str(exc), owner=owner, shared=data.get("shared") is True)
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    accuracy = metrics.get("test_accuracy")
    classes = data.get("classes")
    created = data.get("created")
    return CheckpointInfo(
        file, file.stem, data["model"], str(data["dataset"]),
        float(accuracy) if isinstance(accuracy, (int, float)) else None,
        float(created) if isinstance(created, (int, float)) else mtime, size,
        settings=dict(data["settings"]),
        classes=tuple(map(str, classes)) if isinstance(classes, (list, tuple)) else (),
        mean=_numbers(data.get("mean")), std=_numbers(data.get("std")),
        owner=data["owner"] if isinstance(data.get("owner"), str) else None, shared=data.get("shared") is True)


def checkpoint_info(path: str | Path) -> CheckpointInfo:
    """What checkpoint ``path`` holds and whether it is usable, without building its model; cached per file version."""
    file = _resolve(path)
    stat = file.stat()
    return _info(file, stat.st_mtime, stat.st_size)


def list_checkpoints(folder: Path | None = None, owner: str | None = None) -> list[CheckpointInfo]:
    """The ``*.pt`` files in the checkpoint folder, newest first; unusable ones carry an ``error``.

    With an ``owner``: only what that owner may see (:meth:`CheckpointInfo.visible_to`). Listing reads the
    files' metadata (the weights stay on disk, memory-mapped), cached per file version.
    """
    folder = Path(folder) if folder is not None else paths.checkpoint_dir()
    out = []
    for file in folder.glob(f"*{SUFFIX}"):
        try:
            stat = file.stat()
        except OSError:  # removed meanwhile
            continue
        info = _info(file, stat.st_mtime, stat.st_size)
        if info.visible_to(owner):
            out.append(info)
    return sorted(out, key=lambda c: c.created, reverse=True)


load_checkpoint = load  # the name the notebooks and pages know
