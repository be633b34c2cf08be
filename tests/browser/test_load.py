"""The classroom load test, short form: 5 students at once for 60 s (the full form is bench/bench_load.py).

See tests/browser/loadtest.py for what each session does and checks.
"""
from __future__ import annotations

import os
import shutil

import pytest

from tests.browser.loadtest import DECK, report, run_load

SESSIONS = 5
SECONDS = 60
MEMORY_GROWTH_LIMIT_MB = 1536  # the server may grow by at most this much above where it started


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_five_students_at_once(app_url: str) -> None:
    if shutil.which("chromium") is None:  # as conftest's browser fixture: CI must run it
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)("chromium is not installed")
    result = run_load(app_url, sessions=SESSIONS, seconds=SECONDS, timeout_s=120, after_s=10)
    print("\n" + report(result))
    assert result["server_pid"] is not None, "the server's process was not found: memory was not measured"
    assert result["requests"] >= SESSIONS * 3, "the sessions did almost nothing"
    every_action = {"explorer widget", "layer lab widget", "inside upload", "navigate"}
    if "training" in DECK:
        every_action.add("training start")
        assert result["training_runs"] >= 1, "no training run ended"
    assert every_action <= set(result["by_action"]), result["by_action"]
    assert result["leaks"] == 0, result["failures"]
    assert result["mismatches"] == 0, result["failures"]
    assert result["errors"] == 0, result["failures"]
    assert result["mem_peak_mb"] < result["mem_start_mb"] + MEMORY_GROWTH_LIMIT_MB
