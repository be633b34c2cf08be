"""Where training runs: CUDA, then Apple MPS, then the CPU."""
from __future__ import annotations

import os
import time

import torch

from cnnviz.errors import ConfigError


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


def idle_cores(own_threads: int) -> float:
    """Cores nobody else is using, from the 1-minute load average (which counts our ``own_threads``)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return float(available_cores())
    return available_cores() - max(0.0, load - own_threads)


class ThreadTuner:
    """Chooses 1 or ``max_threads`` CPU threads from the run's own training steps, and checks again later.

    On a busy machine several OpenMP threads can be many times slower than one (every
    operation waits for all of its threads to be scheduled); on a quiet one they are
    faster. So the run starts on one thread, times a few steps, and tries
    ``max_threads`` only when the load average says the cores are free; the trial is cut
    short as soon as a step is clearly slower. Every ``period`` seconds (doubling while
    nothing changes) it checks again. The steps are real training steps: nothing extra
    is computed.
    """

    SLOWER = 1.5  # a trial step this much slower than the reference ends the trial

    def __init__(self, max_threads: int, probe: int = 3, period: float = 3.0) -> None:
        self.max_threads = max(1, max_threads)
        self.probe, self.period = probe, period
        self.current = 1
        torch.set_num_threads(1)
        self._state, self._skip, self._next = "measure", 1, 0.0
        self._samples: list[float] = []
        self._reference = 0.0

    def _use(self, n: int) -> None:
        torch.set_num_threads(n)
        self.current = n

    def step_done(self, seconds: float) -> None:
        """Report the wall time of the step just done (on a CPU the step is synchronous)."""
        if self.max_threads == 1:
            return
        if self._skip:  # the first step after a change sets up threads and caches
            self._skip -= 1
            return
        if self._state == "run":
            if time.perf_counter() >= self._next:
                self._state, self._samples = "measure", []
            return
        self._samples.append(seconds)
        if self._state == "measure":
            if len(self._samples) == self.probe:
                self._reference = min(self._samples)
                other = 1 if self.current > 1 else self.max_threads
                if other > self.current and idle_cores(self.current) < self.max_threads - 0.5:
                    self._settle(changed=False)  # no free cores: more threads would only wait for each other
                else:
                    self._state, self._samples, self._skip = "trial", [], 1
                    self._use(other)
        elif seconds > self.SLOWER * self._reference:
            self._use(1 if self.current > 1 else self.max_threads)  # clearly slower: back at once
            self._settle(changed=False)
        elif len(self._samples) == self.probe:
            keep = min(self._samples) * (1.1 if self.current > 1 else 1.0) < self._reference
            if not keep:
                self._use(1 if self.current > 1 else self.max_threads)
            self._settle(changed=keep)

    def _settle(self, changed: bool) -> None:
        self.period = self.period if changed else self.period * 2
        self._state, self._samples, self._skip = "run", [], 1 if changed else 0
        self._next = time.perf_counter() + self.period
