"""A throwaway PostgreSQL server for the class-board tests: initdb into a temporary folder, pg_ctl start on
127.0.0.1 with a free port, stopped and removed afterwards.

Debian keeps the server binaries out of PATH (``/usr/lib/postgresql/<version>/bin``), so they are looked
for there too. PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` user.
Without PostgreSQL the tests skip, except under ``CI=true``, where they fail (``make test`` installs it).
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and (Path(found).resolve().parent / "initdb").exists():
        return Path(found).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_postgres() -> Path:
    """The folder of initdb and pg_ctl; skips (fails in CI) when PostgreSQL is not installed."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        message = "PostgreSQL is not installed (`make test` installs Debian's postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: CI must run the PostgreSQL tests")
        pytest.skip(message)
    return bin_dir


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a fresh PostgreSQL server; yield its SQLAlchemy URL (database ``postgres``, user ``cnnviz``)."""
    bin_dir = require_postgres()
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="cnnviz-pg-"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    data, port = folder / "data", _free_port()
    log = folder / "server.log"

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            log_tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}\n{log_tail}")

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "cnnviz", "--auth=trust", "-E", "UTF8",
            "--no-sync")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", "-o",
            f"-h 127.0.0.1 -p {port} -k {folder} -F")
        yield f"postgresql://cnnviz@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
