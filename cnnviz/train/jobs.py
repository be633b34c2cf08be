"""Work in a background thread of this process that can be stopped and waited for: the base of
:class:`~cnnviz.train.run.TrainingRun` and :class:`~cnnviz.train.experiments.ExperimentRun` (a notebook's,
a job worker's). The app's jobs, in worker processes, are :mod:`cnnviz.jobs`.
"""
from __future__ import annotations

import threading

from cnnviz.errors import ConfigError

STATES = ("created", "running", "finished", "stopped", "failed")


class Job:
    """Base class: subclasses implement :meth:`_work` (check :attr:`stop_requested` often) and :meth:`_release`."""

    def __init__(self) -> None:
        self._state = "created"
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._exception: BaseException | None = None
        self.error: str | None = None
        self.threads: int | None = None  # CPU threads for torch; None = every core

    # -- state ---------------------------------------------------------------------------------
    @property
    def status(self) -> str:
        """One of :data:`STATES`."""
        return self._state

    @property
    def exception(self) -> BaseException | None:
        """What made the job fail (None unless ``status == "failed"``)."""
        return self._exception

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # -- control -------------------------------------------------------------------------------
    def start(self) -> "Job":
        """Run in a background thread; returns at once."""
        with self._lock:
            if self._state != "created":
                return self
            self._state = "running"
            self._thread = threading.Thread(target=self._main, name=f"cnnviz-{type(self).__name__}", daemon=True)
        self._thread.start()
        return self

    def run(self) -> "Job":
        """Run in this thread until done; raises what made it fail."""
        with self._lock:
            if self._state != "created":
                raise RuntimeError(f"this {type(self).__name__} has already been started")
            self._state = "running"
        self._main()
        if self._exception is not None:
            raise self._exception
        return self

    def stop(self) -> None:
        """Ask the job to stop (a training run stops within one batch and keeps what it learned)."""
        self._stop.set()
        with self._lock:
            never_started = self._state == "created"
            if never_started:
                self._state = "stopped"
        if never_started:
            self._finish()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is done (or ``timeout`` seconds); True if done."""
        return self._done.wait(timeout)

    # -- for subclasses ------------------------------------------------------------------------
    def _work(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        """Free what only the running job needed (data on the device, optimizer state)."""

    def _main(self) -> None:
        try:
            self._work()
            state = "stopped" if self._stop.is_set() else "finished"
        except ConfigError as exc:
            self._exception, self.error, state = exc, str(exc), "failed"
        except MemoryError as exc:
            self._exception, state = exc, "failed"
            self.error = "not enough memory: try a smaller batch size, model or image size"
        except Exception as exc:  # noqa: BLE001 - shown to the user as a message, kept for run()
            self._exception, self.error, state = exc, f"{type(exc).__name__}: {str(exc)[:300]}", "failed"
        if state == "failed" and "out of memory" in (self.error or "").lower():
            self.error = "the device ran out of memory: try a smaller batch size, model or image size"
        self._release()
        with self._lock:
            self._state = state
        self._finish()

    def _finish(self) -> None:
        self._done.set()
