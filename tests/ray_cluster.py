"""A local Ray cluster for the job-layer tests: started once per test process with 2 CPUs on 127.0.0.1,
owned by this process (``ray.init`` without an address), so ending the process or :func:`stop` ends it
and no other Ray on the machine is touched."""
from __future__ import annotations

import atexit
import tempfile

import ray

from cnnviz.jobs.ray import NAMESPACE, RayBackend, runtime_env

CPUS = 2


def start() -> None:
    """The cluster (once per process): 2 CPUs, a small object store, no dashboard."""
    if ray.is_initialized():
        return
    ray.init(num_cpus=CPUS, num_gpus=0, include_dashboard=False, namespace=NAMESPACE, logging_level="ERROR",
             log_to_driver=False, object_store_memory=100 * 2**20, _node_ip_address="127.0.0.1",
             _temp_dir=tempfile.mkdtemp(prefix="cnnviz-ray-"), runtime_env=runtime_env())
    atexit.register(stop)


def stop() -> None:
    if ray.is_initialized():
        ray.shutdown()


def ray_backend(slots: int | None = None) -> RayBackend:
    """A fresh backend on the test cluster (``slots`` runs at once; None: the cluster's CPUs)."""
    start()
    return RayBackend("ray:auto", slots)
