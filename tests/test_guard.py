"""Resource budgets: refused with the numbers and the limit, before anything is allocated."""
from __future__ import annotations

import tracemalloc

import pytest

from cnnviz import guard
from cnnviz.analysis import ConfigError, summarize


def test_vgg16_at_8192_is_analysed_but_refused_for_real_work():
    summarize("vgg16")  # imports and first-call caches outside the measurement
    tracemalloc.start()
    report = summarize("vgg16", input_size=8192)  # analysis: meta device, never refused
    with pytest.raises(ConfigError) as err:
        guard.check(report, "inference")
    with pytest.raises(ConfigError):
        guard.check(report, "training", batch_size=8)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50 * 2**20
    msg = str(err.value)
    assert "refused before allocating anything" in msg and "vgg16 at 3x8192x8192" in msg and "limit" in msg


def test_100000_channels_refused_for_training():
    report = summarize("resnet18", in_channels=100_000)
    assert report.totals.params > 100_000 * 64 * 49
    with pytest.raises(ConfigError, match="ask the person who runs it to raise it"):
        guard.check_model("resnet18", {"in_channels": 100_000}, purpose="training", batch_size=32)


def test_small_models_pass_and_limits_are_configurable(monkeypatch):
    assert guard.check_model("lenet5", purpose="training", batch_size=64).model == "lenet5"
    monkeypatch.setenv("CNNVIZ_MAX_TRAIN_MB", "1")
    with pytest.raises(ConfigError, match=r"the limit is 1.00 MiB \(a limit of this server"):
        guard.check_model("lenet5", purpose="training", batch_size=64)
    monkeypatch.setenv("CNNVIZ_MAX_PARAMS", "1000")
    with pytest.raises(ConfigError, match="61.71K parameters"):
        guard.check_model("lenet5")
    monkeypatch.setenv("CNNVIZ_MAX_PARAMS", "lots")
    with pytest.raises(ConfigError, match="not a number"):
        guard.budget()


def test_training_is_refused_before_anything_is_allocated():
    import subprocess
    import sys
    from pathlib import Path

    out = subprocess.run([sys.executable, "-m", "cnnviz", "train", "vgg16", "--dataset", "mnist", "--image-size",
                          "1024", "--json"], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 2
    assert "refused before allocating anything: vgg16 at 1x1024x1024" in out.stderr
    assert "Traceback" not in out.stderr
