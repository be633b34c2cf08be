"""Shapes, checks and operation counts per layer type: the one table of counting rules.

Conventions
-----------
* A **MAC** is one multiply-accumulate (``a += w * x``). MACs are counted for the
  layers that hold weights and multiply with them: convolutions (grouped and
  depthwise included) and fully connected layers, and for the matrix products
  of attention (scores and weighted sums), which multiply two activations.
  This is the convention of
  torchvision's ``_ops`` metadata, of most papers' "mult-adds" and of the
  course notes (which call these numbers "FLOPs": AlexNet 724M, VGG-16 15.5G).
* **FLOPs = 2 x MACs** for those layers (a multiply and an add each).
* **Extra FLOPs** are the elementwise work other layers do, reported separately
  (``extra_flops``) and added to FLOPs only when asked (``include_extra=True``):

=====================  ============================  =========================  ==============================
layer                  parameters                    MACs                       extra FLOPs (per output value)
=====================  ============================  =========================  ==============================
Conv1d/2d/3d           Cout*(Cin/g)*prod(k) (+Cout)  out positions*Cout*(Cin/g)*prod(k)  1 bias add if bias
ConvTranspose2d        Cin*(Cout/g)*kh*kw (+Cout)    H*W*Cin*(Cout/g)*kh*kw     1 bias add if bias
                                                     (per INPUT position)
Linear, F.linear       in*out (+out)                 in*out (per position)      1 bias add if bias
matmul/mm/bmm/@        0                             out values * inner size    0
einsum                 0                             product of all index sizes 0
scaled_dot_product_    0                             L*S*(E + Ev) per batch     4 per score (scale, softmax)
  attention                                          and head
MultiheadAttention     4*E*E (+4*E) for E=kdim=vdim  L*E*E (q) + S*kdim*E (k) + 4 per score, biases
                                                     S*vdim*E (v) + 2*L*S*E (scores and weighted sum)
                                                     + L*E*E (output projection)
BatchNorm2d            2*C (+2*C running buffers)    0                          2 (scale, shift; folded)
LayerNorm/GroupNorm    2*C                           0                          5 (mean, variance 2,
                                                                                normalise, affine; not folded)
Upsample/interpolate   0                             0                          values blended: nearest 0,
                                                                                linear 2, bilinear 4,
                                                                                bicubic 16, trilinear 8
MaxUnpool2d            0                             0                          0 (a scatter)
Max/AvgPool1d/3d,      0                             0                          as the 2-d ones, over the
AdaptivePool1d/3d,                                                              kernel volume; norms: 2
BatchNorm3d, InstanceNorm1d/3d
ReLU/ReLU6/LeakyReLU   0                             0                          1 (compare)
Sigmoid/Tanh/GELU/SiLU 0                             0                          4 (exp, add, divide, ...)
MaxPool2d              0                             0                          kh*kw - 1 comparisons
AvgPool2d              0                             0                          kh*kw (adds and a divide)
AdaptiveAvg/MaxPool    0                             0                          one per input value
LocalResponseNorm      0                             0                          size + 4
Softmax                0                             0                          3 (exp, sum, divide)
add / mul              0                             0                          1
cat, flatten, view     0                             0                          0
Dropout, Identity      0                             0                          0 (identity at inference)
=====================  ============================  =========================  ==============================

Squeeze-and-excitation needs no rule of its own: its global pooling, two 1x1
convolutions (or fully connected layers), activations and the scaling multiply
are each counted by their rows above (the multiply: 1 extra FLOP per value).

The receptive field is followed along the last two axes (height and width); a
``Conv1d`` on a ``C x L`` input follows its one axis as the width, a ``Conv3d``
on ``C x D x H x W`` follows height and width (depth grows the same way).
A transposed convolution (and ``MaxUnpool2d``, its pooling twin) moves by
``1/stride`` input units per output unit and each output sees at most
``ceil(k/stride)`` input units; interpolation sees 1 (nearest), 2 (linear)
or 4 (cubic) input values per axis: these fields are upper bounds, and a unit's
region sits at a fractional input position (round it out to whole pixels).

A layer type not in this table is run on the meta device for its shape; its
MACs and FLOPs are reported as unknown (``None``), never as a silent zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from torch import nn

from cnnviz.errors import ConfigError

Shape = tuple[int, ...]  # without the batch dimension


@dataclass(frozen=True)
class Window:
    """A sliding window along height and width, for the receptive field."""

    kernel: tuple[int, int]
    stride: tuple[float, float]
    padding: tuple[float, float]
    dilation: tuple[int, int] = (1, 1)


@dataclass(frozen=True)
class LayerMath:
    """What one layer does to one input shape."""

    out_shape: Shape
    macs: int | None
    extra_flops: int | None
    window: Window | None = None  # sliding window: receptive field grows
    is_global: bool = False  # output units see the whole input
    note: str = ""
    batch_dim: int = 0  # where the batch sits in the layer's input and output (1 for a sequence-first attention)
    attention_weights: tuple[int, ...] = ()  # full shape of the attention weights MultiheadAttention returns, if any


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    if len(v) == 1:
        return (v[0], v[0])
    return (v[0], v[1])


def describe(m: nn.Module) -> str:
    """A short description of a layer for messages, e.g. ``Conv2d 5x5, stride 1, padding 0``."""
    name = type(m).__name__
    if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        k, s = _pair(m.kernel_size), _pair(m.stride if m.stride is not None else m.kernel_size)
        p = m.padding if isinstance(m.padding, str) else _pair(m.padding)
        pad = p if isinstance(p, str) else (f"{p[0]}" if p[0] == p[1] else f"{p[0]}x{p[1]}")
        text = f"{name} {k[0]}x{k[1]}, stride {s[0] if s[0] == s[1] else f'{s[0]}x{s[1]}'}, padding {pad}"
        if isinstance(m, nn.Conv2d) and m.groups > 1:
            text += f", groups {m.groups}"
        if not isinstance(m, nn.AvgPool2d) and _pair(m.dilation) != (1, 1):
            text += f", dilation {_pair(m.dilation)[0]}"
        return text
    if isinstance(m, nn.Linear):
        return f"Linear {m.in_features}->{m.out_features}"
    if isinstance(m, nn.BatchNorm2d):
        return f"BatchNorm2d {m.num_features}"
    return name


def _fail(name: str, m: nn.Module, rule: str) -> ConfigError:
    return ConfigError(f"{name} ({describe(m)}): {rule}", layer=name)


def _need_chw(name: str, m: nn.Module, shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise _fail(name, m, f"expects a C x H x W feature map, got shape {format_shape(shape)}")
    return shape  # type: ignore[return-value]


def format_shape(shape: Shape) -> str:
    return " x ".join(str(s) for s in shape) if shape else "scalar"


def sliding_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool = False) -> int:
    """Output length of a sliding window: floor((n + 2p - d(k-1) - 1) / s) + 1."""
    eff = d * (k - 1) + 1
    num = size + 2 * p - eff
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside the input or left padding
        out -= 1
    return out


def _window_out(name: str, m: nn.Module, h: int, w: int, k, s, p, d, ceil_mode=False) -> tuple[int, int]:
    outs = []
    for axis, n in (("height", h), ("width", w)):
        i = 0 if axis == "height" else 1
        if s[i] <= 0:
            raise _fail(name, m, f"stride must be at least 1, got {s[i]}")
        if k[i] <= 0:
            raise _fail(name, m, f"kernel size must be at least 1, got {k[i]}")
        if p[i] < 0:
            raise _fail(name, m, f"padding cannot be negative, got {p[i]}")
        if d[i] <= 0:
            raise _fail(name, m, f"dilation must be at least 1, got {d[i]}")
        eff = d[i] * (k[i] - 1) + 1
        out = sliding_out(n, k[i], s[i], p[i], d[i], ceil_mode)
        if out < 1:  # without ceil_mode this is: the padded input is smaller than the kernel
            padded = f" (padded to {h + 2 * p[0]}x{w + 2 * p[1]})" if any(p) else ""
            what = "the dilated kernel" if d[i] > 1 else "the kernel"
            raise _fail(name, m, f"input {h}x{w}{padded} is smaller than {what} ({eff} along the {axis})")
        outs.append(out)
    return outs[0], outs[1]


def _conv(name: str, m: nn.Conv2d, shape: Shape) -> LayerMath:
    c, h, w = _need_chw(name, m, shape)
    if c != m.in_channels:
        raise _fail(name, m, f"expects {m.in_channels} input channels, got {c}")
    k, s, d = _pair(m.kernel_size), _pair(m.stride), _pair(m.dilation)
    if isinstance(m.padding, str):
        if m.padding == "valid":
            p = (0, 0)
        else:  # "same": PyTorch pads (total) d*(k-1), the extra pixel on the right/bottom
            p = tuple(d[i] * (k[i] - 1) / 2 for i in range(2))
    else:
        p = _pair(m.padding)
    if isinstance(m.padding, str) and m.padding == "same":
        ho, wo = h, w
        for i, n in enumerate((h, w)):
            if n + 2 * p[i] < d[i] * (k[i] - 1) + 1:
                raise _fail(name, m, f"input {h}x{w} is smaller than the kernel")
    else:
        ho, wo = _window_out(name, m, h, w, k, s, p, d)  # type: ignore[arg-type]
    cout = m.out_channels
    per_out = (m.in_channels // m.groups) * k[0] * k[1]
    macs = ho * wo * cout * per_out
    extra = ho * wo * cout if m.bias is not None else 0
    return LayerMath((cout, ho, wo), macs, extra, Window(k, s, p, d))  # type: ignore[arg-type]


def _pool(name: str, m: nn.Module, shape: Shape) -> LayerMath:
    c, h, w = _need_chw(name, m, shape)
    k = _pair(m.kernel_size)
    s = _pair(m.stride if m.stride is not None and m.stride != () else m.kernel_size)
    p = _pair(m.padding)
    d = _pair(getattr(m, "dilation", 1))
    for i in range(2):
        if p[i] > k[i] // 2:  # PyTorch's rule: the kernel size, not the dilated one
            raise _fail(name, m, f"padding {p[i]} is more than half the kernel size {k[i]}")
    ho, wo = _window_out(name, m, h, w, k, s, p, d, bool(m.ceil_mode))
    per = k[0] * k[1] - 1 if isinstance(m, nn.MaxPool2d) else k[0] * k[1]
    return LayerMath((c, ho, wo), 0, c * ho * wo * per, Window(k, s, p, d))


def _adaptive(name: str, m: nn.Module, shape: Shape) -> LayerMath:
    c, h, w = _need_chw(name, m, shape)
    oh, ow = _pair(m.output_size)
    oh = h if oh is None else oh
    ow = w if ow is None else ow
    if oh <= 0 or ow <= 0:
        raise _fail(name, m, f"output size must be positive, got {oh}x{ow}")
    extra = c * h * w
    if oh == 1 and ow == 1:
        return LayerMath((c, 1, 1), 0, extra, is_global=True)
    if h % oh == 0 and w % ow == 0:
        k = (h // oh, w // ow)
        return LayerMath((c, oh, ow), 0, extra, Window(k, k, (0, 0)))
    # Bins of unequal size: the largest bin bounds the field; the stride is fractional.
    k = (math.ceil(h / oh) + 1, math.ceil(w / ow) + 1)
    return LayerMath((c, oh, ow), 0, extra, Window(k, (h / oh, w / ow), (0, 0)),
                     note="adaptive bins of unequal size: receptive field is an upper bound")


def _linear(name: str, m: nn.Linear, shape: Shape) -> LayerMath:
    if not shape or shape[-1] != m.in_features:
        got = shape[-1] if shape else 0
        hint = " (flatten the feature map first?)" if len(shape) == 3 else ""
        raise _fail(name, m, f"expects {m.in_features} input features, got {got}{hint}")
    positions = math.prod(shape[:-1])
    out = (*shape[:-1], m.out_features)
    return LayerMath(out, positions * m.in_features * m.out_features,
                     positions * m.out_features if m.bias is not None else 0, is_global=len(shape) == 1)


def _norm(name: str, m: nn.Module, shape: Shape) -> LayerMath:
    n = getattr(m, "num_features", None) or getattr(m, "num_channels", None)
    if n is not None and (not shape or shape[0] != n):
        raise _fail(name, m, f"expects {n} channels, got {shape[0] if shape else 0}")
    return LayerMath(shape, 0, 2 * math.prod(shape))


def _elementwise(cost: int) -> Callable[[str, nn.Module, Shape], LayerMath]:
    def rule(name: str, m: nn.Module, shape: Shape) -> LayerMath:
        return LayerMath(shape, 0, cost * math.prod(shape))

    return rule


def _lrn(name: str, m: nn.LocalResponseNorm, shape: Shape) -> LayerMath:
    if len(shape) < 2:
        raise _fail(name, m, f"normalises across channels of a feature map, got flat features {format_shape(shape)}")
    return LayerMath(shape, 0, (m.size + 4) * math.prod(shape))


def _flatten(name: str, m: nn.Flatten, shape: Shape) -> LayerMath:
    full = (1, *shape)  # with batch
    start = m.start_dim % len(full)
    end = m.end_dim % len(full)
    if start == 0:
        raise _fail(name, m, "flattening the batch dimension is not supported in the analysis")
    out = full[:start] + (math.prod(full[start:end + 1]),) + full[end + 1:]
    return LayerMath(tuple(out[1:]), 0, 0, is_global=len(out) < len(full))


def _pad(name: str, m: nn.Module, shape: Shape) -> LayerMath:
    c, h, w = _need_chw(name, m, shape)
    left, right, top, bottom = m.padding
    ho, wo = h + top + bottom, w + left + right
    if ho <= 0 or wo <= 0:
        raise _fail(name, m, f"padding leaves nothing of the {h}x{w} input")
    return LayerMath((c, ho, wo), 0, 0, Window((1, 1), (1, 1), (top, left)))


def _softmax(name: str, m: nn.Module, shape: Shape) -> LayerMath:
    return LayerMath(shape, 0, 3 * math.prod(shape))


def _axes_out(name: str, m: nn.Module, sizes: Shape, k, s, p, d) -> tuple[int, ...]:
    """Output sizes of a sliding window along each axis (any number of axes)."""
    outs = []
    for i, n in enumerate(sizes):
        if s[i] <= 0 or k[i] <= 0 or p[i] < 0 or d[i] <= 0:
            raise _fail(name, m, "kernel, stride and dilation must be at least 1 and padding at least 0")
        out = sliding_out(n, k[i], s[i], p[i], d[i])
        if out < 1:
            raise _fail(name, m, f"input {format_shape(sizes)} (padded by {p[i]}) is smaller than the kernel "
                                 f"({d[i] * (k[i] - 1) + 1} along axis {i + 1})")
        outs.append(out)
    return tuple(outs)


def _last_two(v: tuple, fill: int) -> tuple:
    """The window along height and width: the last two axes (a 1-d layer has a height of one)."""
    return tuple(v[-2:]) if len(v) >= 2 else (fill, v[0])


def _conv_nd(name: str, m: nn.Module, shape: Shape) -> LayerMath:
    """``Conv1d`` on ``C x L`` and ``Conv3d`` on ``C x D x H x W``: the Conv2d rule along every axis.

    MACs = output positions * Cout * (Cin/groups) * prod(kernel); the receptive field follows the last two axes.
    """
    dims = len(m.kernel_size)
    if len(shape) != dims + 1:
        want = "C x L" if dims == 1 else "C x D x H x W"
        raise _fail(name, m, f"expects a {want} input, got shape {format_shape(shape)}")
    if shape[0] != m.in_channels:
        raise _fail(name, m, f"expects {m.in_channels} input channels, got {shape[0]}")
    k, s, d = tuple(m.kernel_size), tuple(m.stride), tuple(m.dilation)
    if isinstance(m.padding, str):
        p = tuple(0 if m.padding == "valid" else d[i] * (k[i] - 1) / 2 for i in range(dims))
        sizes = shape[1:] if m.padding == "same" else _axes_out(name, m, shape[1:], k, s, p, d)
    else:
        p = tuple(m.padding)
        sizes = _axes_out(name, m, shape[1:], k, s, p, d)
    per_out = (m.in_channels // m.groups) * math.prod(k)
    out = (m.out_channels, *sizes)
    macs = math.prod(sizes) * m.out_channels * per_out
    window = Window(_last_two(k, 1), _last_two(s, 1), _last_two(p, 0), _last_two(d, 1))  # type: ignore[arg-type]
    return LayerMath(out, macs, math.prod(out) if m.bias is not None else 0, window)


def _transposed_window(k: tuple[int, int], s: tuple[int, int], p: tuple[int, int],
                       d: tuple[int, int] = (1, 1)) -> Window:
    """Output unit o of a transposed window is fed by input units i with i*s + j*d - p = o (0 <= j < k):
    they move by 1/s per output unit, at most ceil(k_eff/s) of them, the first at ceil((p - (k_eff-1))/s)."""
    eff = tuple(d[i] * (k[i] - 1) + 1 for i in range(2))
    return Window(tuple(-(-eff[i] // s[i]) for i in range(2)), tuple(1 / s[i] for i in range(2)),  # type: ignore
                  tuple((eff[i] - 1 - p[i]) // s[i] for i in range(2)))  # type: ignore[arg-type]


def _conv_transpose(name: str, m: nn.ConvTranspose2d, shape: Shape) -> LayerMath:
    """Out = (n-1)*s - 2p + d*(k-1) + output_padding + 1; each INPUT value meets Cout/g * kh*kw weights:
    MACs = H*W*Cin*(Cout/g)*kh*kw (PyTorch's FlopCounterMode and fvcore agree)."""
    c, h, w = _need_chw(name, m, shape)
    if c != m.in_channels:
        raise _fail(name, m, f"expects {m.in_channels} input channels, got {c}")
    k, s, p, d, op = (_pair(v) for v in (m.kernel_size, m.stride, m.padding, m.dilation, m.output_padding))
    out = tuple((n - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i, n in enumerate((h, w)))
    if min(out) < 1:
        raise _fail(name, m, f"padding {p[0]} leaves nothing of the {h}x{w} input")
    macs = h * w * c * (m.out_channels // m.groups) * k[0] * k[1]
    extra = m.out_channels * out[0] * out[1] if m.bias is not None else 0
    return LayerMath((m.out_channels, *out), macs, extra, _transposed_window(k, s, p, d),
                     note="transposed: receptive field is the largest over output positions")


def _unpool(name: str, m: nn.MaxUnpool2d, shape: Shape, args: tuple, kwargs: dict) -> LayerMath:
    """Out = (n-1)*s - 2p + k, or the ``output_size`` given; each value is written back where its max was."""
    c, h, w = _need_chw(name, m, shape)
    k, s, p = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
    size = args[2] if len(args) > 2 else kwargs.get("output_size")
    if size is not None:
        out = tuple(int(v) for v in list(size)[-2:])
    else:
        out = tuple((n - 1) * s[i] - 2 * p[i] + k[i] for i, n in enumerate((h, w)))
    if min(out) < 1:
        raise _fail(name, m, f"padding {p[0]} leaves nothing of the {h}x{w} input")
    return LayerMath((c, *out), 0, 0, _transposed_window(k, s, p),
                     note="unpooling: receptive field is the largest over output positions")


_unpool.takes_call = True  # type: ignore[attr-defined]

BLENDED = {"nearest": 0, "nearest-exact": 0, "area": 0, "linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8}
"""Extra FLOPs per interpolated value: how many input values it blends (one weighted add each)."""
_TAPS = {"linear": 2, "bilinear": 2, "trilinear": 2, "bicubic": 4}  # input values read per axis


def interpolation(in_shape: Shape, out_shape: Shape, mode: str) -> tuple[int, Window | None]:
    """Extra FLOPs and the window (along the last two axes) of resizing ``in_shape`` to ``out_shape`` with ``mode``.

    The output unit o reads the input around (o + 0.5) * n_in / n_out - 0.5 (nearest: at o * n_in / n_out):
    the window moves by n_in / n_out per unit and spans 1, 2 (linear) or 4 (cubic) input values.
    """
    extra = BLENDED.get(mode, 0) * math.prod(out_shape)
    if len(in_shape) < 2 or len(in_shape) != len(out_shape):
        return extra, None
    taps = _TAPS.get(mode, 1)
    ins, outs = _last_two(in_shape[1:], 1), _last_two(out_shape[1:], 1)
    stride = tuple(ins[i] / outs[i] for i in range(2))
    pad = tuple(0.0 if taps == 1 else (taps - 1) / 2 - 0.5 * (stride[i] - 1) for i in range(2))
    kernel = (taps, taps) if len(in_shape) > 2 else (1, taps)  # a C x L signal has no height to blend
    if len(in_shape) == 2:
        pad = (0.0, pad[1])
    return extra, Window(kernel, stride, pad)  # type: ignore[arg-type]


def _upsample(name: str, m: nn.Upsample, shape: Shape) -> LayerMath:
    """``nn.Upsample``: size given, or floor(n * scale_factor) per axis (PyTorch's rule)."""
    if len(shape) < 2:
        raise _fail(name, m, f"resizes a C x L, C x H x W or C x D x H x W map, got {format_shape(shape)}")
    axes = len(shape) - 1
    if m.size is not None:
        size = (m.size,) * axes if isinstance(m.size, int) else tuple(m.size)
    else:
        scale = (m.scale_factor,) * axes if isinstance(m.scale_factor, (int, float)) else tuple(m.scale_factor)
        size = tuple(int(math.floor(n * f)) for n, f in zip(shape[1:], scale))
    if len(size) != axes or min(size) < 1:
        raise _fail(name, m, f"cannot resize {format_shape(shape)} to {size}")
    out = (shape[0], *size)
    extra, window = interpolation(shape, out, m.mode)
    return LayerMath(out, 0, extra, window)


def _layer_norm(name: str, m: nn.LayerNorm, shape: Shape) -> LayerMath:
    """Normalises over the trailing ``normalized_shape`` of each position: 5 extra FLOPs per value
    (mean, variance (2), normalise, affine); unlike BatchNorm it cannot be folded into a conv."""
    norm = tuple(m.normalized_shape)
    if tuple(shape[len(shape) - len(norm):]) != norm:
        raise _fail(name, m, f"normalises the last {format_shape(norm)} values, got shape {format_shape(shape)}")
    return LayerMath(shape, 0, 5 * math.prod(shape))


def _group_norm(name: str, m: nn.GroupNorm, shape: Shape) -> LayerMath:
    """Statistics per group of C/groups channels: 5 extra FLOPs per value, as LayerNorm."""
    if not shape or shape[0] != m.num_channels:
        raise _fail(name, m, f"expects {m.num_channels} channels, got {shape[0] if shape else 0}")
    return LayerMath(shape, 0, 5 * math.prod(shape))


def _attention(name: str, m: nn.MultiheadAttention, shape: Shape, args: tuple, kwargs: dict) -> LayerMath:
    """Projections and attention of ``nn.MultiheadAttention`` (also its inference fast path, which
    PyTorch's FlopCounterMode does not see): L query and S key positions, embedding E =
    heads * head size; MACs = L*E*E + S*kdim*E + S*vdim*E (projections) + 2*L*S*E (scores,
    weighted sum) + L*E*E (output); extra: 4 per score (scale, softmax) and the bias adds."""
    names = ("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask", "average_attn_weights")
    call = dict(zip(names, args))
    call.update(kwargs)
    q, k = call["query"], call.get("key", call["query"])
    if q.dim() != 3 or k.dim() != 3:
        raise _fail(name, m, "the analysis takes batched inputs (3-d query, key and value)")
    b = 0 if m.batch_first else 1
    seq = 1 - b
    n, length, src, e = q.shape[b], q.shape[seq], k.shape[seq], m.embed_dim
    if q.shape[2] != e:
        raise _fail(name, m, f"expects embeddings of {e}, got {q.shape[2]}")
    macs = length * e * e + src * m.kdim * e + src * m.vdim * e + 2 * length * src * e + length * e * e
    scores = m.num_heads * length * src
    biases = (length * e + 2 * src * e if m.in_proj_bias is not None else 0) + \
        (length * e if m.out_proj.bias is not None else 0)
    weights: tuple[int, ...] = ()
    if call.get("need_weights", True):
        weights = (n, length, src) if call.get("average_attn_weights", True) else (n, m.num_heads, length, src)
    return LayerMath((length, e), macs, 4 * scores + biases, is_global=True, batch_dim=b, attention_weights=weights)


_attention.takes_call = True  # type: ignore[attr-defined]


def _tuple(v, n: int) -> tuple:
    return (v,) * n if isinstance(v, int) else tuple(v)


def _pool_nd(name: str, m: nn.Module, shape: Shape) -> LayerMath:
    """``MaxPool1d/3d``, ``AvgPool1d/3d`` on ``C x L`` / ``C x D x H x W``: the 2-d pooling rule along every axis
    (extra FLOPs per output: kernel volume - 1 comparisons, or kernel volume adds and a divide)."""
    dims = 1 if isinstance(m, (nn.MaxPool1d, nn.AvgPool1d)) else 3
    if len(shape) != dims + 1:
        raise _fail(name, m, f"expects a {'C x L' if dims == 1 else 'C x D x H x W'} input, "
                             f"got shape {format_shape(shape)}")
    k = _tuple(m.kernel_size, dims)
    s = _tuple(m.stride if m.stride not in (None, ()) else m.kernel_size, dims)
    p, d = _tuple(m.padding, dims), _tuple(getattr(m, "dilation", 1), dims)
    sizes = []
    for i, n in enumerate(shape[1:]):
        if k[i] <= 0 or s[i] <= 0 or p[i] > k[i] // 2:
            raise _fail(name, m, "kernel and stride must be at least 1 and padding at most half the kernel")
        out = sliding_out(n, k[i], s[i], p[i], d[i], bool(m.ceil_mode))
        if out < 1:
            raise _fail(name, m, f"input {format_shape(shape[1:])} is smaller than the kernel")
        sizes.append(out)
    vol = math.prod(k)
    out_shape = (shape[0], *sizes)
    per = vol - 1 if isinstance(m, (nn.MaxPool1d, nn.MaxPool3d)) else vol
    window = Window(_last_two(k, 1), _last_two(s, 1), _last_two(p, 0), _last_two(d, 1))  # type: ignore[arg-type]
    return LayerMath(out_shape, 0, per * math.prod(out_shape), window)


def _adaptive_nd(name: str, m: nn.Module, shape: Shape) -> LayerMath:
    """``AdaptiveAvg/MaxPool1d/3d``: one extra FLOP per input value; global when every output size is 1."""
    dims = 1 if isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d)) else 3
    if len(shape) != dims + 1:
        raise _fail(name, m, f"expects a {'C x L' if dims == 1 else 'C x D x H x W'} input, "
                             f"got shape {format_shape(shape)}")
    size = tuple(n if o is None else o for n, o in zip(shape[1:], _tuple(m.output_size, dims)))
    if min(size) <= 0:
        raise _fail(name, m, f"output size must be positive, got {size}")
    extra = math.prod(shape)
    if all(o == 1 for o in size):
        return LayerMath((shape[0], *size), 0, extra, is_global=True)
    ins, outs = _last_two(shape[1:], 1), _last_two(size, 1)
    k = tuple(math.ceil(n / o) + (n % o != 0) for n, o in zip(ins, outs))  # the largest bin bounds the field
    window = Window(k, tuple(n / o for n, o in zip(ins, outs)), (0, 0))  # type: ignore[arg-type]
    return LayerMath((shape[0], *size), 0, extra, window)


# Type -> rule. Order matters only for subclasses (checked with isinstance).
RULES: list[tuple[type, Callable[..., LayerMath]]] = [
    (nn.Conv2d, _conv),
    (nn.Conv1d, _conv_nd),
    (nn.Conv3d, _conv_nd),
    (nn.ConvTranspose2d, _conv_transpose),
    (nn.Linear, _linear),
    (nn.MultiheadAttention, _attention),
    (nn.MaxPool2d, _pool),
    (nn.AvgPool2d, _pool),
    (nn.AdaptiveAvgPool2d, _adaptive),
    (nn.AdaptiveMaxPool2d, _adaptive),
    (nn.MaxPool1d, _pool_nd),
    (nn.MaxPool3d, _pool_nd),
    (nn.AvgPool1d, _pool_nd),
    (nn.AvgPool3d, _pool_nd),
    (nn.AdaptiveAvgPool1d, _adaptive_nd),
    (nn.AdaptiveMaxPool1d, _adaptive_nd),
    (nn.AdaptiveAvgPool3d, _adaptive_nd),
    (nn.AdaptiveMaxPool3d, _adaptive_nd),
    (nn.MaxUnpool2d, _unpool),
    (nn.Upsample, _upsample),
    (nn.BatchNorm2d, _norm),
    (nn.BatchNorm1d, _norm),
    (nn.BatchNorm3d, _norm),
    (nn.InstanceNorm1d, _norm),
    (nn.InstanceNorm3d, _norm),
    (nn.GroupNorm, _group_norm),
    (nn.LayerNorm, _layer_norm),
    (nn.InstanceNorm2d, _norm),
    (nn.LocalResponseNorm, _lrn),
    (nn.ReLU, _elementwise(1)),
    (nn.ReLU6, _elementwise(1)),
    (nn.LeakyReLU, _elementwise(1)),
    (nn.ELU, _elementwise(4)),
    (nn.Sigmoid, _elementwise(4)),
    (nn.Tanh, _elementwise(4)),
    (nn.GELU, _elementwise(4)),
    (nn.SiLU, _elementwise(4)),
    (nn.Hardswish, _elementwise(4)),
    (nn.Hardsigmoid, _elementwise(4)),
    (nn.Softmax, _softmax),
    (nn.LogSoftmax, _softmax),
    (nn.Dropout, _elementwise(0)),
    (nn.Dropout2d, _elementwise(0)),
    (nn.Identity, _elementwise(0)),
    (nn.Flatten, _flatten),
    (nn.ZeroPad2d, _pad),
    (nn.ConstantPad2d, _pad),
]


def rule_for(module: nn.Module) -> Callable[[str, nn.Module, Shape], LayerMath] | None:
    """The counting rule for ``module``'s exact type (or a subclass), or ``None`` if unknown."""
    for cls, rule in RULES:
        if type(module) is cls:
            return rule
    for cls, rule in RULES:
        if isinstance(module, cls) and type(module).forward is cls.forward:
            return rule
    return None


# Functional ops seen between modules, by name: extra FLOPs per output value.
FUNCTIONAL_COST: dict[str, int] = {
    "add": 1, "add_": 1, "__add__": 1, "__iadd__": 1, "__radd__": 1,
    "mul": 1, "mul_": 1, "__mul__": 1, "__rmul__": 1, "__imul__": 1,
    "sub": 1, "__sub__": 1, "div": 1, "__truediv__": 1,
    "relu": 1, "relu_": 1, "relu6": 1, "hardtanh": 1, "sigmoid": 4, "tanh": 4,
    "cat": 0, "concat": 0, "stack": 0, "pad": 0, "dropout": 0, "flatten": 0,
    "softmax": 3, "log_softmax": 3, "mean": 1, "sum": 1,
    "gelu": 4, "silu": 4, "hardswish": 4, "hardsigmoid": 4,
    "ne": 1, "eq": 1, "masked_fill": 1, "roll": 0, "new_zeros": 0, "zeros_like": 0,
}


def has_rule_base(module: nn.Module) -> bool:
    """Is ``module`` a subclass of a layer with a rule that brings its own ``forward`` (torchvision's
    channels-first ``LayerNorm2d``, say)? Such a layer is traced through: its functional calls are counted."""
    return any(isinstance(module, cls) for cls, _ in RULES)


FunctionalMath = tuple[int, int, "Window | None"]  # MACs, extra FLOPs, sliding window


def _arg(args: tuple, kwargs: dict, i: int, key: str, default=None):
    return args[i] if len(args) > i else kwargs.get(key, default)


def _f_linear(args: tuple, kwargs: dict, out) -> FunctionalMath:
    """``F.linear(x, weight, bias)``: in*out MACs per position, as ``nn.Linear``."""
    weight, bias = _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
    return out.numel() * weight.shape[-1], out.numel() if bias is not None else 0, None


def _f_matmul(args: tuple, kwargs: dict, out) -> FunctionalMath:
    """``a @ b``, ``matmul``, ``mm``, ``bmm``: each output value is a dot product over a's last axis."""
    a = _arg(args, kwargs, 0, "input")
    return max(out.numel(), 1) * a.shape[-1], 0, None


def _f_einsum(args: tuple, kwargs: dict, out) -> FunctionalMath:
    """``einsum``: one multiply-accumulate per output value and per combination of the summed indices
    (the naive evaluation; for two operands exactly the matmul count)."""
    equation = args[0]
    operands = args[1] if len(args) == 2 and isinstance(args[1], (list, tuple)) else args[1:]
    lhs, _, rhs = equation.replace(" ", "").partition("->")
    sizes: dict[str, int] = {}
    for term, t in zip(lhs.split(","), operands):
        head, dots, tail = term.partition("...")
        for i, letter in enumerate(head):
            sizes[letter] = t.shape[i]
        for i, letter in enumerate(reversed(tail)):
            sizes[letter] = t.shape[t.dim() - 1 - i]
    if not _:  # implicit output: the indices that appear once
        rhs = "".join(sorted(c for c in sizes if lhs.count(c) == 1))
    summed = math.prod(n for c, n in sizes.items() if c not in rhs)
    return max(out.numel(), 1) * summed, 0, None


def _f_attention(args: tuple, kwargs: dict, out) -> FunctionalMath:
    """``scaled_dot_product_attention(q, k, v)``: L*S*E MACs for the scores and L*S*Ev for the weighted
    sum, per batch and head; 4 extra FLOPs per score (scale, softmax)."""
    q, k, v = (_arg(args, kwargs, i, key) for i, key in enumerate(("query", "key", "value")))
    batch = math.prod(q.shape[:-2])
    length, src = q.shape[-2], k.shape[-2]
    return batch * length * src * (q.shape[-1] + v.shape[-1]), 4 * batch * length * src, None


def _f_norm(args: tuple, kwargs: dict, out) -> FunctionalMath:
    """``F.layer_norm``, ``F.group_norm``: 5 extra FLOPs per value, as the modules."""
    return 0, 5 * out.numel(), None


def _f_interpolate(args: tuple, kwargs: dict, out) -> FunctionalMath:
    """``F.interpolate``: as ``nn.Upsample``, from the input and output shapes."""
    x = _arg(args, kwargs, 0, "input")
    extra, window = interpolation(tuple(x.shape[1:]), tuple(out.shape[1:]), _arg(args, kwargs, 3, "mode", "nearest"))
    return 0, extra, window


FUNCTIONAL_MACS: dict[str, Callable[[tuple, dict, object], FunctionalMath]] = {
    "linear": _f_linear, "matmul": _f_matmul, "__matmul__": _f_matmul, "mm": _f_matmul, "bmm": _f_matmul,
    "einsum": _f_einsum, "scaled_dot_product_attention": _f_attention, "layer_norm": _f_norm,
    "group_norm": _f_norm, "interpolate": _f_interpolate,
}
"""Functional operations that multiply with weights or blend values: (args, kwargs, output) -> counts."""
