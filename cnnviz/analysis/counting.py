"""Shapes, checks and operation counts per layer type: the one table of counting rules.

Conventions
-----------
* A **MAC** is one multiply-accumulate (``a += w * x``). MACs are counted for the
  layers that hold weights and multiply with them: convolutions (grouped and
  depthwise included) and fully connected layers. This is the convention of
  torchvision's ``_ops`` metadata, of most papers' "mult-adds" and of the
  course notes (which call these numbers "FLOPs": AlexNet 724M, VGG-16 15.5G).
* **FLOPs = 2 x MACs** for those layers (a multiply and an add each).
* **Extra FLOPs** are the elementwise work other layers do, reported separately
  (``extra_flops``) and added to FLOPs only when asked (``include_extra=True``):

=====================  ============================  =========================  ==============================
layer                  parameters                    MACs                       extra FLOPs (per output value)
=====================  ============================  =========================  ==============================
Conv2d                 Cout*(Cin/g)*kh*kw (+Cout)    Hout*Wout*Cout*(Cin/g)*kh*kw  1 bias add if bias
Linear                 in*out (+out)                 in*out (per position)      1 bias add if bias
BatchNorm2d            2*C (+2*C running buffers)    0                          2 (scale, shift; folded)
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

A layer type not in this table is run on the meta device for its shape; its
MACs and FLOPs are reported as unknown (``None``), never as a silent zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from torch import nn

from cnnviz.analysis.errors import ConfigError

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


# Type -> rule. Order matters only for subclasses (checked with isinstance).
RULES: list[tuple[type, Callable[..., LayerMath]]] = [
    (nn.Conv2d, _conv),
    (nn.Linear, _linear),
    (nn.MaxPool2d, _pool),
    (nn.AvgPool2d, _pool),
    (nn.AdaptiveAvgPool2d, _adaptive),
    (nn.AdaptiveMaxPool2d, _adaptive),
    (nn.BatchNorm2d, _norm),
    (nn.BatchNorm1d, _norm),
    (nn.GroupNorm, _norm),
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
}
