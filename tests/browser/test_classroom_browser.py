"""The classroom deployment: two Streamlit replicas behind nginx and a local Ray cluster of 2 CPUs
(``scripts/classroom --ray head``), used by several browsers.

Each browser is pinned to a replica by the proxy's route cookie; the tests pick cookies that land on
different replicas (asking the proxy which replica answered), so that both replicas serve students.
Every browser also has its own owner cookie, as a student's browser gets on its first visit.
"""
from __future__ import annotations

import json
import os
import re
import secrets
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

from cnnviz.train import list_checkpoints
from tests.browser.helpers import assert_no_exception, goto, wait_idle
from tests.browser.server import ROOT, free_port, tail

STARTUP_S = 240
RUN_TIMEOUT_MS = 400_000


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("classroom_home")


@pytest.fixture(scope="module")
def classroom(home: Path) -> Iterator[str]:
    """``scripts/classroom --replicas 2 --ray head --ray-cpus 2`` on free ports, with its own CNNVIZ_HOME;
    yields the proxy's URL."""
    port = free_port()
    log = home / "classroom.log"
    env = {**os.environ, "CNNVIZ_HOME": str(home), "PYTHON": sys.executable}
    env.pop("CNNVIZ_JOBS", None)
    with log.open("wb") as out:
        proc = subprocess.Popen([str(ROOT / "scripts" / "classroom"), "--replicas", "2", "--port", str(port),
                                 "--ray", "head", "--ray-cpus", "2", "--ray-port", str(free_port())],
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


def _student(browser: Browser, url: str, route: str) -> tuple[object, str]:
    """A browser of its own (route and owner cookies), as a student's laptop; returns it and its owner key."""
    host = url.split("//")[1].split(":")[0]
    owner = secrets.token_urlsafe(16)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_navigation_timeout(120_000)  # two runs train on the same 2 cores as the servers
    context.add_cookies([{"name": "cnnviz_route", "value": route, "domain": host, "path": "/"},
                         {"name": "cnnviz_owner", "value": owner, "domain": host, "path": "/"}])
    return context, owner


def _job_of(page) -> str:  # noqa: ANN001
    found = re.search(r"[?&]tr_job=([A-Za-z0-9_-]{16})", page.url)
    assert found, f"no run id in the link {page.url}"
    return found.group(1)


@pytest.mark.timeout(900)  # three students train on the 2 CPUs the servers and browsers also use
def test_a_class_trains_on_the_ray_workers(classroom: str, home: Path, browser: Browser, tmp_path: Path) -> None:
    """Three students on both replicas upload a picture, press Train and reload; every run runs on a Ray
    worker, and no student sees another's run or checkpoint."""
    students = [_student(browser, classroom, route) for route in routes_per_replica(classroom, 3)]
    try:
        pages = []
        for i, (context, owner) in enumerate(students):
            page = context.new_page()
            picture = tmp_path / f"photo{i}.png"
            arr = np.zeros((40 + 8 * i, 48, 3), dtype=np.uint8)
            arr[:, :: 6 + i] = (255, 200, 0)
            Image.fromarray(arr).save(picture)
            goto(page, classroom, "augment", ag_src="upload", ag_m="flip")
            page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(picture))
            wait_idle(page)
            expect(page.get_by_text(f"{picture.name}, {40 + 8 * i}x48 pixels")).to_be_visible(timeout=60_000)
            goto(page, classroom, "training", tr_ep=1)
            page.get_by_role("button", name="Train", exact=True).click()  # everyone presses Train at once
            page.wait_for_url(re.compile(r"tr_job="), timeout=60_000)  # (a live run's page is never idle)
            pages.append((page, owner, _job_of(page)))
        last_page, _, last_job = pages[-1]  # the last to press Train: its run is queued or running
        last_page.reload()  # the page finds the run again from its link, and follows it to the end
        expect(last_page.get_by_text(re.compile(r"epoch [1-9]|Waiting for a free worker|Result on the held-out")
                                     ).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
        assert _job_of(last_page) == last_job
        for page, owner, job_id in pages:
            expect(page.get_by_text("Result on the held-out test split")).to_be_visible(timeout=RUN_TIMEOUT_MS)
            assert_no_exception(page)
        seen = {}
        for page, owner, job_id in pages:
            record = json.loads((home / "jobs" / f"{job_id}.json").read_text())
            assert record["owner"] == owner and record["state"] == "finished"
            where = record["result"]["ran_on"]
            assert where["backend"] == "ray", where  # a Ray worker ran it, not the replica
            name = record["result"]["checkpoint"]
            expect(page.get_by_text(re.compile(f"Saved as checkpoint {re.escape(name)}"))).to_be_visible()
            seen[owner] = {c.name for c in list_checkpoints(home / "checkpoints", owner=owner)}
            assert name in seen[owner]
        mine = [seen[owner] for _, owner, _ in pages]
        assert all(not (a & b) for i, a in enumerate(mine) for b in mine[i + 1:])  # nobody lists another's
        # a student who opens a classmate's link sees no trace of that run
        (page, _, _), (_, _, other_job) = pages[1], pages[0]
        goto(page, classroom, "training", tr_job=other_job)
        expect(page.get_by_text(re.compile("no run of this browser has this id"))).to_be_visible()
        expect(page.get_by_text("Result on the held-out test split")).to_have_count(0)
    finally:
        for context, _ in students:
            context.close()
