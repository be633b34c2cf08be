"""The Ray backend (cnnviz.jobs.ray) on a local Ray cluster of 2 CPUs: what only it does. The job layer's
shared checks (events, cancel, owners, queue, restarts, leases) run against it in tests/test_jobs.py."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
import ray

from cnnviz import jobs
from cnnviz.errors import ConfigError
from cnnviz.jobs.ray import RayBackend, address_of
from cnnviz.train import TrainConfig, list_checkpoints
from tests.ray_cluster import ray_backend

pytestmark = pytest.mark.ray
QUICK = {"config": TrainConfig(epochs=1, subset=256, augment="none").to_dict()}


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RayBackend]:
    monkeypatch.setenv("CNNVIZ_HOME", str(tmp_path))
    made = ray_backend(2)
    jobs.use(made)
    yield made
    jobs.use(None)
    made.close()


def test_a_run_lands_on_a_ray_worker_and_says_where(backend: RayBackend) -> None:
    job_id = jobs.submit("train", QUICK, owner="ann")
    view = jobs.wait(job_id, 180)
    assert view.state == "finished", view.error
    where = view.result["ran_on"]
    assert where["backend"] == "ray" and where["pid"] != os.getpid()  # not this (the server's) process
    assert where["node"] in {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert view.events[0]["type"] == "start" and view.events[0]["ran_on"] == where  # known from the first event
    # the checkpoint the worker saved is the owner's, on this server's disk
    assert view.result["checkpoint"] in {c.name for c in list_checkpoints(owner="ann")}
    assert list_checkpoints(owner="bob") == []


def test_the_setting_chooses_the_cluster_and_bad_addresses_are_explained(backend: RayBackend,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_JOBS", "ray:auto")
    jobs.use(None)
    assert isinstance(jobs.backend(), RayBackend)  # joins the cluster this process is already a node of
    jobs.backend().close()
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert address_of("ray://10.0.0.5:6379") == "10.0.0.5:6379" and address_of("ray:auto") == "auto"
    for bad in ("ray://nohost", "ray://h:0", "ray://h:99999", "ray:everywhere"):
        with pytest.raises(ConfigError, match="ray://host:port"):
            address_of(bad)


def test_a_checkpoint_saved_on_another_machine_is_copied_here(backend: RayBackend, tmp_path: Path) -> None:
    target = tmp_path / "checkpoints" / "lenet5-elsewhere.pt"
    backend._keep_file({"type": "_file", "name": "../lenet5-elsewhere.pt", "data": b"weights", "node": "other"})
    assert target.read_bytes() == b"weights"  # the name's folder part is dropped: it lands in the checkpoints
    backend._keep_file({"type": "_file", "name": "lenet5-here.pt", "data": b"x", "node": backend._node})
    assert not (tmp_path / "checkpoints" / "lenet5-here.pt").exists()  # same machine: the worker wrote it here
