"""The command line, run as a user runs it: ``python -m cnnviz ...`` in a subprocess."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import cnnviz

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnviz", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_list_names_every_model():
    out = cli("list")
    assert out.returncode == 0
    for spec in cnnviz.list_models():
        assert spec.name in out.stdout


def test_summary_json_shape_and_numbers():
    out = cli("summary", "vgg16", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["model"] == "vgg16" and data["input_shape"] == [3, 224, 224]
    assert data["totals"]["params"] == 138_357_544
    assert data["totals"]["macs"] == 15_470_264_320 and data["totals"]["flops"] == 2 * 15_470_264_320
    assert data["receptive_field"] == {"size": 212, "jump": 32, "start": -90, "layer": "avgpool"}
    first = data["layers"][0]
    assert first["name"] == "features.0" and first["output_shape"] == [64, 224, 224] and first["rf"] == 3


def test_summary_with_settings_and_input():
    out = cli("summary", "resnet50", "--set", "stride_placement=paper", "--input", "3,224,224", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["receptive_field"]["size"] == 483


def test_summary_table_and_csv():
    table = cli("summary", "lenet5")
    assert table.returncode == 0
    assert "parameters: 61,706" in table.stdout and "MACs" in table.stdout
    out = cli("summary", "lenet5", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows[0]["name"] and sum(int(r["params"]) for r in rows) == 61_706


def test_compare():
    out = cli("compare", "resnet18", "plain18", "resnet50:stride_placement=paper", "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["model"] for r in rows] == ["resnet18", "plain18", "resnet50:stride_placement=paper"]
    assert rows[0]["params"] - rows[1]["params"] == 11_689_512 - 11_515_688
    assert rows[2]["receptive_field"] == 483
    assert "params" in cli("compare", "alexnet", "vgg11").stdout


@pytest.mark.parametrize("args,message", [
    (["summary", "vgg16", "--input", "3,16,16"], "features.30 (MaxPool2d 2x2, stride 2, padding 0): input 1x1"),
    (["summary", "resnet18", "--set", "width_mult=-1"], "width_mult"),
    (["summary", "resnet18", "--set", "nonsense"], "key=value"),
    (["summary", "resnet181"], "unknown model 'resnet181'"),
    (["summary", "alexnet", "--input", "3,abc,4"], "C,H,W"),
    (["compare", "alexnet", "vgg16:batch_norm=maybe"], "batch_norm"),
    (["experiment", "nope"], "unknown experiment 'nope'"),
    (["experiment", "depth", "--seed", "-1"], "the seed must be a whole number"),
])
def test_bad_input_gives_one_clear_line(args, message):
    out = cli(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr and out.stderr.startswith("error: ")
