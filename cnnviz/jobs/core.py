"""What every backend shares: the job records, the queue's positions and estimates, owners, leases, disk.

A backend subclass only starts work (:meth:`Backend._launch`) and asks it to stop (:meth:`Backend._halt`);
the work's events come back through :meth:`Backend.on_event`.
"""
from __future__ import annotations

import heapq
import os
import secrets
import threading
import time
from typing import Any

from cnnviz.budget import env_whole
from cnnviz.errors import ConfigError
from cnnviz.jobs import store
from cnnviz.jobs.kinds import cost, get_kind
from cnnviz.jobs.view import JobView, Record

DEFAULT_S = 30.0  # the expected run time of a kind of work never measured on this machine
LEASE_CHECK_S = 2.0
TERMINAL = ("done", "stopped", "error")


class Backend:
    """Jobs in order of submission; ``slots`` of them run at once, the others wait with a position."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.per_owner = env_whole("CNNVIZ_JOBS_PER_OWNER", 3)
        self._jobs: dict[str, Record] = {}
        self._queue: list[str] = []
        self._seen: dict[str, float] = {}  # job id -> when a caller last looked at it (for leases)
        self._leases: dict[str, float] = {}
        self._stopping: set[str] = set()  # running jobs asked to stop
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        threading.Thread(target=self._expire_leases, name="cnnviz-job-leases", daemon=True).start()

    # -- the public operations ----------------------------------------------------------------
    def submit(self, kind: str, params: dict[str, Any], owner: str, label: str = "",
               lease_s: float | None = None) -> str:
        get_kind(kind)
        if not isinstance(params, dict):
            raise ConfigError("a job's parameters must be a dict")
        with self._lock:
            active = [r for r in self._jobs.values() if r.owner == owner and not r.ended]
            if len(active) >= self.per_owner:
                raise ConfigError(f"you already have {len(active)} runs waiting or running, the most one person "
                                  "may have at once: stop one or wait for it to finish")
            record = Record(id=secrets.token_urlsafe(12), kind=kind, params={**params, "owner": owner},
                            owner=owner, label=label or kind, times={"submitted": time.time()}, server=os.getpid())
            self._jobs[record.id] = record
            self._queue.append(record.id)
            if lease_s is not None:
                self._leases[record.id] = float(lease_s)
                self._seen[record.id] = time.monotonic()
        store.save(record)
        self._dispatch()
        return record.id

    def get(self, job_id: str) -> JobView | None:
        with self._lock:
            record = self._jobs.get(job_id)
            if record is not None:
                if job_id in self._seen:
                    self._seen[job_id] = time.monotonic()
                return self._view(record)
        record = store.load(job_id)
        if record is None:
            return None
        if not record.ended and not _alive(record.server):
            record.state, record.error = "failed", "the server restarted before this run finished"
        return self._view(record)

    def events(self, job_id: str, since: int = 0) -> list[dict[str, Any]]:
        view = self.get(job_id)
        return [] if view is None else view.events[since:]

    def cancel(self, job_id: str, owner: str) -> bool:
        """Stop ``job_id`` if ``owner`` owns it and it has not ended; True if it was asked to stop."""
        with self._lock:
            record = self._jobs.get(job_id)
            if record is None or record.owner != owner or record.ended:
                return False
            if record.state == "queued":
                self._queue.remove(job_id)
                self._end(record, {"type": "stopped"})
                return True
            self._stopping.add(job_id)
        self._halt(record)
        return True

    def jobs_of(self, owner: str) -> list[JobView]:
        with self._lock:
            mine = [self._view(r) for r in self._jobs.values() if r.owner == owner]
        known = {v.id for v in mine}
        for job_id in store.ids():
            if job_id not in known:
                record = store.load(job_id)
                if record is not None and record.owner == owner:
                    mine.append(self.get(job_id))  # type: ignore[arg-type]
        return sorted(mine, key=lambda v: v.times.get("submitted", 0.0), reverse=True)

    def wait(self, job_id: str, timeout: float | None = None) -> JobView:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                record = self._jobs.get(job_id)
                if record is None or record.ended:
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._changed.wait(0.5 if left is None else min(0.5, left))
        view = self.get(job_id)
        if view is None:
            raise ConfigError(f"no job {str(job_id)[:20]!r}")
        return view

    # -- for the subclasses -------------------------------------------------------------------
    def _launch(self, record: Record) -> bool:
        """Start ``record`` on a free worker; False when none is free (it stays queued)."""
        raise NotImplementedError

    def _halt(self, record: Record) -> None:
        """Ask the running ``record`` to stop (it ends with a stopped event)."""
        raise NotImplementedError

    def on_event(self, job_id: str, event: dict[str, Any]) -> None:
        """An event from the work: kept for the page; a terminal one ends the job and frees its slot."""
        with self._lock:
            record = self._jobs.get(job_id)
            if record is None or record.ended:
                return
            if event.get("type") in TERMINAL:
                self._end(record, event)
            else:
                record.events.append(event)
                self._changed.notify_all()
        if event.get("type") in TERMINAL:
            self._dispatch()

    def started(self, record: Record) -> None:
        with self._lock:
            record.state = "running"
            record.times["started"] = time.time()
        store.save(record)

    def _end(self, record: Record, event: dict[str, Any]) -> None:
        kind = event.get("type")
        record.events.append(event)
        record.state = {"done": "finished", "stopped": "stopped"}.get(kind, "failed")
        record.result = event.get("result")
        record.error = event.get("message") if kind == "error" else None
        record.times["ended"] = time.time()
        if kind == "done" and "started" in record.times:
            key, units = cost(record.kind, record.params)
            store.record_time(key, (record.times["ended"] - record.times["started"]) / units)
        self._leases.pop(record.id, None)
        self._stopping.discard(record.id)
        store.save(record)
        self._changed.notify_all()

    def _dispatch(self) -> None:
        """Start queued jobs, oldest first, while there are free workers."""
        with self._lock:
            while self._queue:
                record = self._jobs[self._queue[0]]
                if not self._launch(record):
                    break
                self._queue.pop(0)

    # -- positions and estimates --------------------------------------------------------------
    def _expected(self, record: Record) -> float:
        key, units = cost(record.kind, record.params)
        per_unit = store.typical_time(key)
        return per_unit * units if per_unit is not None else DEFAULT_S

    def _left(self, record: Record) -> float:
        """Seconds until a running job ends: its own progress report, else the measured time less the elapsed."""
        progress = next((e for e in reversed(record.events) if e.get("type") == "progress"), None)
        if progress is not None and isinstance(progress.get("seconds_left"), (int, float)):
            return float(progress["seconds_left"])
        return max(0.0, self._expected(record) - (time.time() - record.times.get("started", time.time())))

    def _estimate(self, record: Record) -> float | None:
        """Expected seconds until ``record`` ends: the queue ahead played out on the free slots."""
        if record.ended:
            return None
        if record.state == "running":
            return self._left(record)
        running = [self._left(self._jobs[i]) for i, r in self._jobs.items() if r.state == "running"]
        slots = sorted(running + [0.0] * max(0, self.slots - len(running)))[:max(1, self.slots)]
        heapq.heapify(slots)
        for job_id in self._queue:
            start = heapq.heappop(slots)
            if job_id == record.id:
                return start + self._expected(record)
            heapq.heappush(slots, start + self._expected(self._jobs[job_id]))
        return None

    def _view(self, record: Record) -> JobView:
        queued = record.state == "queued" and record.id in self._queue
        return JobView(id=record.id, kind=record.kind, label=record.label, owner=record.owner, state=record.state,
                       position=self._queue.index(record.id) + 1 if queued else None,
                       estimate_s=self._estimate(record) if record.id in self._jobs else None,
                       events=list(record.events), result=record.result, error=record.error,
                       times=dict(record.times))

    def _expire_leases(self) -> None:
        """Stop a job nobody has looked at for its lease (a page closed for longer than its session lives)."""
        while True:
            time.sleep(LEASE_CHECK_S)
            now = time.monotonic()
            with self._lock:
                gone = [self._jobs[i] for i, lease in self._leases.items()
                        if now - self._seen.get(i, now) > lease and not self._jobs[i].ended]
            for record in gone:
                self.cancel(record.id, record.owner)


def _alive(pid: int) -> bool:
    """Whether the process that ran a record is still there (same machine: a shared disk across machines
    shows another server's running job as running)."""
    if pid == os.getpid():
        return False  # this process does not know it: it was started before a restart that reused the pid
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, ValueError, OverflowError):
        return False
    except PermissionError:
        return True
    return True
