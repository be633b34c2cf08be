"""The counting rules for layers after the course's networks, each checked three ways: the shapes against a real
CPU forward, the MACs against PyTorch's FlopCounterMode (where it counts the layer) and against numbers worked out
by hand; receptive fields against the input pixels that really reach an output unit (autograd)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from cnnviz.analysis import ConfigError, analyze


def real_output(model: nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(torch.randn(1, *shape))


def counted_macs(model: nn.Module, shape: tuple[int, ...]) -> int:
    """PyTorch's own count (it counts 2 FLOPs per multiply-accumulate)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, *shape))
    return counter.get_total_flops() // 2


def seen_columns(model: nn.Module, shape: tuple[int, ...], unit: int) -> list[int]:
    """The input columns that reach output column ``unit`` (middle row), found by autograd with positive weights."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand_like(p) + 0.1)
    x = torch.rand(1, *shape, requires_grad=True)
    out = model(x)
    out[0, :, out.shape[2] // 2, unit].sum().backward()
    return sorted(set(torch.nonzero(x.grad[0].abs().sum(0).sum(0)).flatten().tolist()))


def assert_field_contains(model: nn.Module, shape: tuple[int, ...], row) -> None:
    """Every output unit's real input columns lie inside the region the analysis gives (rounded out to whole
    pixels: after an upsampling layer units sit at fractional input positions), and the widest fills the field."""
    widest = 0
    for unit in range(row.output_shape[-1]):
        cols = seen_columns(model, shape, unit)
        top, left, bottom, right = row.unit_region(0, unit)
        assert math.floor(left) <= cols[0] and cols[-1] <= math.ceil(right), (unit, cols, (left, right))
        widest = max(widest, cols[-1] - cols[0] + 1)
    assert widest == row.rf_field.w.size


# -- MaxPool2d(return_indices=True) and MaxUnpool2d ----------------------------------------------

class PoolUnpool(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, idx = self.pool(self.conv(x))
        return self.unpool(x, idx)


def test_maxpool_with_indices_and_unpool() -> None:
    model = PoolUnpool()
    report = analyze(model, (3, 8, 10))
    assert [r.type for r in report.layers] == ["Conv2d", "MaxPool2d", "MaxUnpool2d"]
    assert report.row("pool").output_shape == (4, 4, 5)
    assert report.row("unpool").output_shape == tuple(real_output(model, (3, 8, 10)).shape[1:]) == (4, 8, 10)
    assert report.row("unpool").inputs == ("pool",)
    assert report.totals.macs == 8 * 10 * 4 * 27  # the conv only
    assert not report.totals.unknown_layers
    # conv 3 -> pool 2x2/2 gives 4 px with jump 2; unpooling puts each value back in its own 2x2 cell: 4 px, jump 1
    assert report.row("pool").rf == 4 and report.row("pool").jump == 2
    assert report.row("unpool").rf == 4 and report.row("unpool").jump == 1


def test_unpool_to_a_given_output_size() -> None:
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pool, self.unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y, idx = self.pool(x)
            return self.unpool(y, idx, output_size=x.size())

    assert analyze(Odd(), (2, 7, 9)).output_shape == (2, 7, 9) == tuple(real_output(Odd(), (2, 7, 9)).shape[1:])


# -- any failure inside the analysis is a message naming the layer ------------------------------------------------

class Fails(nn.Module):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise self.error


@pytest.mark.parametrize("error", [ValueError("bad"), AssertionError("no"), KeyError("k"), TypeError("t")])
def test_an_exception_inside_a_layer_names_the_layer(error: Exception) -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.ReLU(), Fails(error)))
    with pytest.raises(ConfigError) as info:
        analyze(model, (3, 8, 8))
    assert "1.1 (Fails)" in str(info.value) and info.value.layer == "1.1"


def test_unpacking_a_pool_without_indices_is_a_message() -> None:
    class Wrong(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pool = nn.MaxPool2d(2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y, idx = self.pool(x)  # the pool returns one tensor: a 1x? batch cannot be unpacked in two
            return y

    with pytest.raises(ConfigError):
        analyze(Wrong(), (3, 8, 8))


# -- shared weights and modules called twice ---------------------------------------------------

class Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.conv2.weight = self.conv1.weight  # the bias stays conv2's own
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(x))
        x = x.mean((2, 3))
        return self.fc(self.fc(x))  # one layer used twice


def test_shared_weights_count_once_and_say_whose() -> None:
    model = Shared()
    report = analyze(model, (4, 6, 6))
    real = sum(p.numel() for p in model.parameters())  # parameters() counts a shared tensor once
    assert report.totals.params == real == 4 * 4 * 9 + 4 + 4 + 4 * 4 + 4
    assert sum(r.params for r in report.layers) == real and report.totals.params_not_run == 0
    conv2 = report.row("conv2")
    assert conv2.params == 4 and "shared with conv1" in conv2.note  # its own bias only
    second = report.row("fc:2")
    assert second.params == 0 and second.note == "shared with fc"
    assert "not run" not in report.to_text()


def test_functional_weights_are_counted_where_they_are_used() -> None:
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(6, 5)
            self.token = nn.Parameter(torch.zeros(1, 1, 5))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = F.linear(x, self.proj.weight, self.proj.bias)  # the module itself never runs
            return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)

    report = analyze(Functional(), (4, 6))
    assert report.row("linear").params == 35 and report.row("linear").macs == 4 * 6 * 5
    assert report.row("cat").params == 5  # the token, met where it joins the data
    assert report.totals.params_not_run == 0 and report.output_shape == (5, 5)


# -- ConvTranspose2d -----------------------------------------------------------------------------

@pytest.mark.parametrize("k,s,p,op", [(2, 2, 0, 0), (3, 2, 1, 1), (4, 2, 1, 0), (3, 1, 1, 0), (5, 3, 2, 2)])
def test_conv_transpose(k: int, s: int, p: int, op: int) -> None:
    model = nn.Sequential(nn.ConvTranspose2d(3, 5, k, s, p, output_padding=op))
    shape = (3, 4, 6)
    report = analyze(model, shape)
    row = report.row("0")
    assert row.output_shape == tuple(real_output(model, shape).shape[1:])
    assert row.macs == counted_macs(model, shape) == 4 * 6 * 3 * 5 * k * k  # per input position
    assert row.params == 3 * 5 * k * k + 5
    assert row.rf_field.w.jump == pytest.approx(1 / s) and row.rf == math.ceil(k / s)
    assert_field_contains(model, shape, row)


# -- Upsample / interpolate ------------------------------------------------------------------------

@pytest.mark.parametrize("mode,blend", [("nearest", 0), ("bilinear", 4), ("bicubic", 16)])
def test_upsample_and_interpolate(mode: str, blend: int) -> None:
    shape = (2, 5, 6)
    kwargs = {} if mode == "nearest" else {"align_corners": False}
    module = nn.Sequential(nn.Conv2d(2, 2, 1), nn.Upsample(scale_factor=2, mode=mode, **kwargs))
    report = analyze(module, shape)
    row = report.row("1")
    assert row.output_shape == tuple(real_output(module, shape).shape[1:]) == (2, 10, 12)
    assert row.macs == 0 and row.extra_flops == blend * 2 * 10 * 12
    assert row.jump == 0.5 and row.rf == {"nearest": 1, "bilinear": 2, "bicubic": 4}[mode]
    assert_field_contains(module, shape, row)

    class Functional(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.interpolate(x, size=(7, 9), mode=mode, **kwargs)

    row = analyze(Functional(), shape).layers[-1]
    assert row.output_shape == (2, 7, 9) and row.macs == 0 and row.extra_flops == blend * 2 * 7 * 9


# -- LayerNorm / GroupNorm ---------------------------------------------------------------------------

def test_layer_and_group_norm() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.GroupNorm(2, 8), nn.Flatten(2), nn.LayerNorm(16))
    report = analyze(model, (3, 4, 4))
    assert report.row("1").extra_flops == report.row("3").extra_flops == 5 * 8 * 16
    assert report.row("1").params == 16 and report.row("3").params == 32
    assert report.totals.macs == counted_macs(model, (3, 4, 4)) == 16 * 8 * 3  # FlopCounterMode skips norms too
    with pytest.raises(ConfigError, match="normalises the last 16"):
        analyze(nn.Sequential(nn.LayerNorm(16)), (3, 4, 5))


# -- matmul, bmm, einsum, scaled_dot_product_attention, MultiheadAttention ---------------------------------

class Products(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: 1 x 6 x 4
        a = x @ x.transpose(1, 2)  # 6x6, inner 4: 144
        b = torch.bmm(a, x)  # 6x4, inner 6: 144
        c = torch.einsum("bij,bjk->bik", b, x.transpose(1, 2))  # 6x6, summed j = 4: 144
        q = c.reshape(1, 2, 6, 3)  # 2 heads, 6 tokens, 3 wide
        return F.scaled_dot_product_attention(q, q, q)  # 2 heads * 6 * 6 * (3 + 3) = 432


def test_matrix_products() -> None:
    report = analyze(Products(), (6, 4))
    macs = {r.type: r.macs for r in report.layers if r.macs}
    assert macs == {"matmul": 144, "bmm": 144, "einsum": 144, "scaled_dot_product_attention": 432}
    assert not report.totals.unknown_layers
    # FlopCounterMode does not count PyTorch's CPU attention kernel; with the reference (math) kernel,
    # made of matmuls, it does
    assert counted_macs(Products(), (6, 4)) == 432
    with sdpa_kernel(SDPBackend.MATH):
        assert report.totals.macs == counted_macs(Products(), (6, 4)) == 864


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_counts_its_fast_path(need_weights: bool) -> None:
    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.att = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y, w = self.att(x, x, x, need_weights=need_weights)
            return y if w is None else y + w.sum()

    model = Attention()
    report = analyze(model, (5, 8))
    row = report.row("att")
    # q, k, v projections 3*5*8*8 = 960, scores and weighted sum 2*5*5*8 = 400, output projection 5*8*8 = 320
    assert row.macs == 1680 and row.params == 4 * 8 * 8 + 4 * 8 and row.output_shape == (5, 8)
    model.train()  # the slow path, which FlopCounterMode sees (attention by the reference kernel: see above)
    with sdpa_kernel(SDPBackend.MATH):
        assert counted_macs(model, (5, 8)) == 1680
    if not need_weights:  # the inference fast path: FlopCounterMode counts nothing, the analysis still does
        model.eval()
        assert counted_macs(model, (5, 8)) == 0


# -- Conv1d and Conv3d, with C,L and C,D,H,W inputs ------------------------------------------------

def test_conv1d_end_to_end() -> None:
    model = nn.Sequential(nn.Conv1d(2, 4, 5, stride=2, padding=1), nn.ReLU(), nn.Conv1d(4, 3, 3, dilation=2))
    report = analyze(model, "2,20")
    assert report.output_shape == tuple(real_output(model, (2, 20)).shape[1:]) == (3, 5)
    assert report.row("0").macs == 9 * 4 * 2 * 5 and report.row("2").macs == 5 * 3 * 4 * 3
    assert report.totals.macs == counted_macs(model, (2, 20))
    assert report.row("2").rf_field.w.size == 5 + 2 * 2 * 2 and report.row("2").rf_field.w.jump == 2


def test_conv3d_end_to_end() -> None:
    model = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.Conv3d(4, 2, (1, 3, 3), stride=(1, 2, 2)))
    report = analyze(model, (1, 4, 8, 8))
    assert report.output_shape == tuple(real_output(model, (1, 4, 8, 8)).shape[1:]) == (2, 4, 3, 3)
    assert report.row("0").macs == 4 * 8 * 8 * 4 * 27 and report.row("1").macs == 4 * 3 * 3 * 2 * 4 * 9
    assert report.totals.macs == counted_macs(model, (1, 4, 8, 8))
    assert report.row("1").rf == 5 and report.row("1").jump == 2


# -- squeeze-and-excitation ---------------------------------------------------------------------------

def test_squeeze_and_excitation() -> None:
    from torchvision.ops import SqueezeExcitation

    model = nn.Sequential(nn.Conv2d(3, 16, 1), SqueezeExcitation(16, 4))
    report = analyze(model, (3, 5, 5))
    types = [r.type for r in report.layers]
    assert types == ["Conv2d", "AdaptiveAvgPool2d", "Conv2d", "ReLU", "Conv2d", "Sigmoid", "mul"]
    se = report.layers[1:]
    assert [r.macs for r in se] == [0, 16 * 4, 0, 4 * 16, 0, 0]
    assert se[-1].extra_flops == 16 * 5 * 5 and se[-1].output_shape == (16, 5, 5)  # the scaling multiply
    assert report.totals.macs == counted_macs(model, (3, 5, 5)) == 25 * 16 * 3 + 128
    assert se[-1].rf == "global"  # the scale comes from the whole map


def test_one_and_three_d_networks_have_no_unknown_rows() -> None:
    one = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.BatchNorm1d(4), nn.ReLU(), nn.MaxPool1d(2),
                        nn.Upsample(scale_factor=2, mode="linear"), nn.AvgPool1d(3, 1, 1), nn.AdaptiveAvgPool1d(1),
                        nn.Flatten(), nn.Linear(4, 3))
    three = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.BatchNorm3d(4), nn.MaxPool3d(2), nn.AvgPool3d(2),
                          nn.Upsample(scale_factor=2), nn.AdaptiveMaxPool3d((1, 2, 2)), nn.AdaptiveAvgPool3d(1))
    for model, shape in ((one, (2, 16)), (three, (1, 8, 8, 8))):
        report = analyze(model, shape)
        assert not report.totals.unknown_layers
        assert report.output_shape == tuple(real_output(model, shape).shape[1:])
        assert report.totals.params == sum(p.numel() for p in model.parameters())
        assert report.totals.macs == counted_macs(model, shape)
    pools = analyze(three, (1, 8, 8, 8))
    assert pools.row("2").extra_flops == 7 * 4 * 4 * 4 * 4 and pools.row("3").extra_flops == 8 * 4 * 2 * 2 * 2
    assert pools.row("3").rf == 3 + 1 * 1 + 1 * 2 and pools.row("3").jump == 4  # conv 3, pool 2 (jump 1), pool 2 (jump 2)
    assert analyze(one, (2, 16)).row("4").rf_field.w.jump == 1  # pooled by 2, upsampled by 2
