"""The run manager: a few runs at once, the others queued with their place in line.

One manager per process (:func:`manager`) is shared by every browser session of the
app, so ten students pressing Train do not start ten runs on a two-core machine.
``CNNVIZ_MAX_RUNS`` sets how many run at once (default: one per two CPU cores).
A job submitted with an ``owner`` (any object, e.g. one kept in a Streamlit session)
is stopped when the owner is garbage collected: an abandoned session frees its run. As
garbage collection can come minutes late, an owner with an ``alive()`` method is also
asked every few seconds; once it has said False for ``grace_s`` seconds (its session's
timeout), the job is stopped.
"""
from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from typing import Any

from cnnviz.errors import ConfigError
from cnnviz.train.device import available_cores
from cnnviz.train.jobs import Job


def default_max_runs() -> int:
    """``$CNNVIZ_MAX_RUNS``, else one run per two CPU cores (at least one)."""
    raw = os.environ.get("CNNVIZ_MAX_RUNS", "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise ConfigError(f"CNNVIZ_MAX_RUNS must be a whole number of at least 1, got {raw[:20]!r}")
        return value
    return max(1, available_cores() // 2)


class RunManager:
    """Starts at most ``max_runs`` jobs at once; queues the others in order."""

    def __init__(self, max_runs: int | None = None) -> None:
        self.max_runs = max_runs if max_runs is not None else default_max_runs()
        if self.max_runs < 1:
            raise ConfigError(f"max_runs must be at least 1, got {self.max_runs}")
        self._running: list[Job] = []
        self._queue: deque[Job] = deque()
        self._lock = threading.Lock()

    def submit(self, job: Job, owner: Any = None) -> Job:
        """Start ``job`` now if a slot is free, else queue it. Returns the job."""
        if owner is not None:
            job_ref = weakref.ref(job)

            def abandoned(_: weakref.ref) -> None:
                alive = job_ref()
                if alive is not None:
                    alive.stop()

            owner_ref = weakref.ref(owner, abandoned)
            job._owner_ref = owner_ref  # type: ignore[attr-defined]
            if callable(getattr(owner, "alive", None)):
                threading.Thread(target=self._watch, args=(job, owner_ref), daemon=True,
                                 name="cnnviz-run-watch").start()
        if job.threads is None:
            job.threads = max(1, available_cores() // self.max_runs)
        with self._lock:
            self._queue.append(job)
            job.mark_queued()
        job.add_done_callback(self._finished)
        self._start_next()
        return job

    def position(self, job: Job) -> int | None:
        """0 while running, 1 for the next in line, 2 ...; None when not here (done or never submitted)."""
        with self._lock:
            if job in self._running:
                return 0
            for i, queued in enumerate(self._queue, 1):
                if queued is job:
                    return i
        return None

    def running(self) -> list[Job]:
        with self._lock:
            return list(self._running)

    def queued(self) -> list[Job]:
        with self._lock:
            return list(self._queue)

    watch_every_s = 2.0

    def _watch(self, job: Job, owner_ref: weakref.ref) -> None:
        """Stop ``job`` once its owner has not been alive for its ``grace_s`` (the owner is only weakly held)."""
        gone_since: float | None = None
        while not job.done:
            time.sleep(self.watch_every_s)
            owner = owner_ref()
            if owner is None:
                return  # collected: the weakref callback stops the job
            alive, grace = bool(owner.alive()), float(getattr(owner, "grace_s", 120.0))
            del owner
            now = time.monotonic()
            gone_since = None if alive else (gone_since or now)
            if gone_since is not None and now - gone_since >= grace:
                job.stop()
                return

    def _finished(self, job: Job) -> None:
        with self._lock:
            if job in self._running:
                self._running.remove(job)
            if job in self._queue:
                self._queue.remove(job)
        self._start_next()

    def _start_next(self) -> None:
        to_start = []
        with self._lock:
            while self._queue and len(self._running) < self.max_runs:
                job = self._queue.popleft()
                if job.done:
                    continue
                self._running.append(job)
                to_start.append(job)
        for job in to_start:
            job.start()


_MANAGER: RunManager | None = None
_MANAGER_LOCK = threading.Lock()


def manager() -> RunManager:
    """The process-wide manager (created on first use)."""
    global _MANAGER
    with _MANAGER_LOCK:
        if _MANAGER is None:
            _MANAGER = RunManager()
        return _MANAGER
