"""Hostile command lines: one clear line and exit code 2 for bad input, never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICK_TRAIN = ("train", "lenet5", "--epochs", "1", "--subset", "64", "--no-save")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnviz", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, env={**os.environ, **(env or {})})


def refused(out: subprocess.CompletedProcess, message: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr and message in out.stderr, out.stderr


@pytest.mark.parametrize("side", [str(2**63), str(2**64 + 5), "9" * 40])
@pytest.mark.parametrize("command", [("summary", "lenet5"), ("compare", "lenet5", "alexnet")])
def test_input_sides_beyond_64_bits(side: str, command: tuple[str, ...]) -> None:
    refused(cli(*command, "--input", f"1,{side},32"), "every size must be below 2^63")


@pytest.mark.parametrize("args, message", [
    (("summary", "lenet5", "--batch-size", "-5"), "argument --batch-size: -5 is below the minimum 1"),
    (("summary", "lenet5", "--batch-size", "0"), "argument --batch-size: 0 is below the minimum 1"),
    (("summary", "lenet5", "--depth", "-1"), "argument --depth: -1 is below the minimum 0"),
    (("list", "--family", "nosuch"), "no family 'nosuch'; choose one of"),
])
def test_bad_options_are_refused(args: tuple[str, ...], message: str) -> None:
    refused(cli(*args), message)


def test_output_piped_into_head_stops_quietly() -> None:
    command = f"{sys.executable} -m cnnviz summary densenet201 --format json | head -1"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "{"
    assert "Traceback" not in out.stderr and "BrokenPipeError" not in out.stderr, out.stderr
    assert out.returncode == 141  # as a program killed by SIGPIPE


def test_setting_that_contradicts_the_data_is_a_bad_setting() -> None:
    refused(cli(*QUICK_TRAIN, "--set", "in_channels=3"), "in_channels=3 does not fit the data")


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "abc", "1e999"])
def test_hostile_budget_variables(value: str) -> None:
    refused(cli(*QUICK_TRAIN, env={"CNNVIZ_MAX_GMACS": value}), "CNNVIZ_MAX_GMACS")


def test_unusable_home(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    refused(cli(*QUICK_TRAIN, env={"CNNVIZ_HOME": str(blocker)}), "must name a writable folder")
    refused(cli(*QUICK_TRAIN, env={"CNNVIZ_HOME": str(blocker / "below")}), "must name a writable folder")


def test_train_with_the_same_name_twice_is_refused_before_training(tmp_path: Path) -> None:
    env = {"CNNVIZ_HOME": str(tmp_path)}
    args = ("train", "mlp", "--epochs", "1", "--subset", "64", "--name", "same")
    first = cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "checkpoints" / "same.pt").exists()
    second = cli(*args, env=env)
    refused(second, "a checkpoint called 'same' exists already")
    assert "training mlp" not in second.stdout  # refused before any training
