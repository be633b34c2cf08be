"""An experiment as a job's engine function (the ``experiment`` kind of :mod:`cnnviz.jobs.kinds`)."""
from __future__ import annotations

from typing import Any, Callable

from cnnviz.errors import ConfigError
from cnnviz.experiments import get, run


class Stopped(Exception):
    """Stop was pressed: raised from the event callback, between two training steps."""


def _params(params: dict[str, Any]) -> tuple[str, int, str | None, str]:
    if not isinstance(params, dict):
        raise ConfigError("an experiment job's settings must be a dict")
    name, seed = params.get("name"), params.get("seed", 0)
    get(str(name))
    return str(name), seed, params.get("size"), params.get("device", "auto")


def experiment_cost(params: dict[str, Any]) -> tuple[str, float]:
    """Run times are measured per experiment and size: one unit each."""
    name, _seed, size, device = _params(params)
    return f"{name}:{size or device}", 1.0


def experiment_task(params: dict[str, Any], emit: Callable[[dict[str, Any]], None],
                    should_stop: Callable[[], bool]) -> dict[str, Any]:
    """Run ``params["name"]`` at ``seed``, ``size``, ``device``; the result is the CLI's JSON object. Stop ends it
    between two training steps, with no result (a half-trained comparison would contradict its lesson)."""
    name, seed, size, device = _params(params)

    def send(event: dict[str, Any]) -> None:
        emit(event)
        if should_stop():
            raise Stopped

    try:
        return run(name, seed=seed, size=size, device=device, emit=send)
    except Stopped:
        return {}
