"""Depth as the papers count it, comparisons that never give a parameter-free layer parameters, and number formats."""
from __future__ import annotations

import csv
import io
import json
import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnviz
from cnnviz import cli
from cnnviz.analysis import compare, human_bytes, human_count
from cnnviz.analysis.depth import depths, longest_path
from cnnviz.analysis.report import plain_number, significant

# The papers' (and the course notes') depths.
DEPTHS = {"resnet18": 18, "resnet34": 34, "resnet50": 50, "resnet152": 152, "plain34": 34, "plain50": 50,
          "googlenet": 22, "vgg16": 16, "alexnet": 8, "alexnet_paper": 8, "densenet121": 121, "mobilenet_v1": 28,
          "resnet56": 56, "plain56": 56}


@pytest.fixture(scope="module")
def reports() -> dict[str, cnnviz.Report]:
    names = set(DEPTHS) | {"lenet5"}
    return {name: cnnviz.summarize(name) for name in names}


@pytest.mark.parametrize("name,expected", sorted(DEPTHS.items()))
def test_depth_is_the_papers_count(reports: dict[str, cnnviz.Report], name: str, expected: int) -> None:
    report = reports[name]
    assert report.totals.depth == expected
    assert json.loads(report.to_json())["totals"]["depth"] == expected
    assert f"depth: {expected} layers with weights on the longest input-to-output path" in report.to_text()


def test_parallel_branches_are_not_added(reports: dict[str, cnnviz.Report]) -> None:
    resnet = reports["resnet50"]
    path = longest_path(resnet.layers)
    assert len(path) == 50 and path[0] == "conv1" and path[-1] == "fc"
    assert not any("downsample" in name for name in path)
    assert resnet.weighted_layers() == 54  # the four projection shortcuts run beside the blocks they bypass
    per_row = depths(resnet.layers)
    assert per_row["fc"] == 50 and per_row["layer2.0.conv3"] == 1 + 3 * 3 + 3  # conv1, layer1's 3 blocks, this one
    assert per_row["layer2.0.downsample.0"] == 1 + 3 * 3 + 1  # the shortcut skips the block's three convolutions
    # the course notes' GoogLeNet: "CONV Layers: 21 (depth), 57 (total)", plus the fully connected layer
    googlenet = reports["googlenet"]
    assert (googlenet.totals.depth, googlenet.weighted_layers()) == (22, 58)
    assert sum(name.startswith("inception") for name in longest_path(googlenet.layers)) == 18  # 2 per module


def test_the_command_line_compares_depth(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compare", "resnet50", "googlenet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert next(line for line in lines if line.startswith("Depth (layers with weights)")).split()[-2:] == ["50", "22"]
    assert next(line for line in lines if line.startswith("weight layers, all branches")).split()[-2:] == ["54", "58"]
    assert cli.main(["compare", "resnet50", "googlenet", "--format", "json"]) == 0
    assert [row["depth"] for row in json.loads(capsys.readouterr().out)] == [50, 22]


class Branches(nn.Module):
    """Two branches (2 convs with batch norm, and 1 conv) concatenated, then a functional linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.a1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.a2 = nn.Conv2d(4, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)
        self.weight = nn.Parameter(torch.zeros(10, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.a2(F.relu(self.bn(self.a1(x))))
        y = torch.cat([a, self.b(x)], dim=1)
        return F.linear(F.adaptive_avg_pool2d(y, 1).flatten(1), self.weight)


def test_longest_path_of_a_hand_built_network() -> None:
    report = cnnviz.analyze(Branches(), (3, 8, 8))
    assert longest_path(report.layers) == ["a1", "a2", "linear"]  # bn, relu, cat, pool add nothing; b runs beside
    assert report.totals.depth == 3 and report.weighted_layers() == 4


def test_a_plain_stack_counts_every_weight_layer() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(2 * 3 * 3, 5), nn.ReLU(), nn.Linear(5, 2))
    assert cnnviz.analyze(model, (1, 8, 8)).totals.depth == 3


# -- compare ----------------------------------------------------------------------------------------
PAIRS = [("alexnet_paper", "vgg16"), ("plain50", "resnet50"), ("lenet5", "resnet18"), ("mobilenet_v1", "vgg16")]


def parameter_free_types(*reports: cnnviz.Report) -> set[str]:
    types = {r.type for rep in reports for r in rep.layers}
    return {t for t in types if all(r.params == 0 for rep in reports for r in rep.layers if r.type == t)}


@pytest.mark.parametrize("a,b", PAIRS)
def test_compare_never_gives_a_parameter_free_layer_parameters(a: str, b: str) -> None:
    ra, rb = cnnviz.summarize(a), cnnviz.summarize(b)
    free = parameter_free_types(ra, rb)
    assert {"ReLU"} <= free
    for x, y in ((ra, rb), (rb, ra)):
        assert not set(compare.resized(x, y)) & free
        for pair in compare.matched_pairs(x, y):
            assert pair[0].type == pair[1].type
        for kind in compare.by_kind(x).values():
            if kind.kind in ("pooling", "activation", "merge"):
                assert kind.params == 0, kind
    for change in compare.kind_changes(ra, rb):
        if change.params_delta:
            assert change.kind in ("convolution", "fully connected", "normalisation"), change


def test_one_family_is_matched_layer_by_layer() -> None:
    resnet, plain = cnnviz.summarize("resnet50"), cnnviz.summarize("plain50")
    assert compare.same_structure(resnet, plain)
    groups = compare.only_in(resnet, plain)
    assert [(g.key, len(g.rows)) for g in groups] == [("downsample", 8), ("add", 16)]
    assert groups[0].params == resnet.totals.params - plain.totals.params
    assert compare.only_in(plain, resnet) == [] and compare.resized(resnet, plain) == {}
    narrow = cnnviz.summarize("resnet18", width_mult=0.5)
    wide = cnnviz.summarize("resnet18")
    delta = compare.resized(narrow, wide)
    assert set(delta) == {"Conv2d", "BatchNorm2d", "Linear"}
    assert sum(delta.values()) == narrow.totals.params - wide.totals.params


def test_unrelated_networks_are_compared_by_layer_kind() -> None:
    alexnet, vgg = cnnviz.summarize("alexnet_paper"), cnnviz.summarize("vgg16")
    assert not compare.same_structure(alexnet, vgg)  # features.2 is a pooling layer in one, a convolution in the other
    kinds = {c.kind: c for c in compare.kind_changes(alexnet, vgg)}
    assert kinds["convolution"].ref.layers == 5 and kinds["convolution"].other.layers == 13
    assert kinds["pooling"].params_delta == 0 and kinds["normalisation"].other is None  # no LRN in VGG
    assert sum(c.params_delta for c in kinds.values()) == vgg.totals.params - alexnet.totals.params


# -- numbers and formats ------------------------------------------------------------------------------
def test_activation_memory_in_values_as_the_course_counts_it(reports: dict[str, cnnviz.Report]) -> None:
    vgg = reports["vgg16"]
    first = vgg.layers[0]
    assert first.activation_values == 224 * 224 * 64 == 3_211_264  # "224*224*64 = 3.2M"
    assert vgg.totals.activation_values * 4 == vgg.totals.activation_bytes
    assert vgg.totals.activation_values == sum(r.activation_values for r in vgg.layers)
    assert f"{human_count(vgg.totals.activation_values)} values" in vgg.to_text()
    half = cnnviz.analyze(nn.Conv2d(3, 8, 3), (3, 10, 10), dtype=torch.float16)
    assert half.totals.activation_values == 8 * 8 * 8 and half.totals.activation_bytes == 2 * 8 * 8 * 8


def test_exports_say_their_shape_order(reports: dict[str, cnnviz.Report]) -> None:
    report = reports["lenet5"]
    data = report.to_dict()
    assert data["shape_order"].startswith("C x H x W") and data["input_shape"] == [1, 32, 32]
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert rows[0]["output_shape_chw"] == "6x28x28" and int(rows[0]["activation_values"]) == 6 * 28 * 28
    assert "output (CxHxW)" in report.to_text() and "(C x H x W)" in report.to_text()


def test_a_fractional_jump_says_why() -> None:
    big = cnnviz.summarize("vgg16", input_size=1000)
    assert big.receptive_field["jump"] == round(32 * 31 / 7, 3) == 141.714
    note = big.jump_note()
    assert "avgpool (AdaptiveAvgPool2d)" in note and "31x31 over 7x7" in note and "31/7" in note
    assert note in big.to_text()
    assert cnnviz.summarize("vgg16").jump_note() == ""


@pytest.mark.parametrize("exponent", range(-2, 16))
def test_no_scientific_notation(exponent: int) -> None:
    for mantissa in (1, 1.5, 9.999, 999.95 / 100):
        n = mantissa * 10.0 ** exponent
        for text in (human_count(n), human_count(round(n)), human_bytes(abs(n)), plain_number(n), significant(n),
                     significant(1 / n)):
            assert not re.search(r"\de[+-]?\d", text), text
    assert plain_number(141.71428) == "141.714" and plain_number(1000.0) == "1000" and human_count(999) == "999"
    assert math.isclose(float(plain_number(0.5)), 0.5)
    assert (significant(1234.56), significant(1e-05), significant(0.12345), significant(0)) == \
        ("1235", "0.00001", "0.123", "0")


def test_a_global_receptive_field_has_no_jump_note() -> None:
    """Networks whose field is global (squeeze-and-excitation, attention) have no jump to explain."""
    report = cnnviz.summarize("efficientnet_b0")
    assert report.receptive_field["jump"] is None
    assert report.jump_note() == ""
