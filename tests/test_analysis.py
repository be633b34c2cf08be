"""The analysis engine against the course notes' worked numbers, torchvision's metadata and real forward passes."""
from __future__ import annotations

import math
import tracemalloc

import pytest
import torch
from torch import nn
from torchvision.models import get_model_weights

import cnnviz
from cnnviz.analysis import ConfigError, analyze, summarize
from cnnviz.analysis.stack import build_stack


def conv(out: int, k: int, s: int = 1, p: int | str = 0, **kw) -> dict:
    return {"type": "conv", "out_channels": out, "kernel": k, "stride": s, "padding": p, **kw}


# -- the course notes' worked examples ---------------------------------------------------------------

def test_notes_conv_exercise_32x32x3_ten_5x5_filters():
    report = analyze(build_stack((3, 32, 32), [conv(10, 5, 1, 2)]), (3, 32, 32))
    row = report.layers[0]
    assert row.output_shape == (10, 32, 32)
    assert row.params == 760  # 10 x (5*5*3 + 1)
    assert row.macs == 32 * 32 * 10 * 75


@pytest.mark.parametrize("stride,pad,expected", [(1, 0, 5), (2, 0, 3), (1, 1, 7)])
def test_notes_7x7_input_3x3_filter(stride, pad, expected):
    report = analyze(build_stack((1, 7, 7), [conv(1, 3, stride, pad)]), (1, 7, 7))
    assert report.layers[0].output_shape == (1, expected, expected)


def test_notes_maxpool_2x2_stride_2():
    report = analyze(build_stack((1, 4, 4), [{"type": "pool", "kind": "max", "kernel": 2, "stride": 2}]), (1, 4, 4))
    assert report.layers[0].output_shape == (1, 2, 2)
    assert report.layers[0].params == 0


def test_notes_alexnet_conv1_and_pool1():
    report = summarize("alexnet_paper")
    conv1 = next(r for r in report.layers if r.type == "Conv2d")
    assert conv1.output_shape == (96, 55, 55)  # (227 - 11) / 4 + 1 = 55
    assert conv1.params == 11 * 11 * 3 * 96 + 96
    pool1 = next(r for r in report.layers if r.type == "MaxPool2d")
    assert pool1.output_shape == (96, 27, 27)  # (55 - 3) / 2 + 1 = 27


def test_notes_alexnet_paper_figures():
    report = summarize("alexnet_paper")
    assert 60e6 < report.totals.params < 62e6  # "61M weights"
    assert abs(report.totals.macs - 724e6) / 724e6 < 0.01  # the course notes' "724M FLOPs" are MACs


def test_notes_lenet5_about_60k_parameters():
    assert 59_000 < summarize("lenet5").totals.params < 62_000


def test_notes_1x1_bottleneck_cost_story():
    naive = analyze(build_stack((192, 28, 28), [conv(32, 5, 1, 2)]), (192, 28, 28))
    assert naive.totals.macs == 28 * 28 * 32 * 5 * 5 * 192 == 120_422_400  # "120M"
    reduced = analyze(build_stack((192, 28, 28), [conv(16, 1), conv(32, 5, 1, 2)]), (192, 28, 28))
    assert [r.macs for r in reduced.layers] == [2_408_448, 10_035_200]  # "2.4M + 10.0M"
    assert reduced.totals.macs == 12_443_648  # "12.4M"


def test_notes_resnet_bottleneck_256_64_256():
    stack = build_stack((256, 56, 56), [conv(64, 1, bias=False), conv(64, 3, 1, 1, bias=False),
                                        conv(256, 1, bias=False)])
    assert analyze(stack, (256, 56, 56)).totals.params == 69_632  # "69K"
    plain = build_stack((256, 56, 56), [conv(256, 3, 1, 1, bias=False)])
    assert analyze(plain, (256, 56, 56)).totals.params == 589_824  # "589K"


NOTES_VGG16 = [  # (memory values, weights without bias) per conv/pool/fc row of the course notes' table
    (224 * 224 * 64, 1_728), (224 * 224 * 64, 36_864), (112 * 112 * 64, 0),
    (112 * 112 * 128, 73_728), (112 * 112 * 128, 147_456), (56 * 56 * 128, 0),
    (56 * 56 * 256, 294_912), (56 * 56 * 256, 589_824), (56 * 56 * 256, 589_824), (28 * 28 * 256, 0),
    (28 * 28 * 512, 1_179_648), (28 * 28 * 512, 2_359_296), (28 * 28 * 512, 2_359_296), (14 * 14 * 512, 0),
    (14 * 14 * 512, 2_359_296), (14 * 14 * 512, 2_359_296), (14 * 14 * 512, 2_359_296), (7 * 7 * 512, 0),
    (4096, 102_760_448), (4096, 16_777_216), (1000, 4_096_000),
]


def test_notes_vgg16_table():
    report = summarize("vgg16")
    rows = [r for r in report.layers if r.type in {"Conv2d", "MaxPool2d", "Linear"}]
    assert len(rows) == len(NOTES_VGG16)
    for row, (values, weights) in zip(rows, NOTES_VGG16):
        bias = row.output_shape[0] if row.type != "MaxPool2d" else 0
        assert math.prod(row.output_shape) == values, row.name
        assert row.params - bias == weights, row.name
        assert row.activation_bytes == 4 * values
    assert report.totals.params == 138_357_544  # "138M parameters"
    # The course notes' rows add up to 15.2M values (+150K input); their "24M" total is not the sum of the rows.
    assert sum(v for v, _ in NOTES_VGG16) == pytest.approx(15.2e6, rel=0.01)
    assert report.totals.input_bytes == 4 * 224 * 224 * 3
    assert abs(report.totals.macs - 15.5e9) / 15.5e9 < 0.01  # "15.5G FLOPs" are MACs


# -- torchvision twins ----------------------------------------------------------------------

TWINS = [s for s in cnnviz.list_models() if s.torchvision]


def test_every_torchvision_family_has_twins():
    names = {s.torchvision for s in TWINS}
    for expected in ["alexnet", "vgg16", "vgg16_bn", "googlenet", "inception_v3", "resnet18", "resnet50",
                     "resnet152", "resnext50_32x4d", "wide_resnet50_2", "densenet121", "squeezenet1_0",
                     "squeezenet1_1", "mobilenet_v2", "shufflenet_v2_x1_0"]:
        assert expected in names


@pytest.mark.parametrize("spec", TWINS, ids=lambda s: s.name)
def test_twin_params_and_macs_match_torchvision_metadata(spec):
    meta = get_model_weights(spec.torchvision).DEFAULT.meta
    report = summarize(spec.name)
    assert report.totals.params == meta["num_params"]
    gmacs = report.totals.macs / 1e9
    # _ops is rounded to 3 decimals (shufflenet_v2_x0_5: 0.04): equal at that precision, or within 0.5%
    assert round(gmacs, 3) == meta["_ops"] or abs(gmacs - meta["_ops"]) / meta["_ops"] < 0.005
    assert not report.totals.unknown_layers


# -- receptive fields: Araujo, Norris & Sim, Distill 2019, table of final-layer fields -----------

@pytest.mark.parametrize("name,settings,size", [
    ("alexnet", {}, 195),  # alexnet_v2
    ("vgg16", {}, 212),  # vgg_16
    ("mobilenet_v1", {}, 315),  # mobilenet_v1
    ("mobilenet_v1", {"width_mult": 0.75}, 315),  # mobilenet_v1_075
    ("resnet50", {"stride_placement": "paper"}, 483),  # resnet_v1_50
    ("resnet101", {"stride_placement": "paper"}, 1027),  # resnet_v1_101
    ("resnet152", {"stride_placement": "paper"}, 1507),  # resnet_v1_152
    ("inception_v3", {}, 1311),  # inception_v3
])
def test_receptive_fields_match_distill_table(name, settings, size):
    rf = summarize(name, **settings).receptive_field
    assert rf["size"] == size
    assert rf["jump"] == 32


def test_torchvision_v15_stride_placement_shrinks_the_field():
    assert summarize("resnet50").receptive_field["size"] == 427


def test_three_3x3_see_what_one_7x7_sees():
    three = analyze(build_stack((8, 32, 32), [conv(8, 3, 1, 1)] * 3), (8, 32, 32))
    one = analyze(build_stack((8, 32, 32), [conv(8, 7, 1, 3)]), (8, 32, 32))
    assert three.layers[-1].rf == one.layers[-1].rf == 7
    assert three.totals.params - 3 * 8 == 27 * 8 * 8 and one.totals.params - 8 == 49 * 8 * 8


def test_receptive_field_unions_resnet_shortcut():
    report = summarize("resnet18")
    add = report.row("layer2.0.add")
    conv2 = report.row("layer2.0.bn2")
    shortcut = report.row("layer2.0.downsample.1")
    assert add.rf == conv2.rf  # the 3x3 path sees more than the 1x1 shortcut
    assert shortcut.rf < conv2.rf
    assert add.start == min(conv2.start, shortcut.start)


def test_unit_region():
    report = analyze(build_stack((1, 7, 7), [conv(1, 3, 2, 0)]), (1, 7, 7))
    assert report.layers[0].unit_region(1, 2) == (2, 4, 4, 6)


# -- agreement with a real forward pass on the meta device -----------------------------------

ALL = cnnviz.list_models()


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_shapes_and_params_agree_with_meta_forward(spec):
    model = cnnviz.build(spec.name, device="meta").eval()
    report = analyze(model, spec.default_input)
    seen: dict[str, list[tuple]] = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: seen.setdefault(n, []).append(tuple(o.shape[1:])))
             for n, m in model.named_modules() if not m._modules and n]
    with torch.no_grad():
        out = model(torch.empty(1, *spec.default_input, device="meta"))
    for h in hooks:
        h.remove()
    assert tuple(out.shape[1:]) == report.output_shape
    for row in report.layers:
        if row.module in seen and row.type not in {"add", "cat", "flatten", "relu"}:
            calls = seen[row.module]
            index = int(row.name.rsplit(":", 1)[1]) - 1 if ":" in row.name else 0
            real = calls[index]
            if "computed channels last" in row.note:  # (H, W, C) in the forward, stated (C, H, W) as every row is
                real = (real[2], real[0], real[1])
            assert real == row.output_shape, row.name
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    assert sum(r.params for r in report.layers) + report.totals.params_not_run == report.totals.params


# -- validation ------------------------------------------------------------------------------

def test_message_names_layer_and_rule():
    stack = build_stack((1, 32, 32), [conv(6, 5), {"type": "pool", "kernel": 2}, conv(16, 5),
                                      {"type": "pool", "kernel": 2}, conv(120, 5)])
    with pytest.raises(ConfigError) as err:
        analyze(stack, (1, 20, 20))
    assert str(err.value) == "conv3 (Conv2d 5x5, stride 1, padding 0): input 2x2 is smaller than the kernel (5 along the height)"
    assert err.value.layer == "conv3"


@pytest.mark.parametrize("specs,fragment", [
    ([conv(4, 3, 0)], "stride must be at least 1"),
    ([conv(4, 3, groups=2)], "groups 2 must divide the input channels (3)"),
    ([conv(-1, 3)], "out_channels must be at least 1"),
    ([conv(4, 3, 1, -1)], "padding must be at least 0"),
    ([{"type": "pool", "kernel": 2, "padding": 2}], "more than half the kernel"),
    ([{"type": "wobble"}], "unknown layer type"),
])
def test_impossible_settings(specs, fragment):
    with pytest.raises(ConfigError) as err:
        analyze(build_stack((3, 8, 8), specs), (3, 8, 8))
    assert fragment in str(err.value)


def test_input_too_small_for_the_network():
    with pytest.raises(ConfigError) as err:
        analyze(cnnviz.build("vgg16", device="meta"), (3, 16, 16))
    assert str(err.value) == ("features.30 (MaxPool2d 2x2, stride 2, padding 0): input 1x1 is smaller than "
                              "the kernel (2 along the height)")


@pytest.mark.parametrize("shape", [(3, 0, 224), (3, -4, 224), "3,abc,4", (3, 224)])
def test_bad_input_shapes(shape):
    with pytest.raises(ConfigError):
        analyze(cnnviz.build("alexnet", device="meta"), shape)


def test_wrong_channel_count_is_named():
    with pytest.raises(ConfigError, match=r"features\.0 \(Conv2d 11x11.*expects 3 input channels, got 1"):
        analyze(cnnviz.build("alexnet", device="meta"), (1, 224, 224))


def test_unknown_setting_and_bad_value():
    with pytest.raises(ConfigError, match="no setting 'widht'"):
        cnnviz.build("resnet18", widht=2)
    with pytest.raises(ConfigError, match="not a valid"):
        cnnviz.build("resnet18", input_size="big")


# -- conventions, memory, rendering ----------------------------------------------------------

def test_flops_conventions():
    plain = summarize("resnet18")
    extra = summarize("resnet18", include_extra=True)
    assert plain.totals.flops == 2 * plain.totals.macs
    assert extra.totals.flops == 2 * plain.totals.macs + plain.totals.extra_flops
    bn = next(r for r in plain.layers if r.type == "BatchNorm2d")
    assert bn.macs == 0 and bn.extra_flops == 2 * math.prod(bn.output_shape)


def test_unknown_layer_says_so():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(4, 1, 1))

        def forward(self, x):
            return x * self.w

    report = analyze(nn.Sequential(nn.Conv2d(3, 4, 3), Odd()), (3, 8, 8))
    odd = report.layers[-1]
    assert odd.macs is None and odd.flops is None
    assert report.totals.unknown_layers == ("1",)
    assert "unknown" in odd.note
    assert "MACs unknown for: 1" in report.to_text()


def test_frozen_params_and_training_memory():
    model = cnnviz.build("lenet5")
    for p in model.parameters():
        p.requires_grad_(False)
    model.get_classifier().requires_grad_(True)
    report = analyze(model, (1, 32, 32))
    head = model.get_classifier()
    assert report.totals.trainable_params == sum(p.numel() for p in head.parameters())
    assert report.totals.frozen_params == report.totals.params - report.totals.trainable_params
    mem = report.training_memory(batch_size=8, optimizer="adam")
    grads = report.totals.trainable_params * 4
    assert mem["gradients"] == grads and mem["optimizer_state"] == 2 * grads
    assert mem["activations"] == 8 * (report.totals.activation_bytes + report.totals.input_bytes)
    assert mem["total"] == mem["weights"] + mem["gradients"] + mem["optimizer_state"] + mem["activations"]


def test_inplace_relu_allocates_nothing():
    report = summarize("vgg16")
    relu = next(r for r in report.layers if r.type == "ReLU")
    assert relu.activation_bytes == 0 and "in place" in relu.note


def test_collapsed_resnet_stages():
    rows = summarize("resnet50").collapsed(depth=1)
    stages = {r["name"]: r for r in rows if r["block"]}
    assert [stages[f"layer{i}"]["repeat"] for i in range(1, 5)] == [3, 4, 6, 3]
    assert stages["layer1"]["type"] == "3 x Bottleneck"
    assert sum(r["params"] for r in rows) == 25_557_032


def test_json_shape():
    data = summarize("resnet18").to_dict()
    assert set(data) >= {"model", "input_shape", "totals", "receptive_field", "layers"}
    assert set(data["totals"]) >= {"params", "trainable_params", "macs", "flops", "param_bytes", "activation_bytes"}
    assert set(data["receptive_field"]) >= {"size", "jump"}
    assert set(data["layers"][0]) >= {"name", "type", "output_shape", "params", "macs", "flops",
                                      "activation_bytes", "rf", "jump"}
    assert data["input_shape"] == [3, 224, 224]


def test_csv_has_a_row_per_layer():
    report = summarize("lenet5")
    lines = report.to_csv().strip().splitlines()
    assert len(lines) == len(report.layers) + 1
    assert lines[0].startswith("index,name,type,output_shape")


def test_huge_input_never_allocates_activations():
    model = cnnviz.build("vgg16", device="meta")
    tracemalloc.start()
    report = analyze(model, (3, 4096, 4096))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.totals.activation_bytes > 10 * 2**30  # what a real forward would need
    assert peak < 20 * 2**20


def test_model_weights_are_left_alone():
    model = cnnviz.build("resnet18")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    model.bn1.eval()  # a frozen batch norm, as in transfer learning: it must stay in eval mode
    modes = {name: m.training for name, m in model.named_modules()}
    analyze(model, (3, 64, 64))
    assert {name: m.training for name, m in model.named_modules()} == modes and not model.bn1.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # no batch-norm statistics moved
    assert all("forward" not in m.__dict__ for m in model.modules())


def test_course_notes_state_their_conventions():
    from cnnviz.analysis.conventions import course_notes

    notes = " ".join(course_notes(summarize("vgg16")))
    assert '"15.5G FLOPs" counts multiply-accumulates' in notes and "15.47G MACs = 30.94G FLOPs" in notes
    assert "15.2M" in notes
    assert "connections" in " ".join(course_notes(summarize("lenet5")))
    assert course_notes(summarize("resnet18")) == []


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_input_transform_keeps_the_receptive_field(name):
    # transform_input selects x[:, c] (a H x W map), rescales it and concatenates the channels again
    assert summarize(name, transform_input=True).receptive_field == summarize(name).receptive_field
