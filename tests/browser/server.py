"""The app started the README way (``scripts/serve``, as ``make run`` does) on a free port.

Used by the browser tests' ``app_url`` fixture and by ``bench/bench_load.py``.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 120


class ServerError(RuntimeError):
    """The app exited or did not become healthy; the message ends with its log's tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 80) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def serve(home: Path, log: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """Start the app with ``$CNNVIZ_HOME=home`` and its output in ``log``; yield (process, URL); stop it."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "ADDRESS": "127.0.0.1", "PYTHON": sys.executable,
           "CNNVIZ_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    with serving([str(ROOT / "scripts" / "serve")], port, log, env) as started:
        yield started


@contextmanager
def serving(command: list[str], port: int, log: Path,
            env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen, str]]:
    """Run ``command`` (a web server on ``port`` of 127.0.0.1) with its output in ``log``; yield (process, URL)
    once it is healthy; stop it."""
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, log)
        yield server, url
    finally:
        _stop(server)


def _wait_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    """Wait until ``/_stcore/health`` answers ``ok``."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServerError(f"the app exited with code {server.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as reply:
                if reply.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise ServerError(f"the app was not healthy after {STARTUP_TIMEOUT_S} s:\n{tail(log)}")


def _stop(server: subprocess.Popen) -> None:
    """Stop the server and anything it started (it leads its own process group)."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
