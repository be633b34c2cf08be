"""The one table of what a job can do: kind -> engine function, and how its cost is measured.

An engine function is ``(params, emit, should_stop) -> dict``: ``params`` is the job's JSON-able spec
(the job layer adds ``owner``), ``emit`` sends an event dict, ``should_stop()`` says Stop was pressed;
it returns a JSON-able result (a model is returned as a checkpoint name, saved with the job's owner).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from cnnviz.errors import ConfigError
from cnnviz.experiments.task import experiment_cost, experiment_task
from cnnviz.train.studies import STUDIES, study_cost, study_task
from cnnviz.train.task import train_cost, train_task

Emit = Callable[[dict[str, Any]], None]
Engine = Callable[[dict[str, Any], Emit, Callable[[], bool]], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    """A kind of job: its engine function and its cost ``(key, units)``: run times are measured per unit of
    work (e.g. seconds per epoch of one model on one dataset), so an estimate scales with the settings."""

    name: str
    engine: Engine
    cost: Callable[[dict[str, Any]], tuple[str, float]]


KINDS: dict[str, Kind] = {
    "train": Kind("train", train_task, train_cost),
    "experiment": Kind("experiment", experiment_task, experiment_cost),
    **{name: Kind(name, study_task(name), study_cost(name)) for name in STUDIES},
}


def get_kind(name: str) -> Kind:
    if name not in KINDS:
        raise ConfigError(f"unknown kind of job {str(name)[:40]!r}; choose one of {', '.join(KINDS)}")
    return KINDS[name]


def cost(kind: str, params: dict[str, Any]) -> tuple[str, float]:
    """``(key, units)`` of a job; a spec the cost cannot read counts as one unit of its kind."""
    try:
        key, units = get_kind(kind).cost(params)
        return f"{kind}:{key}", max(float(units), 1e-6)
    except (ConfigError, KeyError, TypeError, ValueError):
        return kind, 1.0


def warm_up() -> None:
    """A few steps of the default training run, saved nowhere: a fresh worker pays its one-time costs (the
    rest of the engine's imports, the bundled digits, the kernels' first calls: about 100 MiB and a second)
    before it says it is ready, not during the first student's run."""
    from cnnviz.train.config import TrainConfig

    config = TrainConfig(epochs=1, subset=256).to_dict()
    execute("train", {"config": config, "save": False}, lambda _event: None, lambda: False)


def execute(kind: str, params: dict[str, Any], emit: Emit, should_stop: Callable[[], bool]) -> None:
    """Run one job here and end it with exactly one terminal event: done, stopped (with the result so far) or
    error (the message a person reads; a ConfigError's text as it is)."""
    try:
        result = get_kind(kind).engine(params, emit, should_stop)
    except ConfigError as exc:
        emit({"type": "error", "message": str(exc), "bad_input": True})
    except MemoryError:
        emit({"type": "error", "message": "not enough memory: try a smaller batch size, model or image size"})
    except Exception as exc:  # noqa: BLE001 - reported to the page as a message, the worker lives on
        message = f"{type(exc).__name__}: {str(exc)[:300]}"
        if "out of memory" in message.lower():
            message = "the device ran out of memory: try a smaller batch size, model or image size"
        emit({"type": "error", "message": message})
    else:
        emit({"type": "stopped" if should_stop() else "done", "result": result})
