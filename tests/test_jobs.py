"""The job layer (cnnviz.jobs): submit, events, cancel, owners, queue positions, estimates, restarts.

Every test runs against the local backend; with a Ray cluster (``ray`` installed) the same tests run
against a local Ray cluster too (see ``backend`` below)."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

import pytest

from cnnviz import jobs
from cnnviz.errors import ConfigError
from cnnviz.jobs import store
from cnnviz.jobs.core import Backend
from cnnviz.jobs.local import LocalBackend
from cnnviz.train import TrainConfig, list_checkpoints

QUICK = {"config": TrainConfig(epochs=1, subset=256, augment="none").to_dict()}
LONG = {"config": TrainConfig(epochs=1000, subset=512, augment="none").to_dict()}


def _make(kind: str, slots: int) -> Backend:
    if kind == "local":
        return LocalBackend(slots)
    from tests.ray_cluster import ray_backend

    return ray_backend(slots)


@pytest.fixture(params=["local", pytest.param("ray", marks=pytest.mark.ray)])
def make_backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """A factory of fresh backends of one kind, each with its own job folder; all closed at the end."""
    monkeypatch.setenv("CNNVIZ_HOME", str(tmp_path))
    made: list[Backend] = []

    def make(slots: int = 1) -> Backend:
        made.append(_make(request.param, slots))
        jobs.use(made[-1])
        return made[-1]

    yield make
    jobs.use(None)
    for backend in made:
        backend.close()


def _wait_for(predicate, timeout: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_job_streams_the_contract_events_and_ends_with_its_result(make_backend) -> None:  # noqa: ANN001
    make_backend()
    job_id = jobs.submit("train", QUICK, owner="ann", label="first")
    assert store.is_job_id(job_id)
    view = jobs.wait(job_id, 120)
    assert view.state == "finished" and view.owner == "ann" and view.label == "first", view.error
    types = [e["type"] for e in view.events]
    assert types[0] == "start" and types[-1] == "done" and "progress" in types and "epoch" in types
    progress = view.last("progress")
    assert {"run", "epoch", "epochs", "batch", "batches", "images_per_s", "seconds_left"} <= set(progress)
    assert 0.0 <= view.result["test_accuracy"] <= 1.0 and len(view.result["confusion"]) == 10
    assert jobs.events(job_id, since=len(view.events) - 1) == view.events[-1:]
    # the checkpoint is the owner's: listed for ann, not for bob
    names = {c.name for c in list_checkpoints(owner="ann")}
    assert view.result["checkpoint"] in names
    assert view.result["checkpoint"] not in {c.name for c in list_checkpoints(owner="bob")}
    assert [v.id for v in jobs.jobs_of("ann")] == [job_id] and jobs.jobs_of("bob") == []


def test_cancel_stops_a_running_job_and_only_its_owner_may(make_backend) -> None:  # noqa: ANN001
    make_backend()
    job_id = jobs.submit("train", LONG, owner="ann")
    _wait_for(lambda: jobs.get(job_id).last("progress") is not None)
    assert jobs.cancel(job_id, "bob") is False
    assert jobs.get(job_id).state == "running"
    t0 = time.monotonic()
    assert jobs.cancel(job_id, "ann") is True
    view = jobs.wait(job_id, 60)
    assert view.state == "stopped" and time.monotonic() - t0 < 10
    assert view.result is not None and view.result["reason"] == "stopped"  # what it learned is kept
    assert jobs.cancel(job_id, "ann") is False  # already ended


def test_queue_positions_estimates_and_the_per_owner_cap(make_backend, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("CNNVIZ_JOBS_PER_OWNER", "2")
    make_backend(slots=1)
    first = jobs.submit("train", LONG, owner="ann")
    second = jobs.submit("train", QUICK, owner="bob")
    third = jobs.submit("train", QUICK, owner="cid")
    _wait_for(lambda: jobs.get(first).state == "running")
    views = [jobs.get(j) for j in (first, second, third)]
    assert [v.position for v in views] == [None, 1, 2]
    assert views[1].estimate_s is not None and views[2].estimate_s > views[1].estimate_s > 0
    jobs.submit("train", QUICK, owner="ann")
    with pytest.raises(ConfigError, match="2 runs waiting or running"):
        jobs.submit("train", QUICK, owner="ann")
    assert jobs.cancel(second, "bob") and jobs.get(second).state == "stopped"  # a queued job stops at once
    assert jobs.get(third).position == 1
    jobs.cancel(first, "ann")
    assert jobs.wait(third, 120).state == "finished"
    key, units = jobs.kinds.cost("train", QUICK)
    assert store.typical_time(key) is not None  # measured: the next estimate of this work uses it


def test_bad_settings_fail_the_job_with_a_clear_message(make_backend) -> None:  # noqa: ANN001
    make_backend()
    bad = {"config": {**QUICK["config"], "settings": {"in_channels": 3}}}
    with pytest.raises(ConfigError, match="does not fit the data"):
        jobs.run("train", bad, owner="ann")
    with pytest.raises(ConfigError, match="unknown kind of job"):
        jobs.submit("mine_bitcoin", {}, owner="ann")
    assert jobs.get("../../etc/passwd") is None and jobs.get("x" * 16) is None


def test_a_restarted_server_keeps_finished_results(make_backend) -> None:  # noqa: ANN001
    make_backend()
    job_id = jobs.submit("train", QUICK, owner="ann")
    accuracy = jobs.wait(job_id, 120).result["test_accuracy"]
    make_backend()  # a new process's backend: knows nothing but the disk
    view = jobs.get(job_id)
    assert view.state == "finished" and view.result["test_accuracy"] == accuracy and view.owner == "ann"
    assert [v.id for v in jobs.jobs_of("ann")] == [job_id]
    # a job that was running when its server died is reported as failed, not as running forever
    record = store.load(job_id)
    record.state, record.result, record.id, record.server = "running", None, "A" * 16, 2**22 + 12345
    store.save(record)
    assert jobs.get("A" * 16).state == "failed"


def test_a_job_nobody_looks_at_stops_after_its_lease(make_backend) -> None:  # noqa: ANN001
    make_backend()
    job_id = jobs.submit("train", LONG, owner="ann", lease_s=1.0)
    _wait_for(lambda: jobs.get(job_id).state == "running")
    time.sleep(6)  # nobody calls get(): the lease runs out, the job is stopped
    assert jobs.backend().wait(job_id, 60).state == "stopped"




def test_local_workers_report_what_memory_a_run_left_and_the_worn_ones_are_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's memory report arrives before its job's end; a worker over the hard limit is replaced at
    once, one over the slack only after its idle time, and the pool stays warm and keeps working."""
    monkeypatch.setenv("CNNVIZ_HOME", str(tmp_path))
    backend = LocalBackend(1)
    jobs.use(backend)
    try:
        backend.warm()
        (worker,) = backend._workers
        worker.grown_mb = -1.0
        assert jobs.wait(jobs.submit("train", QUICK, owner="ann"), 120).state == "finished"
        assert worker.grown_mb != -1.0  # the report came, before the result did
        now = time.monotonic()
        worker.grown_mb, worker.idle_since = backend.slack_mb + 1, now
        assert backend.recycle() == 0  # over the slack but just finished: kept
        worker.idle_since = now - backend.idle_s
        assert backend.recycle() == 1 and worker not in backend._workers and len(backend._workers) == 1
        worker.proc.wait(30)  # the old process ends
        (fresh,) = backend._workers
        fresh.grown_mb = backend.max_growth_mb + 1  # over the hard limit: replaced even though just idle
        fresh.ready.wait(60)
        fresh.idle_since = time.monotonic()
        assert backend.recycle() == 1 and backend._workers[0] is not fresh
        assert jobs.wait(jobs.submit("train", QUICK, owner="ann"), 120).state == "finished"
        assert backend._workers[0].proc.pid not in (worker.proc.pid, fresh.proc.pid)
    finally:
        jobs.use(None)
        backend.close()
