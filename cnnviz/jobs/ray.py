"""The distributed backend: every job is a Ray task on a Ray cluster (``CNNVIZ_JOBS=ray:auto`` or
``ray://HOST:PORT``), so a class's runs spread over as many machines as join the cluster.

Ray is the existing engine for many small jobs across machines: it places each task on a node with a
free CPU (``num_cpus=1``; a fractional ``num_gpus`` on a GPU node), keeps its worker processes (and
their imported torch) between tasks, and streams what a task yields back to the caller. Here:

* a job is one call of :func:`_job`, a streaming-generator task that yields the job's events as the
  engine emits them; a thread of this server follows each running job and feeds them to the queue;
* Stop sets a flag in one small detached actor per cluster (:class:`_Stops`); the task learns it within
  a batch through a call that returns the moment the flag is set (no polling loop on the server);
* the queue, positions, estimates, owners, leases and the records on disk are :class:`Backend`'s, as for
  the local backend; ``slots`` (runs at once) follows the cluster's CPUs as machines join or leave;
* the result says where it ran (``ran_on``: node, host, worker process), and a checkpoint saved on
  another machine's disk is copied back to this server's checkpoint folder.

``ray:auto`` joins the cluster this machine belongs to (``RAY_ADDRESS``, else the one ``ray start`` left on
this machine); ``ray://HOST:PORT`` is the head's address (the port of ``ray start --head --port``). Either
way this machine must be a node of the cluster (its head, or ``ray start --address=HEAD:PORT
--num-cpus=0`` for a web server that trains nothing).
"""
from __future__ import annotations

import os
import queue
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import ray

from cnnviz import paths
from cnnviz.budget import env_whole
from cnnviz.errors import ConfigError
from cnnviz.jobs.core import Backend
from cnnviz.jobs.view import Record

STOPS_ACTOR = "cnnviz-stops"
NAMESPACE = "cnnviz"
SLOTS_EVERY_S = 5.0  # how often the cluster's CPUs are read again (machines join during a lecture)
_INIT_LOCK = threading.Lock()


def address_of(where: str) -> str:
    """The Ray address ``ray.init`` takes for a ``CNNVIZ_JOBS`` value (ConfigError for anything else)."""
    if where == "ray:auto":
        return os.environ.get("RAY_ADDRESS", "").strip() or "auto"
    if where.startswith("ray://"):
        host, _, port = where[len("ray://"):].rpartition(":")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return f"{host}:{port}"
    raise ConfigError(f"the server's job setting {where[:60]!r} is not ray:auto or ray://host:port "
                      "(the Ray head's address, e.g. ray://10.0.0.5:6379)")


def runtime_env() -> dict[str, Any]:
    """What every cnnviz job carries: the engine's code (Ray's ``py_modules``), so a worker machine needs the
    same Python packages but not this checkout, and runs the server's version of the engine."""
    return {"py_modules": [str(Path(__file__).resolve().parents[1])]}


def connect(address: str) -> None:
    """Join the cluster at ``address`` once per process (a process that already joined one keeps it)."""
    with _INIT_LOCK:
        if ray.is_initialized():
            return
        try:
            ray.init(address=address, namespace=NAMESPACE, logging_level="ERROR", log_to_driver=False,
                     runtime_env=runtime_env())
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot reach the Ray cluster at {address[:60]!r} ({str(exc)[:200]}); start it "
                              "with `ray start --head` or set the server's CNNVIZ_JOBS to local") from None


@ray.remote(num_cpus=0)
class _Stops:
    """Which jobs were asked to stop (one detached actor per cluster, shared by every web server)."""

    def __init__(self) -> None:
        import asyncio

        self._flags: dict[str, asyncio.Event] = {}

    def _flag(self, job_id: str) -> Any:
        import asyncio

        return self._flags.setdefault(job_id, asyncio.Event())

    async def stop(self, job_id: str) -> None:
        self._flag(job_id).set()

    async def stopped(self, job_id: str) -> bool:
        """Returns once ``job_id`` is asked to stop (a task keeps the call pending while it runs)."""
        await self._flag(job_id).wait()
        return True

    async def forget(self, job_id: str) -> None:
        """The job ended: its task's pending :meth:`stopped` call returns, the flag goes."""
        flag = self._flags.pop(job_id, None)
        if flag is not None:
            flag.set()


def _stops() -> Any:
    return _Stops.options(name=STOPS_ACTOR, namespace=NAMESPACE, lifetime="detached", get_if_exists=True,
                          max_concurrency=10_000).remote()


def _where() -> dict[str, Any]:
    context = ray.get_runtime_context()
    return {"backend": "ray", "node": context.get_node_id(), "worker": context.get_worker_id(),
            "host": socket.gethostname(), "pid": os.getpid()}


@ray.remote(num_cpus=1, max_retries=0)  # a retry would start the run again under the same events
def _job(job_id: str, kind: str, params: dict[str, Any], home: str, stops: Any) -> Iterator[dict[str, Any]]:
    """Run one job on a Ray worker; yields its events (the last one terminal) and, before that, a
    checkpoint it saved (``{"type": "_file", ...}``) so a server on another machine gets a copy."""
    from cnnviz.jobs.kinds import execute
    from cnnviz.jobs.worker import private_mb

    os.environ["CNNVIZ_HOME"] = home  # the server's folder (same path on a shared or the same disk)
    stop_ref = stops.stopped.remote(job_id)
    stopped = threading.Event()

    def should_stop() -> bool:
        if not stopped.is_set() and ray.wait([stop_ref], timeout=0)[0]:
            stopped.set()
        return stopped.is_set()

    where = _where()
    events: queue.Queue[dict[str, Any]] = queue.Queue()

    def emit(event: dict[str, Any]) -> None:
        if event.get("type") == "start":
            event = {**event, "ran_on": where}
        events.put(event)

    worker = threading.Thread(target=execute, args=(kind, params, emit, should_stop), daemon=True)
    worker.start()
    while True:
        event = events.get()
        if event.get("type") in ("done", "stopped", "error"):
            break
        yield event
    worker.join()
    private_mb()  # the freed heap back to the machine, as the local workers do after each job
    result = event.get("result")
    if isinstance(result, dict):
        result["ran_on"] = where
        name = result.get("checkpoint")
        if isinstance(name, str):
            path = paths.checkpoint_dir() / f"{name}.pt"
            if path.is_file():
                yield {"type": "_file", "name": path.name, "data": path.read_bytes(), "node": where["node"]}
    yield event


class RayBackend(Backend):
    """Jobs as Ray tasks on a cluster (see the module's docstring)."""

    def __init__(self, where: str = "ray:auto", slots: int | None = None) -> None:
        connect(address_of(where))
        self._fixed = slots or env_whole("CNNVIZ_MAX_RUNS", 0) or None  # None: as many as the cluster's CPUs
        super().__init__(self._fixed or self._cluster_slots())
        self._read_at = time.monotonic()
        self._stops = _stops()
        self._gpus = self._gpu_share()
        self._running: dict[str, Any] = {}  # job id -> its generator
        self._node = ray.get_runtime_context().get_node_id()
        self._closed = False

    @staticmethod
    def _cluster_slots() -> int:
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    @staticmethod
    def _gpu_share() -> float:
        """The GPU fraction a run asks for: 1/``$CNNVIZ_RUNS_PER_GPU`` (default 4) on a cluster with GPUs."""
        if not ray.cluster_resources().get("GPU"):
            return 0.0
        return 1.0 / env_whole("CNNVIZ_RUNS_PER_GPU", 4)

    def warm(self, wait: bool = False) -> None:
        """Start a worker per slot now (each imports torch and the engine), so the first run starts at once;
        ``wait``: return when they are ready (a bench), else at once (a page)."""
        started = [_warm.remote() for _ in range(self.slots)]
        if wait:
            ray.get(started)

    def _dispatch(self) -> None:
        if self._fixed is None and time.monotonic() - self._read_at > SLOTS_EVERY_S:
            self._read_at = time.monotonic()
            self.slots = self._cluster_slots()
        super()._dispatch()

    def _launch(self, record: Record) -> bool:
        if self._closed or len(self._running) >= self.slots:
            return False
        options: dict[str, Any] = {"num_gpus": self._gpus} if self._gpus else {}
        generator = _job.options(**options).remote(record.id, record.kind, record.params, str(paths.home()),
                                                   self._stops)
        self._running[record.id] = generator
        self.started(record)
        threading.Thread(target=self._follow, args=(record.id, generator), name="cnnviz-ray-job",
                         daemon=True).start()
        return True

    def _follow(self, job_id: str, generator: Any) -> None:
        """Feed the task's events to the queue; a task that dies (its node lost) ends the job with an error."""
        ended = False
        try:
            for ref in generator:
                event = ray.get(ref)
                if event.get("type") == "_file":
                    self._keep_file(event)
                    continue
                ended = event.get("type") in ("done", "stopped", "error")
                self._finish(job_id, event) if ended else self.on_event(job_id, event)
        except ray.exceptions.RayError as exc:
            if not ended:
                stopping = job_id in self._stopping
                message = f"the run's Ray worker was lost ({type(exc).__name__})"
                self._finish(job_id, {"type": "stopped"} if stopping else {"type": "error", "message": message})
                ended = True
        if not ended:
            self._finish(job_id, {"type": "error", "message": "the run's Ray task ended without a result"})

    def _finish(self, job_id: str, event: dict[str, Any]) -> None:
        with self._lock:
            self._running.pop(job_id, None)
        self._stops.forget.remote(job_id)
        self.on_event(job_id, event)

    def _keep_file(self, event: dict[str, Any]) -> None:
        """A checkpoint written on another machine: copy it here, unless this disk already has it."""
        target = paths.checkpoint_dir() / Path(str(event["name"])).name
        if event.get("node") == self._node or target.exists() or not target.name.endswith(".pt"):
            return
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(event["data"])
        os.replace(tmp, target)

    def _halt(self, record: Record) -> None:
        self._stops.stop.remote(record.id)

    def close(self) -> None:
        """Stop this server's running jobs (a test's or a script's clean-up); the cluster stays up."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for job_id in running:
            self._stops.stop.remote(job_id)
        deadline = time.monotonic() + 30
        while self._running and time.monotonic() < deadline:
            time.sleep(0.1)


@ray.remote(num_cpus=1)
def _warm() -> int:
    import cnnviz.jobs.kinds  # noqa: F401 - imports torch and the engine once in this worker process

    return os.getpid()
