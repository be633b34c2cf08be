"""The embedded backend: worker processes on this machine, started ahead of time, one job each at a time.

Each worker is ``python -m cnnviz.jobs.worker`` (started with :mod:`subprocess`, so nothing of the
server's own ``__main__`` is run again), has imported torch once and uses one thread; there are as
many as the cores (``CNNVIZ_MAX_RUNS`` sets another number), so a run starts in well under a second.

A worker reports after each job how much its private memory has grown since it was ready (the allocator's
free pages given back first). Like Celery's ``worker_max_memory_per_child``, a worker that keeps more than
``$CNNVIZ_WORKER_MAX_GROWTH_MB`` (default 512) is replaced as soon as its job ends, and one that keeps
more than ``$CNNVIZ_WORKER_SLACK_MB`` (default 16: new batch sizes and kernels leave a few tens of MB) is
replaced once it has been idle ``$CNNVIZ_WORKER_IDLE_S`` seconds (default 60), so that after a class the
workers are back to their size at start-up. The replacement starts at once (a second or two of CPU on an
idle machine), so the pool stays warm.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from cnnviz.jobs.core import Backend, env_whole
from cnnviz.jobs.view import Record
from cnnviz.train.device import available_cores

STOP_GRACE_S = 30.0  # a worker that has not stopped this long after Stop is ended and replaced
RECYCLE_CHECK_S = 5.0
_ROOT = str(Path(__file__).resolve().parents[2])


def default_slots() -> int:
    """``$CNNVIZ_MAX_RUNS``, else one worker per core."""
    return env_whole("CNNVIZ_MAX_RUNS", available_cores())


class Worker:
    """One worker process and the job it runs (None when idle)."""

    def __init__(self, backend: "LocalBackend") -> None:
        self.backend = backend
        self.job: Record | None = None
        self.ready = threading.Event()
        self.grown_mb = 0.0  # private memory kept since it was ready (its last report)
        self.idle_since = time.monotonic()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH", "")) if p)}
        self.proc = subprocess.Popen([sys.executable, "-m", "cnnviz.jobs.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, cwd=_ROOT, text=True, bufsize=1)
        threading.Thread(target=self._read, name="cnnviz-job-reader", daemon=True).start()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, message: dict[str, Any]) -> bool:
        try:
            stdin: IO[str] = self.proc.stdin  # type: ignore[assignment]
            stdin.write(json.dumps(message) + "\n")
            stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("ready"):
                self.ready.set()
                continue
            if isinstance(message.get("grown_mb"), (int, float)):
                self.grown_mb = float(message["grown_mb"])
                continue
            event = message.get("event", {})
            if event.get("type") in ("done", "stopped", "error"):
                job, self.job = self.job, None
                self.idle_since = time.monotonic()
                if self.grown_mb > self.backend.max_growth_mb:
                    self.backend.recycle()  # before the job's end frees a slot for the next one
                self.backend.on_event(message["job"], event)
                del job
            else:
                self.backend.on_event(message["job"], event)
        self.proc.wait()
        self.backend.worker_ended(self)


class LocalBackend(Backend):
    """Jobs in worker processes on this machine (see the module's docstring)."""

    def __init__(self, slots: int | None = None) -> None:
        super().__init__(slots if slots is not None else default_slots())
        self._workers: list[Worker] = []
        self._closed = False
        self._warm = False  # a warmed pool replaces a worker it retires at once; the CLI's starts on demand
        self.slack_mb = env_whole("CNNVIZ_WORKER_SLACK_MB", 16)
        self.max_growth_mb = env_whole("CNNVIZ_WORKER_MAX_GROWTH_MB", 512)
        self.idle_s = env_whole("CNNVIZ_WORKER_IDLE_S", 60)
        threading.Thread(target=self._recycle_loop, name="cnnviz-job-recycle", daemon=True).start()

    def warm(self) -> None:
        """Start every worker now (a page calls this once, so the first Train does not wait for imports)."""
        with self._lock:
            self._warm = True
            while len(self._workers) < self.slots:
                self._workers.append(Worker(self))

    def worn(self, worker: Worker, now: float) -> bool:
        """Whether an idle ``worker`` keeps enough memory to be replaced now (see the module's docstring)."""
        if worker.job is not None or not worker.alive or not worker.ready.is_set():
            return False
        return worker.grown_mb > self.max_growth_mb or (
            worker.grown_mb > self.slack_mb and now - worker.idle_since >= self.idle_s)

    def recycle(self) -> int:
        """Replace the workers :meth:`worn` picks; how many were replaced."""
        with self._lock:
            if self._closed:
                return 0
            now = time.monotonic()
            worn = [w for w in self._workers if self.worn(w, now)]
            for worker in worn:
                self._workers.remove(worker)  # under the lock: no job can be given to it any more
                if worker.proc.stdin:
                    worker.proc.stdin.close()  # it ends as when the server goes away
                if self._warm:
                    self._workers.append(Worker(self))
        return len(worn)

    def _recycle_loop(self) -> None:
        while not self._closed:
            time.sleep(RECYCLE_CHECK_S)
            self.recycle()

    def _launch(self, record: Record) -> bool:
        if self._closed:
            return False
        idle = next((w for w in self._workers if w.job is None and w.alive), None)
        if idle is None:
            if len(self._workers) >= self.slots:
                return False
            idle = Worker(self)  # started on demand: the CLI needs one, not one per core
            self._workers.append(idle)
        idle.job = record
        if not idle.send({"op": "run", "job": record.id, "kind": record.kind, "params": record.params}):
            idle.job = None
            return False
        self.started(record)
        return True

    def _halt(self, record: Record) -> None:
        worker = next((w for w in self._workers if w.job is record), None)
        if worker is None:
            return
        worker.send({"op": "stop", "job": record.id})
        threading.Thread(target=self._end_if_stuck, args=(worker, record), daemon=True).start()

    def _end_if_stuck(self, worker: Worker, record: Record) -> None:
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline:
            if worker.job is not record:
                return
            time.sleep(0.2)
        with self._lock:  # a worker gets its next job only under this lock: never kill the next one's worker
            if worker.job is record:
                worker.proc.kill()  # its reader sees the end and reports the job as stopped

    def worker_ended(self, worker: Worker) -> None:
        """A worker process ended (killed, crashed): its job ends, a fresh worker takes its place."""
        job, worker.job = worker.job, None
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
        if job is not None:
            if job.id in self._stopping:
                self.on_event(job.id, {"type": "stopped"})
            else:
                self.on_event(job.id, {"type": "error", "message": "the training process ended unexpectedly "
                                       f"(exit code {worker.proc.returncode})"})
        self._dispatch()

    def close(self) -> None:
        """End every worker (a test's or a script's clean-up)."""
        with self._lock:
            self._closed = True
            workers, self._workers = list(self._workers), []
        for worker in workers:
            worker.job = None
            if worker.proc.stdin:
                worker.proc.stdin.close()
            try:
                worker.proc.wait(10)
            except subprocess.TimeoutExpired:
                worker.proc.kill()
