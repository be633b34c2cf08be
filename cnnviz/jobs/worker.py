"""A local job worker: ``python -m cnnviz.jobs.worker``, started ahead of time by :mod:`cnnviz.jobs.local`.

It imports torch and the engine once, then runs one job at a time. Protocol (JSON lines): on stdin
``{"op": "run", "job": id, "kind": .., "params": {..}}`` and ``{"op": "stop", "job": id}``; on stdout
``{"ready": true}`` once, then ``{"job": id, "event": {..}}`` for every event of a job and, after each
job, ``{"grown_mb": x}``: how much its private memory has grown since it said ready (the backend replaces
a worker that keeps what a run left behind: :mod:`cnnviz.jobs.local`). Anything the engine prints goes to
stderr, so it cannot break the protocol.
"""
from __future__ import annotations

import ctypes
import gc
import json
import os
import queue
import sys
import threading
from typing import Any, TextIO


def _reader(inbox: "queue.Queue[dict[str, Any] | None]", stopped: set[str], gone: threading.Event) -> None:
    """Reads stdin: runs are queued for the main thread; a stop is noted at once, by job id, so a Stop that
    arrives before its run has begun (clicked the moment the button appears) is not lost."""
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("op") == "stop" and isinstance(message.get("job"), str):
            stopped.add(message["job"])
        elif message.get("op") == "run":
            inbox.put(message)
    gone.set()  # the server went away: stop what runs and end
    inbox.put(None)


def private_mb() -> float | None:
    """Resident memory not backed by a file (the heap, tensors: what a run leaves behind), after giving
    the allocator's free pages back to the system; None where ``/proc`` or glibc is missing."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)  # glibc keeps freed heap pages; without this they count as grown
    except (AttributeError, OSError):
        pass
    try:
        with open("/proc/self/statm") as f:
            resident, shared = (int(x) for x in f.read().split()[1:3])
    except (OSError, ValueError):
        return None
    return (resident - shared) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    out: TextIO = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # print() in the engine lands on stderr
    import torch

    torch.set_num_threads(1)  # one thread per worker: the workers share the machine's cores
    from cnnviz.jobs.kinds import execute, warm_up

    warm_up()
    baseline = private_mb()

    lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        with lock:
            out.write(json.dumps(message) + "\n")

    inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
    stopped: set[str] = set()  # ids of jobs asked to stop (a job runs here once, so an id never comes back)
    gone = threading.Event()
    threading.Thread(target=_reader, args=(inbox, stopped, gone), daemon=True).start()
    send({"ready": True})
    while (message := inbox.get()) is not None:
        job_id = message["job"]
        last: list[dict[str, Any]] = []

        def emit(event: dict[str, Any], j: str = job_id) -> None:
            if event.get("type") in ("done", "stopped", "error"):
                last.append(event)  # sent after the memory report: the backend reads both before its next job
            else:
                send({"job": j, "event": event})

        execute(message["kind"], message["params"], emit, lambda j=job_id: gone.is_set() or j in stopped)
        stopped.discard(job_id)
        now = private_mb()
        if now is not None and baseline is not None:
            send({"grown_mb": round(now - baseline, 1)})
        for event in last:
            send({"job": job_id, "event": event})


if __name__ == "__main__":
    main()
