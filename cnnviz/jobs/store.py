"""Jobs on disk: one JSON file per job (a restarted server still shows every finished result) and the
measured run times the queue's estimates come from."""
from __future__ import annotations

import json
import os
import re
import statistics
import tempfile
import threading
from pathlib import Path
from typing import Any

from cnnviz import paths
from cnnviz.jobs.view import Record

KEEP_TIMES = 20  # measurements kept per kind of work: recent enough to follow a change of machine
_ID = re.compile(r"[A-Za-z0-9_-]{16}")
_LOCK = threading.Lock()


def is_job_id(text: object) -> bool:
    """Whether ``text`` can be a job id (a link value is user-supplied: check it before any file name)."""
    return isinstance(text, str) and _ID.fullmatch(text) is not None


def folder() -> Path:
    return paths.subdir("jobs")


def _write(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(record: Record) -> None:
    _write(folder() / f"{record.id}.json", record.to_json())


def load(job_id: str) -> Record | None:
    """The record of ``job_id`` from disk (None when there is none or it is unreadable)."""
    if not is_job_id(job_id):
        return None
    try:
        data = json.loads((folder() / f"{job_id}.json").read_text())
        return Record(**data)
    except (OSError, ValueError, TypeError):
        return None


def ids() -> list[str]:
    """Every job id on disk."""
    return [p.stem for p in folder().glob("*.json") if is_job_id(p.stem)]


def _times_file() -> Path:
    return folder() / "times.json"


def _times() -> dict[str, list[float]]:
    try:
        data = json.loads(_times_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_time(key: str, seconds_per_unit: float) -> None:
    """Add one measurement (seconds per unit of work, e.g. per epoch) for ``key``."""
    with _LOCK:
        times = _times()
        times[key] = ([*times.get(key, []), round(seconds_per_unit, 4)])[-KEEP_TIMES:]
        _write(_times_file(), times)


def typical_time(key: str) -> float | None:
    """The median measured seconds per unit for ``key`` (None before the first measurement)."""
    values = [v for v in _times().get(key, []) if isinstance(v, (int, float))]
    return statistics.median(values) if values else None
