"""A local job worker: ``python -m cnnviz.jobs.worker``, started ahead of time by :mod:`cnnviz.jobs.local`.

It imports torch and the engine once, then runs one job at a time. Protocol (JSON lines): on stdin
``{"op": "run", "job": id, "kind": .., "params": {..}}`` and ``{"op": "stop", "job": id}``; on stdout
``{"ready": true}`` once, then ``{"job": id, "event": {..}}`` for every event of a job. Anything the
engine prints goes to stderr, so it cannot break the protocol.
"""
from __future__ import annotations

import json
import os
import queue
import sys
import threading
from typing import Any, TextIO


def _reader(inbox: "queue.Queue[dict[str, Any] | None]", stop: threading.Event, current: list[str]) -> None:
    """Reads stdin: runs are queued for the main thread; a stop for the current job sets ``stop`` at once."""
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("op") == "stop" and current and message.get("job") == current[0]:
            stop.set()
        elif message.get("op") == "run":
            inbox.put(message)
    stop.set()  # the server went away: stop what runs and end
    inbox.put(None)


def main() -> None:
    out: TextIO = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # print() in the engine lands on stderr
    import torch

    torch.set_num_threads(1)  # one thread per worker: the workers share the machine's cores
    from cnnviz.jobs.kinds import execute

    lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        with lock:
            out.write(json.dumps(message) + "\n")

    inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
    stop = threading.Event()
    current: list[str] = []
    threading.Thread(target=_reader, args=(inbox, stop, current), daemon=True).start()
    send({"ready": True})
    while (message := inbox.get()) is not None:
        job_id = message["job"]
        current[:] = [job_id]
        stop.clear()
        execute(message["kind"], message["params"], lambda e, j=job_id: send({"job": j, "event": e}), stop.is_set)
        current.clear()


if __name__ == "__main__":
    main()
