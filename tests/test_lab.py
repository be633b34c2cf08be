"""The Layer lab's arithmetic (cnnviz.lab): formulas, the course notes' worked numbers, sliding steps vs torch."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz import lab
from cnnviz.errors import ConfigError

# ---------------------------------------------------------------------------------------------
# One layer: shapes and counts agree with PyTorch and with the course's formulas
# ---------------------------------------------------------------------------------------------


def test_notes_exercise_32x32x3_ten_5x5_pad_2() -> None:
    cfg = lab.LayerConfig(height=32, width=32, channels=3, kernel=5, filters=10, stride=1, padding=2)
    n = lab.layer_numbers(cfg)
    assert n.out_shape == (10, 32, 32)
    assert (n.weights, n.biases, n.params) == (750, 10, 760)
    assert n.macs == 32 * 32 * 10 * 75
    text = " ".join(latex for _, latex in lab.formulas(cfg, n))
    assert "\\frac{32 - 5 + 2 \\cdot 2}{1} + 1 \\\\ &= 31 + 1 = 32" in text
    assert "(5 \\cdot 5 \\cdot 3) \\cdot 10 + 10" in text and "= 75 \\cdot 10 + 10 = 760" in text


def test_notes_alexnet_conv1_and_pool1() -> None:
    conv = lab.layer_numbers(lab.LayerConfig(height=227, width=227, channels=3, kernel=11, filters=96, stride=4,
                                             padding="valid"))
    assert conv.out_shape == (96, 55, 55)
    assert conv.weights == 11 * 11 * 3 * 96 == 34_848  # the course notes' "35K (without bias)"
    assert conv.params == 34_848 + 96
    pool = lab.layer_numbers(lab.LayerConfig(kind="max", height=55, width=55, channels=96, kernel=3, stride=2,
                                             padding="valid"))
    assert pool.out_shape == (96, 27, 27)
    assert pool.params == 0 and pool.macs == 0


@pytest.mark.parametrize("stride,padding,out", [(1, 0, 5), (2, 0, 3), (1, 1, 7)])
def test_notes_7x7_input_3x3_filter(stride: int, padding: int, out: int) -> None:
    cfg = lab.LayerConfig(height=7, width=7, channels=1, kernel=3, filters=1, stride=stride, padding=padding)
    assert lab.layer_numbers(cfg).out_shape == (1, out, out)


def test_same_padding_keeps_the_size_and_shows_p() -> None:
    cfg = lab.LayerConfig(height=28, width=20, channels=8, kernel=5, filters=4, padding="same")
    n = lab.layer_numbers(cfg)
    assert n.out_shape == (4, 28, 20) and n.pad == (2, 2)
    captions = [c for c, _ in lab.formulas(cfg, n)]
    assert any("same" in c for c in captions) and "Output height" in captions  # H != W: both formulas


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_same_padding_with_an_even_kernel_pads_unevenly_like_pytorch() -> None:
    cfg = lab.LayerConfig(height=9, width=9, channels=2, kernel=4, filters=3, padding="same")
    n = lab.layer_numbers(cfg)
    assert n.pad == (1, 2) and n.out_shape == (3, 9, 9)
    assert "P_1 + P_2" in lab.size_formula(9, cfg)
    x = torch.randn(1, 2, 9, 9)
    assert F.conv2d(x, torch.randn(3, 2, 4, 4), padding="same").shape[-2:] == (9, 9)


def test_floor_shown_when_the_filter_does_not_fit_exactly() -> None:
    cfg = lab.LayerConfig(height=28, width=28, kernel=5, stride=2, padding=0)
    formula = lab.size_formula(28, cfg)
    assert "\\lfloor 11.5 \\rfloor + 1 = 12" in formula
    assert lab.layer_numbers(cfg).out_shape[1:] == (12, 12)


def test_dilation_uses_the_span_of_the_filter() -> None:
    cfg = lab.LayerConfig(height=32, width=32, channels=3, kernel=3, filters=4, dilation=2, padding=0)
    n = lab.layer_numbers(cfg)
    assert n.out_shape == (4, 28, 28) and n.receptive_field == 5
    assert any("F' = d(F-1)+1 = 2(3-1)+1 = 5" in latex for _, latex in lab.formulas(cfg, n))


def test_groups_and_depthwise_divide_the_weights() -> None:
    grouped = lab.layer_numbers(lab.LayerConfig(channels=8, filters=16, kernel=3, groups=4, padding=1, bias=False))
    assert grouped.params == 3 * 3 * (8 // 4) * 16
    depthwise = lab.LayerConfig(height=112, width=112, channels=32, filters=32, kernel=3, groups=32, padding="same",
                                bias=False)
    n = lab.layer_numbers(depthwise)
    assert n.params == 3 * 3 * 32 and n.macs == 112 * 112 * 32 * 9
    assert any("/32" in latex for _, latex in lab.formulas(depthwise, n))


def test_pooling_keeps_the_depth_and_has_no_parameters() -> None:
    cfg = lab.LayerConfig(kind="avg", height=14, width=14, channels=512, kernel=2, stride=2, padding="valid")
    n = lab.layer_numbers(cfg)
    assert n.out_shape == (512, 7, 7) and n.params == 0
    assert ("Parameters: pooling has nothing to learn", "\\text{params} = 0") in lab.formulas(cfg, n)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 40), channels=st.integers(1, 6), kernel=st.integers(1, 7), filters=st.integers(1, 6),
       stride=st.integers(1, 4), padding=st.integers(0, 3), dilation=st.integers(1, 3),
       kind=st.sampled_from(list(lab.KINDS)))
def test_numbers_match_pytorch_and_the_formula(size: int, channels: int, kernel: int, filters: int, stride: int,
                                               padding: int, dilation: int, kind: str) -> None:
    """For any setting PyTorch accepts: same output shape as torch, the formula's result, the parameter formula."""
    if kind == "avg":
        dilation = 1
    cfg = lab.LayerConfig(kind=kind, height=size, width=size + 1, channels=channels, kernel=kernel, filters=filters,
                          stride=stride, padding=padding, dilation=dilation)
    x = torch.randn(1, channels, size, size + 1)
    try:
        if kind == "conv":
            ref = F.conv2d(x, torch.randn(filters, channels, kernel, kernel), stride=stride, padding=padding,
                           dilation=dilation)
        elif kind == "max":
            ref = F.max_pool2d(x, kernel, stride, padding, dilation)
        else:
            ref = F.avg_pool2d(x, kernel, stride, padding)
    except RuntimeError:
        with pytest.raises(ConfigError):
            lab.layer_numbers(cfg)
        return
    n = lab.layer_numbers(cfg)
    assert n.out_shape == tuple(ref.shape[1:])
    for axis, n_in, n_out in (("H", size, n.out_shape[1]), ("W", size + 1, n.out_shape[2])):
        assert lab.size_formula(n_in, cfg, axis).endswith(f"= {n_out} \\end{{aligned}}")
    if kind == "conv":
        assert n.params == (kernel * kernel * channels) * filters + filters
        assert n.macs == n.out_shape[1] * n.out_shape[2] * filters * kernel * kernel * channels


@pytest.mark.parametrize("cfg,message", [
    (lab.LayerConfig(height=32, width=32, kernel=40, padding=0), "smaller than the kernel"),
    (lab.LayerConfig(height=4, width=4, kernel=7, padding=1), "padded to 6x6"),
    (lab.LayerConfig(stride=0), "stride must be at least 1"),
    (lab.LayerConfig(channels=3, filters=10, groups=2), "input depth D1 = 3 must be divisible by the number of groups"),
    (lab.LayerConfig(channels=4, filters=10, groups=4), "number of filters K = 10 must be divisible"),
    (lab.LayerConfig(padding="same", stride=2), "'same' keeps the size only at stride 1"),
    (lab.LayerConfig(kind="max", kernel=2, padding=2), "more than half the filter size"),
    (lab.LayerConfig(padding=-1), "padding cannot be negative"),
])
def test_impossible_settings_raise_a_clear_config_error(cfg: lab.LayerConfig, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        lab.layer_numbers(cfg)


# ---------------------------------------------------------------------------------------------
# The sliding window
# ---------------------------------------------------------------------------------------------
def test_notes_max_pool_example() -> None:
    x = lab.parse_matrix("1, 1, 2, 4; 5, 6, 7, 8; 3, 2, 1, 0; 1, 2, 3, 4")
    s = lab.slide(x, "max", size=2, stride=2)
    np.testing.assert_array_equal(s.output, [[6, 8], [3, 4]])
    assert [st_.value for st_ in s.steps] == [6, 8, 3, 4]
    assert lab.step_latex(s, s.steps[0]) == "y_{1,1} = \\max(1, 1, 5, 6) = 6"


@pytest.mark.parametrize("stride,padding,out", [(1, 0, 5), (2, 0, 3), (1, 1, 7)])
def test_notes_7x7_slide_sizes(stride: int, padding: int, out: int) -> None:
    s = lab.slide(np.arange(49.0).reshape(7, 7), "conv", kernel=np.ones((3, 3)), stride=stride, padding=padding)
    assert s.output.shape == (out, out) and len(s.steps) == out * out
    assert s.padded.shape == (7 + 2 * padding,) * 2


def test_a_step_shows_the_window_products_and_sum() -> None:
    x = np.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]])
    k = np.array([[1.0, 0], [0, -1]])
    s = lab.slide(x, "conv", kernel=k)
    step = s.steps[1]  # output (1, 2): window [[2, 3], [5, 6]]
    np.testing.assert_array_equal(step.window, [[2, 3], [5, 6]])
    np.testing.assert_array_equal(step.products, [[2, 0], [0, -6]])
    assert step.value == -4 and (step.rows, step.cols) == ((0, 1), (1, 2))
    latex = lab.step_latex(s, step)
    assert "2 \\cdot 1 + 3 \\cdot 0" in latex and "6 \\cdot (-1)" in latex and latex.endswith("&= -4 \\end{aligned}")


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), k=st.integers(1, 4), stride=st.integers(1, 3),
       padding=st.integers(0, 2), dilation=st.integers(1, 2), op=st.sampled_from(["conv", "max", "avg"]),
       seed=st.integers(0, 10_000))
def test_slide_computes_what_torch_computes(h: int, w: int, k: int, stride: int, padding: int, dilation: int,
                                            op: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(h, w))
    kernel = rng.normal(size=(k, k))
    if op == "avg":
        dilation = 1
    t = torch.tensor(x)[None, None]
    try:
        if op == "conv":
            ref = F.conv2d(t, torch.tensor(kernel)[None, None], stride=stride, padding=padding, dilation=dilation)
        elif op == "max":
            ref = F.max_pool2d(t, k, stride, padding, dilation)
        else:
            ref = F.avg_pool2d(t, k, stride, padding)
    except RuntimeError:
        with pytest.raises(ConfigError):
            lab.slide(x, op, kernel=kernel, size=k, stride=stride, padding=padding, dilation=dilation)
        return
    s = lab.slide(x, op, kernel=kernel if op == "conv" else None, size=k, stride=stride, padding=padding,
                  dilation=dilation)
    np.testing.assert_allclose(s.output, ref[0, 0].numpy(), rtol=1e-9, atol=1e-9)
    for step in s.steps:  # every recorded step reproduces its output value
        assert step.value == pytest.approx(s.output[step.out_row, step.out_col])


def test_max_pool_padding_is_minus_infinity() -> None:
    s = lab.slide(-np.ones((2, 2)), "max", size=2, stride=1, padding=1)
    np.testing.assert_array_equal(s.output, -np.ones((3, 3)))
    assert "-\\infty" in lab.step_latex(s, s.steps[0])


@pytest.mark.parametrize("text,message", [
    ("", "empty"), ("1, 2; 3", "same number of values"), ("1, x", "only numbers"),
    (";".join(["1"] * 17), "at most 16x16"), ("1, inf", "finite"),
])
def test_parse_matrix_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        lab.parse_matrix(text)


def test_parse_and_format_matrix_round_trip() -> None:
    arr = lab.parse_matrix("1 2.5\n-3, 4")
    np.testing.assert_array_equal(arr, [[1, 2.5], [-3, 4]])
    assert lab.format_matrix(arr) == "1, 2.5; -3, 4"
    np.testing.assert_array_equal(lab.parse_matrix(lab.format_matrix(arr)), arr)


@pytest.mark.parametrize("kwargs,message", [
    (dict(op="conv", kernel=np.ones((2, 3))), "square"),
    (dict(op="max", size=2, padding=2), "more than half"),
    (dict(op="conv", kernel=np.ones((5, 5))), "larger than the padded input"),
    (dict(op="conv", kernel=np.ones((2, 2)), stride=0), "stride must be at least 1"),
    (dict(op="median", size=2), "unknown operation"),
])
def test_slide_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        lab.slide(np.ones((4, 4)), **kwargs)


# ---------------------------------------------------------------------------------------------
# 1x1 convolutions and bottlenecks
# ---------------------------------------------------------------------------------------------
def test_notes_inception_cost_story() -> None:
    c = lab.bottleneck_cost(28, 192, 32, 5, 16)
    assert c.direct == 28 * 28 * 32 * 5 * 5 * 192 == 120_422_400
    assert c.reduce == 28 * 28 * 16 * 192 == 2_408_448
    assert c.conv == 28 * 28 * 32 * 5 * 5 * 16 == 10_035_200
    assert round(c.with_bottleneck / 1e6, 1) == 12.4 and round(c.direct / 1e6, 1) == 120.4
    assert c.saving == pytest.approx(c.direct / c.with_bottleneck)


@settings(max_examples=25, deadline=None)
@given(size=st.integers(1, 30), c_in=st.integers(1, 64), c_out=st.integers(1, 64), k=st.sampled_from([1, 3, 5, 7]),
       mid=st.integers(1, 64))
def test_bottleneck_cost_formula(size: int, c_in: int, c_out: int, k: int, mid: int) -> None:
    c = lab.bottleneck_cost(size, c_in, c_out, k, mid)
    assert c.direct == size * size * c_out * k * k * c_in
    assert c.with_bottleneck == size * size * mid * c_in + size * size * c_out * k * k * mid


def test_notes_resnet_bottleneck() -> None:
    r = lab.resnet_bottleneck(256, 64)
    assert r.plain == 589_824
    assert (r.reduce, r.conv, r.expand) == (16_384, 36_864, 16_384)
    assert r.bottleneck == 69_632
    assert r.saving == pytest.approx(8.47, abs=0.01)


def test_notes_inception_depths() -> None:
    assert lab.inception_depth(256, 128, 192, 96) == 672  # naive: the pool branch keeps all 256
    assert lab.inception_depth(192, 64, 128, 32, pool_proj=32) == 256
    macs = lab.naive_inception_macs(28, 256, 128, 192, 96)
    assert macs == {"1x1": 28 * 28 * 128 * 256, "3x3": 28 * 28 * 192 * 9 * 256, "5x5": 28 * 28 * 96 * 25 * 256}
    with pytest.raises(ConfigError, match="cannot be negative"):
        lab.inception_depth(192, -1, 1, 1)


@pytest.mark.parametrize("layers,kernel,rf", [(3, 3, 7), (2, 3, 5), (1, 5, 5), (4, 5, 17)])
def test_stacked_small_filters_vs_one_big(layers: int, kernel: int, rf: int) -> None:
    c = 16
    r = lab.stack_vs_single(c, layers, kernel)
    assert r.receptive_field == rf == layers * (kernel - 1) + 1
    assert r.stacked_weights == layers * kernel ** 2 * c ** 2
    assert r.single_weights == rf ** 2 * c ** 2
    if (layers, kernel) == (3, 3):
        assert (r.stacked_weights / c ** 2, r.single_weights / c ** 2) == (27, 49)


# ---------------------------------------------------------------------------------------------
# Activations, softmax, dropout, batch norm, LRN, fully connected
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(lab.ACTIVATIONS))
def test_activation_and_derivative_match_autograd(name: str) -> None:
    x = torch.linspace(-6, 6, 241, dtype=torch.float64)
    x = x[x != 0].requires_grad_()
    fn = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
          "leaky_relu": lambda t: F.leaky_relu(t, 0.1)}[name]
    y = fn(x)
    y.sum().backward()
    xs = x.detach().numpy()
    np.testing.assert_allclose(lab.activation(name, xs, 0.1), y.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(lab.derivative(name, xs, 0.1), x.grad.numpy(), atol=1e-12)


def test_saturation_regions() -> None:
    sig = lab.saturated_intervals("sigmoid", -10, 10, threshold=0.01)
    assert len(sig) == 2 and sig[0][0] == -10 and sig[1][1] == 10
    edge = 2 * math.acosh(1 / (2 * math.sqrt(0.01)))  # sigmoid'(x) = 1 / (4 cosh^2(x/2))
    assert sig[0][1] == pytest.approx(-edge, abs=0.01) and sig[1][0] == pytest.approx(edge, abs=0.01)
    tanh = lab.saturated_intervals("tanh", -10, 10, threshold=0.01)
    assert tanh[1][0] == pytest.approx(math.acosh(10), abs=0.01)  # tanh'(x) = 1 / cosh^2(x)
    assert lab.saturated_intervals("relu", -5, 5) == [(-5.0, 0.0)]  # dead for x <= 0, never on the right
    assert lab.saturated_intervals("leaky_relu", -5, 5, slope=0.1) == []


def test_softmax_matches_torch_and_temperature() -> None:
    s = [3.2, 5.1, -1.7]
    np.testing.assert_allclose(lab.softmax(s), torch.softmax(torch.tensor(s, dtype=torch.float64), 0).numpy())
    hot, cold = lab.softmax(s, 10.0), lab.softmax(s, 0.1)
    assert hot.max() < lab.softmax(s).max() < cold.max()
    assert lab.softmax([1000.0, 0.0])[0] == pytest.approx(1.0)  # no overflow
    for bad, message in (([], "at least one"), ([1.0, float("nan")], "finite")):
        with pytest.raises(ConfigError, match=message):
            lab.softmax(bad)
    with pytest.raises(ConfigError, match="temperature"):
        lab.softmax(s, 0)


def test_dropout_scaling() -> None:
    a = np.linspace(0.1, 2.0, 20000)
    d = lab.dropout_demo(a, keep=0.8, seed=1)
    assert set(np.unique(d.mask)) <= {0.0, 1.0}
    assert d.mask.mean() == pytest.approx(0.8, abs=0.01)
    np.testing.assert_allclose(d.train, a * d.mask)
    np.testing.assert_allclose(d.test, a * 0.8)
    assert d.train.mean() == pytest.approx(d.test.mean(), rel=0.02)  # test-time scaling matches the training mean
    assert d.inverted_train.mean() == pytest.approx(a.mean(), rel=0.02)
    with pytest.raises(ConfigError, match="keep probability"):
        lab.dropout_demo(a, keep=0)


def test_batch_norm_matches_torch() -> None:
    x = [1.0, 2.0, 3.0, 10.0]
    bn = lab.batch_norm(x, gamma=2.0, beta=0.5)
    ref = F.batch_norm(torch.tensor(x)[:, None], None, None, torch.tensor([2.0]), torch.tensor([0.5]), training=True)
    np.testing.assert_allclose(bn.y, ref[:, 0].numpy(), rtol=1e-5)
    assert (bn.mean, bn.var) == (4.0, 12.5)
    assert bn.x_hat.mean() == pytest.approx(0) and bn.x_hat.std() == pytest.approx(1, abs=1e-5)
    with pytest.raises(ConfigError, match="at least 2"):
        lab.batch_norm([1.0])


@pytest.mark.parametrize("size", [1, 2, 5])
def test_lrn_matches_torch(size: int) -> None:
    a = np.array([10.0, 20, 30, 40, 50, 60, 70])
    ref = torch.nn.LocalResponseNorm(size, alpha=1e-4, beta=0.75, k=2.0)(torch.tensor(a)[None, :, None, None])
    np.testing.assert_allclose(lab.lrn(a, size), ref[0, :, 0, 0].numpy(), rtol=1e-10)


def test_notes_fully_connected_classifier() -> None:
    fc = lab.fully_connected(32, 32, 3, 10)
    assert (fc.inputs, fc.weights, fc.biases, fc.params, fc.macs) == (3072, 30_720, 10, 30_730, 30_720)
    assert lab.fully_connected(7, 7, 512, 4096).weights == 102_760_448  # VGG-16's FC6, as in the course notes


def test_stride_misfit_matches_pytorch_and_counts_the_skipped_columns() -> None:
    for n, f, s, p in [(7, 3, 3, 0), (8, 3, 3, 0), (7, 3, 4, 1), (9, 2, 2, 0), (10, 5, 4, 1)]:
        m = lab.stride_misfit(n, f, s, (p, p))
        out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, f, f), stride=s, padding=p).shape[-1]
        assert (m is None) == ((n - f + 2 * p) % s == 0)
        if m is not None:
            last = (out - 1) * s + f  # one past the last padded column any window touches
            assert m.skipped == n + 2 * p - last and m.skipped_input == max(0, n + p - last)
    m = lab.stride_misfit(7, 3, 3, (0, 0))
    assert (m.span, m.skipped, m.skipped_input, m.fitting_strides) == (4, 1, 1, [1, 2, 4])
    assert lab.stride_misfit(7, 3, 4, (0, 1)).skipped_input == 0  # only the padded zero is left out
    assert lab.layer_misfits(lab.LayerConfig(height=8, width=7, kernel=3, stride=3, padding=0))[1].axis == "height"


def test_field_growth_is_3_5_7_at_stride_1_and_3_9_27_at_stride_3() -> None:
    assert lab.field_growth(3, 3, 1) == [3, 5, 7]
    assert lab.field_growth(3, 3, 3) == [3, 9, 27]
    assert lab.field_growth(2, 5, 2) == [5, 13]
    with pytest.raises(ConfigError):
        lab.field_growth(0)
