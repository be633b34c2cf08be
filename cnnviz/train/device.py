"""Where training runs: CUDA, then Apple MPS, then the CPU."""
from __future__ import annotations

import os
import time
from typing import Callable

import torch

from cnnviz.analysis.errors import ConfigError


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def pick_device(preference: str = "auto") -> torch.device:
    """``auto``: CUDA if there is a GPU, else MPS on an Apple GPU, else the CPU; or the one asked for."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda: no CUDA GPU is available here; use --device auto or cpu")
    if preference == "mps" and not _mps_available():
        raise ConfigError("device mps: no Apple GPU (MPS) is available here; use --device auto or cpu")
    if preference not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unknown device {preference!r}; choose auto, cpu, cuda or mps")
    return torch.device(preference)


def describe(device: torch.device, threads: int | None = None) -> str:
    """``cuda (NVIDIA H100 80GB HBM3)``, ``mps (Apple GPU)`` or ``cpu (2 threads)``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    n = threads or torch.get_num_threads()
    return f"cpu ({n} thread{'s' if n != 1 else ''})"


class ThreadTuner:
    """Picks the faster of ``max_threads`` and 1 CPU thread from the run's own training steps, again and again.

    On a busy machine several OpenMP threads can be many times slower than one (each
    waits for the others to be scheduled); on a quiet one they are faster. So after two
    warm-up steps the tuner times ``probe`` steps with each setting, keeps the faster,
    and probes again after ``period`` seconds (doubling the period while the choice
    stays the same). Probing costs nothing but a few steps at the slower setting.
    """

    def __init__(self, max_threads: int, probe: int = 3, period: float = 5.0) -> None:
        self.max_threads = max(1, max_threads)
        self.current = self.max_threads
        self.probe, self.period = probe, period
        self._state, self._count, self._next = "warmup", 0, 0.0
        self._order: list[int] = []
        self._samples: list[float] = []
        self._times: dict[int, float] = {}
        torch.set_num_threads(self.current)

    def _use(self, n: int) -> None:
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
        self.current = n

    def step_done(self, seconds: float) -> None:
        """Report the wall time of the step just done (CPU: the step is synchronous)."""
        if self.max_threads == 1:
            return
        now = time.perf_counter()
        if self._state == "warmup":
            self._count += 1
            if self._count >= 2:
                self._start_probe()
        elif self._state == "probe":
            self._samples.append(seconds)
            if len(self._samples) == self.probe:
                self._times[self.current] = min(self._samples)  # the least disturbed step
                self._samples = []
                if len(self._times) < 2:
                    self._use(self._order[1])
                else:
                    self._decide(now)
        elif now >= self._next:
            self._start_probe()

    def _start_probe(self) -> None:
        self._state, self._times, self._samples = "probe", {}, []
        self._order = [self.current, 1 if self.current != 1 else self.max_threads]
        self._use(self._order[0])

    def _decide(self, now: float) -> None:
        many, one = self._times[self.max_threads], self._times[1]
        best = self.max_threads if many <= 1.1 * one else 1
        self.period = self.period * 2 if best == self._order[0] else self.period
        self._use(best)
        self._state, self._next = "run", now + self.period
