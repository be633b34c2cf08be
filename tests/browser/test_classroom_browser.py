"""The classroom deployment: two Streamlit replicas behind nginx (scripts/classroom), used by several browsers.

Each browser is pinned to a replica by the proxy's route cookie; the test picks cookies that land on
different replicas (asking the proxy which replica answered), so that both replicas serve students.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, expect

from tests.browser.helpers import assert_no_exception, goto, wait_idle
from tests.browser.server import ROOT, free_port, tail

STARTUP_S = 180


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``scripts/classroom --replicas 2`` on a free port, with its own CNNVIZ_HOME; yields the proxy's URL."""
    home = tmp_path_factory.mktemp("classroom_home")
    port = free_port()
    log = home / "classroom.log"
    env = {**os.environ, "CNNVIZ_HOME": str(home), "PYTHON": sys.executable}
    with log.open("wb") as out:
        proc = subprocess.Popen([str(ROOT / "scripts" / "classroom"), "--replicas", "2", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + STARTUP_S
    while "cnnviz for a class" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"scripts/classroom did not start:\n{tail(log)}")
        time.sleep(0.5)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def replica_of(url: str, route: str) -> str:
    """Which replica the proxy sends a browser with ``route`` in its cookie to."""
    request = urllib.request.Request(f"{url}/_stcore/health", headers={"Cookie": f"cnnviz_route={route}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.headers["X-Cnnviz-Replica"]


def routes_per_replica(url: str, wanted: int) -> list[str]:
    """Route cookies that spread ``wanted`` browsers over both replicas, alternating."""
    by_replica: dict[str, list[str]] = {}
    for i in range(200):
        by_replica.setdefault(replica_of(url, f"student{i}"), []).append(f"student{i}")
    assert len(by_replica) == 2, f"the proxy used {len(by_replica)} replica(s): {list(by_replica)}"
    a, b = by_replica.values()
    return [(a if i % 2 == 0 else b)[i // 2] for i in range(wanted)]


def test_the_proxy_keeps_a_browser_on_one_replica(classroom: str) -> None:
    first = replica_of(classroom, "student0")
    assert all(replica_of(classroom, "student0") == first for _ in range(10))
    with urllib.request.urlopen(f"{classroom}/_stcore/health", timeout=10) as reply:
        assert any(c.startswith("cnnviz_route=") for c in reply.headers.get_all("Set-Cookie"))  # a first visit


def test_uploads_work_in_every_session_through_the_proxy(classroom: str, browser: Browser, tmp_path: Path) -> None:
    host = classroom.split("//")[1].split(":")[0]
    sessions = []
    for i, route in enumerate(routes_per_replica(classroom, 3)):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([{"name": "cnnviz_route", "value": route, "domain": host, "path": "/"}])
        picture = tmp_path / f"student{i}.png"
        arr = np.zeros((60 + 10 * i, 80, 3), dtype=np.uint8)
        arr[:, :: 10 + i] = (255, 200, 0)
        Image.fromarray(arr).save(picture)
        sessions.append((context, picture, 60 + 10 * i))
    try:
        pages = []
        for context, picture, height in sessions:
            page = context.new_page()
            goto(page, classroom, "augment", ag_src="upload", ag_m="flip")
            page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(picture))
            pages.append((page, picture, height))
        for page, picture, height in pages:
            wait_idle(page)
            expect(page.get_by_text(f"{picture.name}, {height}x80 pixels")).to_be_visible()
            assert_no_exception(page)
    finally:
        for context, _, _ in sessions:
            context.close()
