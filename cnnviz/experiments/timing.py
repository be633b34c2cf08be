"""An experiment's time left from how long each of its runs took the last times on this machine.

:class:`TimeLeft` wraps the experiment's ``emit``: it measures each run's seconds of training and after it
(its final evaluations) and keeps them per experiment, size and device in
``$CNNVIZ_HOME/experiments/run_times.json``. The time left is the runs' measured seconds still to go, scaled
by how fast this run has gone against them over its last few seconds (a busy or a faster machine makes
every run slower or faster alike, and a run's CPU threads change with the machine's load).
Before an experiment has run on this machine, the times measured on the project's reference machine (2 cores,
CPU, in ``reference_times.json`` next to this module, written by ``bench/bench_experiments.py
--save-reference``) stand in for them; without either (another size or device), the time left is
:class:`~cnnviz.experiments.common.Runner`'s: the work still to do over the rate so far, in multiply-adds.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from cnnviz import paths
from cnnviz.errors import ConfigError
from cnnviz.experiments.common import Emit
KEEP = 0.5  # weight of the old measurement when a new one comes (the times of a machine drift slowly)
MIN_MEASURED_S = 1.0  # before this much of the history has passed, its speed is taken as it was
WINDOW_S = 8.0  # the speed counts from the last report at least this long ago (threads change with the load)


def _file() -> Path:
    return paths.home() / "experiments" / "run_times.json"


def this_machine() -> dict[str, Any]:
    """The run times measured on this machine, by key (experiment:size:device), as kept on disk."""
    try:
        data = json.loads(_file().read_text())
    except (OSError, ValueError, ConfigError):
        return {}
    return data if isinstance(data, dict) else {}


REFERENCE = Path(__file__).with_name("reference_times.json")


def reference() -> dict[str, dict[str, list[float]]]:
    """The run times measured on the reference machine, by key (see the module's docstring)."""
    try:
        data = json.loads(REFERENCE.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _runs(times: Any) -> dict[str, tuple[float, float]]:
    """The well-formed ``label: [seconds of training, seconds after]`` entries of one key."""
    out = {}
    for label, value in (times.items() if isinstance(times, dict) else ()):
        if (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
                and value[0] >= 0 and value[1] >= 0):
            out[label] = (float(value[0]), float(value[1]))
    return out


def measured(key: str) -> dict[str, tuple[float, float]]:
    """Per run label measured for ``key`` (experiment:size:device): (seconds of training, seconds after it: the
    run's final evaluations and what the experiment does with the model); this machine's, else the reference
    machine's, else {}."""
    return _runs(this_machine().get(key)) or _runs(reference().get(key))


def record(key: str, seconds: dict[str, tuple[float, float]]) -> None:
    """Blend ``seconds`` per run into what is kept for ``key`` (written whole, then renamed: never half a file)."""
    data = this_machine()
    old = _runs(data.get(key))  # this machine's only: its first measurement replaces the reference's
    data[key] = {label: [round(KEEP * o + (1 - KEEP) * n, 3) for o, n in zip(old.get(label, new), new)]
                 for label, new in seconds.items()}
    try:
        path = _file()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except (OSError, ConfigError):
        pass  # an estimate is not worth failing an experiment for


class TimeLeft:
    """The ``emit`` of an experiment: passes every event on, with ``seconds_left`` from the measured run times
    when there are some for every run; :meth:`done` keeps this experiment's run times."""

    def __init__(self, key: str, emit: Emit, clock: Callable[[], float] = time.perf_counter) -> None:
        self.key, self.emit, self.clock = key, emit, clock
        self.history = measured(key)
        self.runs: list[str] = []
        self.begun: list[float] = []  # when each run began (the first: when the experiment's runs began)
        self.trained: list[float] = []  # when each run's training last reported (its last step, once done)
        self.recent: list[tuple[float, float]] = []  # (when, measured seconds done by then) over the last WINDOW_S

    def __call__(self, event: dict[str, Any]) -> None:
        now = self.clock()
        if event.get("type") == "start" and "runs" in event:
            self.runs, self.begun, self.trained, self.recent = list(event["runs"]), [now], [], [(now, 0.0)]
        elif event.get("type") == "progress" and self.begun and isinstance(event.get("run_index"), int):
            index = event["run_index"]
            while len(self.begun) <= index:
                self.begun.append(now)
            while len(self.trained) <= index:
                self.trained.append(now)
            if "phase" in event:  # after its training (e.g. testing on 10 crops): its second measured part
                left = self.seconds_left(index, 1.0, now, after=float(event.get("fraction", 0.0)))
            else:
                self.trained[index] = now
                left = self.seconds_left(index, event.get("step", 0) / max(1, event.get("steps", 1)), now)
            if left is not None:
                event = {**event, "seconds_left": left}
        self.emit(event)

    def seconds_left(self, index: int, fraction: float, now: float, after: float = 0.0) -> float | None:
        """The measured seconds still to go, times this run's speed against them; None without a history.
        ``fraction``: of run ``index``'s training done; ``after``: of what follows it."""
        if not self.runs or any(label not in self.history for label in self.runs):
            return None
        past = [self.history[label] for label in self.runs]
        done = (sum(map(sum, past[:index])) + past[index][0] * min(max(fraction, 0.0), 1.0)
                + past[index][1] * min(max(after, 0.0), 1.0))
        while len(self.recent) > 1 and now - self.recent[1][0] >= WINDOW_S:
            self.recent.pop(0)  # the oldest kept is the last one at least WINDOW_S ago
        since, done_then = self.recent[0] if self.recent else (self.begun[0], 0.0)
        self.recent.append((now, done))
        speed = (now - since) / (done - done_then) if done - done_then >= MIN_MEASURED_S else (
            (now - self.begun[0]) / done if done >= MIN_MEASURED_S else 1.0)
        return max(0.0, (sum(map(sum, past)) - done) * speed)

    def done(self) -> None:
        """The experiment ended well: keep how long each of its runs trained and how long it took after."""
        if not self.begun or not len(self.begun) == len(self.trained) == len(self.runs):
            return
        ends = [*self.begun[1:], self.clock()]
        record(self.key, {label: (trained - begun, end - trained)
                          for label, begun, trained, end in zip(self.runs, self.begun, self.trained, ends)})
