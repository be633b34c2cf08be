"""The transfer, features-off-the-shelf, ensemble, multi-crop and augmentation experiments as job engine
functions: JSON settings in, progress events out, the result as JSON; :func:`result_from` reads it back
into the experiment's own result class for the pages.

Each experiment is a function taking ``progress(message, fraction)``; here that callback sends a progress
event (at most a few a second) and raises :class:`Stopped` once Stop was pressed, so a stop acts at the
experiment's next report (a few times a second while it trains).
"""
from __future__ import annotations

import dataclasses
import time
import typing
from typing import Any, Callable

from cnnviz.augment import Step
from cnnviz.errors import ConfigError
from cnnviz.train.augment_gap import Comparison, compare_with_without
from cnnviz.train.ensemble import EnsembleResult, MultiCropResult, run_ensemble, run_multicrop
from cnnviz.train.transfer import TransferResult, features_experiment, run_transfer

REPORT_S = 0.25  # the least time between two progress events


class Stopped(Exception):
    """Raised from the progress callback once Stop was pressed: it unwinds the experiment."""
# kind -> (the experiment, its result class: None for a plain dict)
STUDIES: dict[str, tuple[Callable[..., Any], type | None]] = {
    "transfer": (run_transfer, TransferResult),
    "shelf": (features_experiment, None),
    "ensemble": (run_ensemble, EnsembleResult),
    "multicrop": (run_multicrop, MultiCropResult),
    "augment_gap": (compare_with_without, Comparison),
}


def study_cost(kind: str) -> Callable[[dict[str, Any]], tuple[str, float]]:
    """Run times are measured per kind and dataset (the settings change them less than the data)."""
    return lambda params: (str(params.get("dataset", "default")), 1.0)


def _arguments(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The experiment's keyword arguments from a job's spec (the job layer's ``owner`` is not one)."""
    args = {k: v for k, v in params.items() if k != "owner"}
    if kind == "augment_gap" and args.get("steps") is not None:
        steps = args["steps"]
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            raise ConfigError("an augmentation pipeline is a list of {method, params}")
        args["steps"] = [Step(str(s.get("method")), dict(s.get("params") or {})) for s in steps]
    return args


def study_task(kind: str) -> Callable[[dict[str, Any], Callable[[dict[str, Any]], None], Callable[[], bool]],
                                      dict[str, Any]]:
    """The engine function of experiment ``kind`` (a key of :data:`STUDIES`)."""
    fn, _ = STUDIES[kind]

    def task(params: dict[str, Any], emit: Callable[[dict[str, Any]], None],
             should_stop: Callable[[], bool]) -> dict[str, Any]:
        last = [0.0]

        def progress(message: str, fraction: float) -> None:
            if should_stop():
                raise Stopped
            now = time.monotonic()
            if now - last[0] >= REPORT_S:
                last[0] = now
                emit({"type": "progress", "message": str(message), "fraction": max(0.0, min(1.0, fraction))})

        try:
            result = fn(progress=progress, **_arguments(kind, params))
        except Stopped:
            return {}
        except TypeError as exc:  # a setting the experiment does not take
            raise ConfigError(f"{kind}: {exc}") from None
        return dataclasses.asdict(result) if dataclasses.is_dataclass(result) else dict(result)

    return task


def _build(cls: Any, data: Any) -> Any:
    """``data`` (JSON) as ``cls``: nested dataclasses and lists of them rebuilt from their type hints."""
    if dataclasses.is_dataclass(cls) and isinstance(data, dict):
        hints = typing.get_type_hints(cls)
        return cls(**{f.name: _build(hints[f.name], data[f.name]) for f in dataclasses.fields(cls)
                      if f.name in data})
    if typing.get_origin(cls) is list and isinstance(data, list):
        (item,) = typing.get_args(cls)
        return [_build(item, d) for d in data]
    return data


def result_from(kind: str, data: dict[str, Any]) -> Any:
    """A finished job's result as the experiment returned it (its result class, or the plain dict)."""
    _, cls = STUDIES[kind]
    return data if cls is None else _build(cls, data)
