"""The course's one-click experiments: a registry (name -> module, like the zoo's) and one way to run them.

Each module has ``TITLE``, ``RUNS`` (its fixed run labels), ``LESSON`` (what must show), ``NOTES`` (what the
course notes and the literature say, and the settings used), ``SIZES`` and two functions that the CLI, the
page, the tests and the bench share:

- ``run(seed, size, device, emit) -> {"runs": {...}}`` trains and measures (``emit`` gets fit's events,
  each with its run's label, and the experiment's time left);
- ``lesson(result) -> (shown, words)`` says whether this result shows the lesson, with its numbers.

    from cnnviz import experiments
    result = experiments.run("depth", seed=3)     # the CLI's JSON object
    experiments.lesson("depth", result)
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from cnnviz.errors import ConfigError
from cnnviz.experiments import (activations, augment, batchnorm, depth, dropout, ensemble, mlp_vs_cnn, multicrop,
                                overfit, transfer)
from cnnviz.experiments.common import SIZES, Emit, check
from cnnviz.experiments.timing import TimeLeft
from cnnviz.train.device import describe

_MODULES: dict[str, ModuleType] = {m.__name__.rsplit(".", 1)[1]: m for m in (
    depth, activations, batchnorm, dropout, mlp_vs_cnn, overfit, augment, transfer, ensemble, multicrop)}
NAMES = tuple(_MODULES)

__all__ = ["NAMES", "SIZES", "Info", "get", "info", "lesson", "list_experiments", "run"]


@dataclass(frozen=True)
class Info:
    """One row of the metadata table."""

    name: str
    title: str
    runs: tuple[str, ...]
    lesson: str
    notes: str


def get(name: str) -> ModuleType:
    """The experiment's module; a ConfigError naming the choices for an unknown name."""
    if name not in _MODULES:
        raise ConfigError(f"unknown experiment {str(name)[:40]!r}; choose one of {', '.join(NAMES)}")
    return _MODULES[name]


def info(name: str) -> Info:
    m = get(name)
    return Info(name, m.TITLE, tuple(m.RUNS), m.LESSON, m.NOTES)


def list_experiments() -> list[Info]:
    return [info(n) for n in NAMES]


def default_size(device: str = "auto") -> str:
    """quick on a CPU, full on a GPU."""
    return "quick" if check(0, "quick", device).type == "cpu" else "full"


def run(name: str, seed: int = 0, size: str | None = None, device: str = "auto",
        emit: Emit | None = None) -> dict[str, Any]:
    """Run experiment ``name``: ``{"experiment", "seed", "seconds", "device", "runs", "lesson"}`` (the CLI's JSON);
    ``lesson`` says whether it showed, the lesson, and :func:`lesson`'s words with the numbers."""
    module = get(name)
    size = size or default_size(device)
    dev = check(seed, size, device)
    t = time.perf_counter()
    timer = TimeLeft(f"{name}:{size}:{dev.type}", emit or (lambda event: None))
    out = module.run(seed, size, device, timer)
    timer.done()
    result = {"experiment": name, "seed": seed, "seconds": round(time.perf_counter() - t, 3),
              "device": describe(dev, None), "runs": out["runs"]}
    shown, words = module.lesson(result)
    result["lesson"] = f"{'Shown' if shown else 'Not shown'}: {module.LESSON}. {words}"
    return result


def lesson(name: str, result: dict[str, Any]) -> tuple[bool, str]:
    """Whether ``result`` (of :func:`run`) shows the experiment's lesson, and the words with its numbers."""
    return get(name).lesson(result)
