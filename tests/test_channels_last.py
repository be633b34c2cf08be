"""ConvNeXt and Swin compute LayerNorm, Linear and attention channels last, (H, W, C): their rows still state
shapes as (C, H, W) like every other row, with the note "computed channels last", and nothing counted changes."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torchvision.models import get_model_weights

import cnnviz
from cnnviz.analysis import analyze, summarize

NOTE = "computed channels last"


def real_shapes(model: nn.Module, size: int) -> dict[str, tuple[int, ...]]:
    """Each leaf module's output shape (without the batch) in a real forward, first call."""
    shapes: dict[str, tuple[int, ...]] = {}

    def hook(name: str) -> object:
        def record(_module: nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
            shapes.setdefault(name, tuple(out.shape[1:]))
        return record

    hooks = [m.register_forward_hook(hook(name)) for name, m in model.named_modules() if not m._modules and name]
    with torch.no_grad():
        model(torch.randn(1, 3, size, size))
    for h in hooks:
        h.remove()
    return shapes


@pytest.mark.parametrize(("name", "size", "layouts"), [
    ("convnext_tiny", 64, {"channels last", "channels first"}),
    ("swin_t", 64, {"channels last", "channels first"}),  # 16x16 is padded to whole 7x7 windows
    ("resnet50", 64, {"channels first"}),
    ("mobilenet_v3_large", 64, {"channels first"}),
])
def test_leaf_rows_state_the_real_shapes_channels_first(name: str, size: int, layouts: set[str]) -> None:
    torch.manual_seed(0)
    model = cnnviz.build(name, input_size=size).eval()
    real = real_shapes(model, size)
    report = analyze(model, (3, size, size))
    seen = set()
    for row in report.layers:
        if row.name not in real:  # functional rows and later calls of a module
            continue
        shape = real[row.name]
        if NOTE in row.note:
            seen.add("channels last")
            assert len(shape) == 3 and row.output_shape == (shape[2], shape[0], shape[1]), row
        else:
            seen.add("channels first")
            assert row.output_shape == shape, row
        assert row.activation_values in (0, math.prod(shape))
    assert seen == layouts


@pytest.mark.parametrize("name", ["convnext_tiny", "swin_t"])
def test_totals_still_match_torchvision_metadata(name: str) -> None:
    meta = get_model_weights(cnnviz.get_spec(name).torchvision).DEFAULT.meta
    report = summarize(name)
    assert report.totals.params == meta["num_params"]
    assert abs(report.totals.macs / 1e9 - meta["_ops"]) / meta["_ops"] < 0.005
    # every row's values are its shape's product, whichever order the shape is written in
    assert report.totals.activation_bytes == sum(r.activation_bytes for r in report.layers)
    assert all(r.activation_values in (0, math.prod(r.output_shape)) for r in report.layers)


def test_convnext_block_rows() -> None:
    report = summarize("convnext_tiny")
    norm, linear, back = (report.row(f"features.1.0.block.{i}") for i in (2, 3, 5))
    assert norm.output_shape == (96, 56, 56) and norm.input_shapes == ((96, 56, 56),) and NOTE in norm.note
    assert linear.output_shape == (384, 56, 56) and linear.macs == 56 * 56 * 96 * 384
    assert back.input_shapes == ((384, 56, 56),) and back.output_shape == (96, 56, 56)
    # the depthwise convolution before and the residual sum after are channels first already
    assert NOTE not in report.row("features.1.0.block.0").note and NOTE not in report.row("features.1.0.add").note
    # the receptive field passes through the per-position layers untouched
    assert norm.rf_field == linear.rf_field == report.row("features.1.0.block.0").rf_field


def test_swin_trunk_rows() -> None:
    report = summarize("swin_t")
    for row in ("features.0.2", "features.1.0.norm1", "features.1.0.norm2", "features.1.1.norm1"):
        assert report.row(row).output_shape == (96, 56, 56) and NOTE in report.row(row).note
    assert report.row("features.1.0.mlp.0").output_shape == (384, 56, 56)
    # the residual sum of the attention branch (a window reshape, not a permute) is a map of the same layout
    add = report.row("features.1.0.add")
    assert add.input_shapes == ((96, 56, 56), (96, 56, 56)) and add.output_shape == (96, 56, 56)
    # patch merging: four subsampled maps joined along the channels
    assert report.row("features.2.cat").output_shape == (384, 28, 28)
    assert report.row("features.2.reduction").output_shape == (192, 28, 28)
    assert report.row("norm").output_shape == (768, 7, 7)
    # attention over tokens is no map: its rows keep their shapes as they are
    assert report.row("features.1.0.attn.linear").output_shape == (49, 288)
    assert NOTE not in report.row("features.1.0.attn.linear").note


def test_swin_shifted_windows_roll_back_as_a_map() -> None:
    # the window reverse reshapes tokens back to the block's channels-last map: the second roll is that map
    report = summarize("swin_t")
    for stage, shape in ((1, (96, 56, 56)), (3, (192, 28, 28)), (5, (384, 14, 14))):
        for row in (f"features.{stage}.1.attn.roll", f"features.{stage}.1.attn.roll:2"):
            assert report.row(row).output_shape == shape and NOTE in report.row(row).note, row
