"""A run whose page is gone frees its training slot after its session's timeout, not when GC gets to it."""
from __future__ import annotations

import time

from cnnviz.train import RunManager
from tests.test_train import _Waiting


class Owner:
    def __init__(self, grace_s: float) -> None:
        self.connected, self.grace_s = True, grace_s
        self.keep = self  # a reference cycle: garbage collection alone would free it late

    def alive(self) -> bool:
        return self.connected


def test_a_disconnected_owner_loses_its_run_after_the_grace_time() -> None:
    mgr = RunManager(max_runs=1)
    mgr.watch_every_s = 0.05
    owner = Owner(grace_s=0.5)
    job, waiting = mgr.submit(_Waiting(), owner=owner), mgr.submit(_Waiting())
    time.sleep(0.3)
    assert job.status == "running" and waiting.status == "queued"
    owner.connected = False
    time.sleep(0.2)
    owner.connected = True  # a short network blip: the run goes on
    time.sleep(0.6)
    assert job.status == "running"
    owner.connected = False
    start = time.monotonic()
    assert job.wait(5) and job.status == "stopped"
    assert 0.4 <= time.monotonic() - start < 3
    deadline = time.monotonic() + 5
    while waiting.status != "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert waiting.status == "running"  # the slot went to the next in line
    waiting.stop()
