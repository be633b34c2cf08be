"""The only way heavy work runs: a job is a JSON-able spec in, events out, cancellable, with an owner, a
queue position and an estimate from measured run times.

    from cnnviz import jobs
    job_id = jobs.submit("train", {"config": TrainConfig(epochs=3).to_dict()}, owner="me")
    jobs.get(job_id).state, jobs.events(job_id), jobs.cancel(job_id, "me")
    result = jobs.run("train", {"config": {...}})          # submit, follow, return the result

The backend is chosen once per process by ``CNNVIZ_JOBS``: unset or ``local`` runs worker processes on
this machine (:mod:`cnnviz.jobs.local`); ``ray://HOST:PORT`` or ``ray:auto`` sends every job to a Ray
cluster (:mod:`cnnviz.jobs.ray`). Results are kept on disk, so a restarted server still shows them.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable

from cnnviz.errors import ConfigError
from cnnviz.jobs.core import Backend
from cnnviz.jobs.kinds import KINDS
from cnnviz.jobs.store import is_job_id
from cnnviz.jobs.view import STATES, JobView

__all__ = ["KINDS", "STATES", "JobFailed", "JobView", "backend", "cancel", "events", "get", "is_job_id", "jobs_of",
           "run", "submit", "wait", "warm"]

_BACKEND: Backend | None = None
_LOCK = threading.Lock()


class JobFailed(RuntimeError):
    """A job ended with an error that is not about its settings (those raise ConfigError)."""


def _make() -> Backend:
    where = os.environ.get("CNNVIZ_JOBS", "").strip()
    if where in ("", "local"):
        from cnnviz.jobs.local import LocalBackend

        return LocalBackend()
    if where.startswith("ray"):
        from cnnviz.jobs.ray import RayBackend

        return RayBackend(where)
    raise ConfigError(f"the server's job setting {where[:40]!r} is not local, ray:auto or ray://host:port")


def backend() -> Backend:
    """This process's backend (made on first use)."""
    global _BACKEND
    with _LOCK:
        if _BACKEND is None:
            _BACKEND = _make()
        return _BACKEND


def use(new: Backend | None) -> Backend | None:
    """Replace this process's backend (tests, benches); returns the previous one."""
    global _BACKEND
    with _LOCK:
        old, _BACKEND = _BACKEND, new
        return old


def warm() -> None:
    """Start the workers now, so the first run does not wait for them (a page calls it once per server)."""
    warm_up = getattr(backend(), "warm", None)
    if warm_up is not None:
        warm_up()


def submit(kind: str, params: dict[str, Any], *, owner: str, label: str = "", lease_s: float | None = None) -> str:
    """Queue a job; returns its id. ``lease_s``: stop it when nobody has looked at it (get, events) for that long
    (a page's runs end this way when the page is gone for good); None: it runs to the end."""
    return backend().submit(kind, params, owner, label, lease_s)


def get(job_id: str) -> JobView | None:
    """The job now (None for an unknown or malformed id)."""
    return backend().get(job_id) if is_job_id(job_id) else None


def events(job_id: str, since: int = 0) -> list[dict[str, Any]]:
    return backend().events(job_id, since) if is_job_id(job_id) else []


def cancel(job_id: str, owner: str) -> bool:
    """Stop a job of ``owner``'s: a queued one at once, a running one within a batch (it keeps what it learned)."""
    return is_job_id(job_id) and backend().cancel(job_id, owner)


def jobs_of(owner: str) -> list[JobView]:
    """``owner``'s jobs, newest first (finished ones too, from disk)."""
    return backend().jobs_of(owner)


def wait(job_id: str, timeout: float | None = None) -> JobView:
    """Block until the job has ended (or ``timeout`` seconds); the job then."""
    return backend().wait(job_id, timeout)


def run(kind: str, params: dict[str, Any], *, owner: str = "cli",
        on_event: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Submit, pass every event to ``on_event``, return the result. Ctrl-C stops the job (the result so far is
    returned); an error about the settings raises ConfigError, any other :class:`JobFailed`."""
    job_id = submit(kind, params, owner=owner)
    seen = 0
    try:
        while True:
            view = wait(job_id, 0.25)
            for event in view.events[seen:]:
                if on_event is not None:
                    on_event(event)
            seen = len(view.events)
            if view.ended:
                break
    except KeyboardInterrupt:
        cancel(job_id, owner)
        view = wait(job_id)
        for event in view.events[seen:] if on_event is not None else ():
            on_event(event)  # type: ignore[misc]
    if view.state == "failed":
        bad_input = bool((view.last("error") or {}).get("bad_input"))
        raise (ConfigError if bad_input else JobFailed)(view.error or "the job failed")
    return view.result or {}
