"""The layer-graph drawing for slides: valid SVG/PNG/PDF files for every zoo model, with ResNet's shortcuts drawn."""
from __future__ import annotations

import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cnnviz import cli
from cnnviz.analysis import ConfigError, summarize
from cnnviz.export.drawing import diagram, draw_file, render
from cnnviz.zoo import list_models

ROOT = Path(__file__).resolve().parents[1]


def svg_ids(data: bytes) -> list[str]:
    return [el.get("id", "") for el in ET.fromstring(data).iter()]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("name", [s.name for s in list_models()])
def test_draw_writes_a_valid_svg_for_every_zoo_model(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.svg"
    assert cli.main(["draw", name, "--format", "svg", "-o", str(out)]) == 0
    ids = svg_ids(out.read_bytes())
    assert sum(i.startswith("box-") for i in ids) >= 3  # the input, at least one layer, the output


@pytest.mark.parametrize("name, adds", [("resnet18", 8), ("resnet50", 16), ("resnet20", 9), ("plain18", 0)])
def test_resnet_drawings_contain_their_skip_connections(name: str, adds: int) -> None:
    report = summarize(name)
    assert sum(r.type == "add" for r in report.layers) == adds
    for orientation in ("horizontal", "vertical"):
        ids = svg_ids(render(diagram(report), "svg", orientation))
        assert sum(i.startswith("skip-") for i in ids) == adds


def test_inception_branches_sit_side_by_side() -> None:
    d = diagram(summarize("googlenet"))
    assert max(b.lane for b in d.boxes) >= 3  # four branches of an Inception module at one rank
    assert d.skips == 0


def test_png_scale_and_pdf(tmp_path: Path) -> None:
    one = png_size(draw_file("lenet5", "png"))
    three = png_size(draw_file("lenet5", "png", scale=3))
    assert three == (3 * one[0], 3 * one[1])
    assert draw_file("lenet5", "pdf")[:5] == b"%PDF-"
    vertical = png_size(draw_file("lenet5", "png", orientation="vertical"))
    assert vertical[1] > vertical[0] and one[0] > one[1]


def test_draw_command_as_a_user_runs_it(tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    done = subprocess.run([sys.executable, "-m", "cnnviz", "draw", "resnet20", "--set", "width_mult=0.5",
                           "--format", "pdf", "-o", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:5] == b"%PDF-"
    bad = subprocess.run([sys.executable, "-m", "cnnviz", "draw", "nosuchnet", "-o", str(tmp_path / "x.svg")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "nosuchnet" in bad.stderr


def test_bad_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="svg, png, pdf"):
        draw_file("lenet5", "gif")
