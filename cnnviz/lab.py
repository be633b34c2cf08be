"""The Layer lab's arithmetic: one layer at a time, with the course's formulas filled in.

Everything here is plain Python/NumPy (no streamlit), so a notebook can use it::

    from cnnviz import lab
    cfg = lab.LayerConfig(height=32, width=32, channels=3, kernel=5, filters=10, stride=1, padding=2)
    lab.layer_numbers(cfg).out_shape      # (10, 32, 32)
    lab.layer_numbers(cfg).params         # 760

Shapes and counts come from :func:`cnnviz.analyze` of a real ``nn.Conv2d`` /
``nn.MaxPool2d`` built on the meta device, so the lab and the engine can never
disagree; the formulas only show how the numbers are reached.
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from cnnviz.analysis import analyze, significant
from cnnviz.analysis.counting import sliding_out
from cnnviz.errors import ConfigError

KINDS = {"conv": "Convolution", "max": "Max pooling", "avg": "Average pooling"}
PADDINGS = ("valid", "same", "number")


# ---------------------------------------------------------------------------------------------
# One convolution or pooling layer
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerConfig:
    """A convolution or pooling layer on an input of ``height x width x channels``.

    ``padding`` is ``"valid"`` (none), ``"same"`` (keep the size at stride 1) or a number
    of zeros added on every side.
    """

    kind: str = "conv"
    height: int = 32
    width: int = 32
    channels: int = 3
    kernel: int = 5
    filters: int = 10
    stride: int = 1
    padding: str | int = 2
    dilation: int = 1
    groups: int = 1
    bias: bool = True

    @property
    def effective_kernel(self) -> int:
        """The span of a dilated kernel: d(F-1)+1."""
        return self.dilation * (self.kernel - 1) + 1


@dataclass(frozen=True)
class LayerNumbers:
    """What one layer does, as the engine counts it."""

    out_shape: tuple[int, int, int]
    pad: tuple[int, int]  # zeros before and after, along each axis
    weights: int
    biases: int
    params: int
    macs: int
    extra_flops: int
    receptive_field: int

    @property
    def flops(self) -> int:
        return 2 * self.macs


def _check_sizes(cfg: LayerConfig) -> None:
    named = {"input height": cfg.height, "input width": cfg.width, "input depth": cfg.channels,
             "filter size": cfg.kernel}
    if cfg.kind == "conv":
        named["number of filters"] = cfg.filters
    for what, value in named.items():
        if value < 1:
            raise ConfigError(f"the {what} must be at least 1, got {value}")
    if cfg.stride < 1:
        raise ConfigError(f"stride must be at least 1, got {cfg.stride}: the filter has to move")
    if cfg.dilation < 1:
        raise ConfigError(f"dilation must be at least 1, got {cfg.dilation} (1 = no gaps)")
    if isinstance(cfg.padding, int) and cfg.padding < 0:
        raise ConfigError(f"padding cannot be negative, got {cfg.padding}")
    if cfg.kind not in KINDS:
        raise ConfigError(f"unknown layer kind {cfg.kind!r}; choose one of {', '.join(KINDS)}")


def padding_amounts(cfg: LayerConfig) -> tuple[int, int]:
    """Zeros added before and after along each axis (PyTorch puts an odd extra one after)."""
    if cfg.padding == "valid":
        return 0, 0
    if cfg.padding == "same":
        if cfg.stride != 1:
            raise ConfigError(
                f"padding 'same' keeps the size only at stride 1 (PyTorch refuses it for stride {cfg.stride}); "
                f"choose a number instead, e.g. P = (F-1)/2 = {(cfg.kernel - 1) // 2}")
        total = cfg.effective_kernel - 1
        if total % 2 and cfg.kind != "conv":
            raise ConfigError(f"padding 'same' for pooling needs an odd filter size, got {cfg.kernel}")
        return total // 2, total - total // 2
    if isinstance(cfg.padding, str):
        raise ConfigError(f"padding must be 'valid', 'same' or a number, got {cfg.padding!r}")
    return cfg.padding, cfg.padding


def build_layer(cfg: LayerConfig) -> nn.Module:
    """The layer as a real PyTorch module on the meta device (no memory), named ``conv`` or ``pool``.

    Raises :class:`ConfigError` for settings PyTorch would refuse.
    """
    _check_sizes(cfg)
    before, after = padding_amounts(cfg)
    padding: str | int = "same" if before != after else before
    if cfg.kind == "conv":
        if cfg.groups < 1:
            raise ConfigError(f"groups must be at least 1, got {cfg.groups}")
        for what, n in (("input depth D1", cfg.channels), ("number of filters K", cfg.filters)):
            if n % cfg.groups:
                raise ConfigError(
                    f"groups {cfg.groups}: the {what} = {n} must be divisible by the number of groups "
                    f"({n} / {cfg.groups} = {n / cfg.groups:.3g})")
        with torch.device("meta"):
            layer: nn.Module = nn.Conv2d(cfg.channels, cfg.filters, cfg.kernel, stride=cfg.stride, padding=padding,
                                         dilation=cfg.dilation, groups=cfg.groups, bias=cfg.bias)
        return nn.Sequential(OrderedDict(conv=layer))
    if before > cfg.kernel // 2:
        raise ConfigError(f"pooling padding {before} is more than half the filter size {cfg.kernel} "
                          "(PyTorch refuses it: padding would make whole windows of nothing)")
    if cfg.kind == "max":
        layer = nn.MaxPool2d(cfg.kernel, stride=cfg.stride, padding=before, dilation=cfg.dilation)
    else:
        if cfg.dilation != 1:
            raise ConfigError("average pooling has no dilation in PyTorch; set dilation to 1")
        layer = nn.AvgPool2d(cfg.kernel, stride=cfg.stride, padding=before)
    return nn.Sequential(OrderedDict(pool=layer))


def layer_numbers(cfg: LayerConfig) -> LayerNumbers:
    """Output shape, parameters, MACs and receptive field of the layer, from :func:`cnnviz.analyze`."""
    module = build_layer(cfg)
    report = analyze(module, (cfg.channels, cfg.height, cfg.width), name=KINDS[cfg.kind])
    row = report.layers[0]
    conv = getattr(module, "conv", None)
    weights = conv.weight.numel() if conv is not None else 0
    biases = conv.bias.numel() if conv is not None and conv.bias is not None else 0
    rf = row.rf if isinstance(row.rf, int) else int(max(row.rf))
    return LayerNumbers(out_shape=tuple(row.output_shape), pad=padding_amounts(cfg), weights=weights,
                        biases=biases, params=row.params, macs=row.macs or 0, extra_flops=row.extra_flops or 0,
                        receptive_field=rf)


def _n(x: float) -> str:
    """A number for a formula: thousands separated, no trailing .0."""
    if float(x).is_integer():
        return f"{int(x):,}".replace(",", "{,}")
    return significant(x, 4)


def size_formula(n_in: int, cfg: LayerConfig, axis: str = "W") -> str:
    """LaTeX of the output-size formula along one axis with the numbers filled in.

    The course notes' form ``W2 = (W1 - F + 2P)/S + 1``; with a floor when the filter does not fit
    exactly, with ``F' = d(F-1)+1`` for a dilated filter and ``P1 + P2`` for uneven padding.
    """
    before, after = padding_amounts(cfg)
    f_sym, f_val = ("F'", cfg.effective_kernel) if cfg.dilation > 1 else ("F", cfg.kernel)
    pad_sym, pad_val = ("2P", f"2 \\cdot {before}") if before == after else ("P_1 + P_2", f"{before} + {after}")
    num = n_in - cfg.effective_kernel + before + after
    out = (sliding_out(n_in, cfg.kernel, cfg.stride, before, cfg.dilation) if before == after
           else num // cfg.stride + 1)
    frac_sym = f"\\frac{{{axis}_1 - {f_sym} + {pad_sym}}}{{S}}"
    frac_val = f"\\frac{{{n_in} - {f_val} + {pad_val}}}{{{cfg.stride}}}"
    if num % cfg.stride == 0:
        return (f"\\begin{{aligned}} {axis}_2 &= {frac_sym} + 1 \\\\ &= {frac_val} + 1 \\\\ "
                f"&= {_n(num // cfg.stride)} + 1 = {out} \\end{{aligned}}")
    return (f"\\begin{{aligned}} {axis}_2 &= \\left\\lfloor {frac_sym} \\right\\rfloor + 1 \\\\ "
            f"&= \\left\\lfloor {frac_val} \\right\\rfloor + 1 \\\\ "
            f"&= \\lfloor {num / cfg.stride:.4g} \\rfloor + 1 = {out}"
            " \\end{aligned}")


@dataclass(frozen=True)
class StrideMisfit:
    """A stride that does not fit: (N - F + 2P)/S is not a whole number, so the output is floored.

    The course's formula W2 = (W1 - F + 2P)/S + 1 assumes the filter's last position ends exactly
    at the (padded) input's edge; PyTorch floors instead, and the last ``skipped`` rows or columns of
    the padded input are never under the filter (``skipped_input`` of them real input, not padding).
    """

    axis: str  # "width" (columns), "height" (rows) or "both" (a square input)
    n_in: int
    kernel: int  # the filter's span, d(F-1)+1
    pad: tuple[int, int]
    stride: int
    skipped: int
    skipped_input: int

    @property
    def span(self) -> int:
        """N - F + P1 + P2: how far the filter can move."""
        return self.n_in - self.kernel + sum(self.pad)

    @property
    def fitting_strides(self) -> list[int]:
        """Strides up to the span that divide it (these fit exactly)."""
        return [s for s in range(1, min(self.span, 64) + 1) if self.span % s == 0]

    def message(self) -> str:
        """The misfit in words, with the numbers filled into the course's formula (Markdown)."""
        pad = f"2·{self.pad[0]}" if self.pad[0] == self.pad[1] else f"{self.pad[0]} + {self.pad[1]}"
        one, lines = _LINES[self.axis]
        out = self.span // self.stride + 1
        what = (f"the last {one} of the input {'are' if self.axis == 'both' else 'is'} never covered"
                if self.skipped_input == 1 else
                f"the last {self.skipped_input} {lines} of the input are never covered" if self.skipped_input else
                f"only padding zeros are left out (the last padded {one})" if self.skipped == 1 else
                f"only padding zeros are left out (the last {self.skipped} padded {lines})")
        where = "the input" if self.axis == "both" else f"the {self.axis}"
        return (f"**Stride {self.stride} does not fit {where}:** (N - F + 2P)/S = "
                f"({self.n_in} - {self.kernel} + {pad})/{self.stride} = {self.span}/{self.stride} is not a whole "
                f"number. The course's formula requires it to be one. PyTorch floors it "
                f"(⌊{self.span}/{self.stride}⌋ + 1 = {out}): the filter stops after {out} positions and {what}. "
                f"Strides that fit: {', '.join(map(str, self.fitting_strides))}.")


_LINES = {"width": ("column", "columns"), "height": ("row", "rows"), "both": ("row and column", "rows and columns")}


def stride_misfit(n_in: int, kernel: int, stride: int, pad: tuple[int, int], axis: str = "width"
                  ) -> StrideMisfit | None:
    """The misfit of a filter spanning ``kernel`` at ``stride`` over ``n_in`` values padded by ``pad``, if any."""
    span = n_in - kernel + sum(pad)
    if stride < 1 or span < 0 or span % stride == 0:
        return None
    skipped = span % stride
    return StrideMisfit(axis, n_in, kernel, pad, stride, skipped, max(0, skipped - pad[1]))


def layer_misfits(cfg: LayerConfig) -> list[StrideMisfit]:
    """Stride misfits of a layer along its width and height (once for a square input)."""
    pad = padding_amounts(cfg)
    sides = [("width", cfg.width), ("height", cfg.height)] if cfg.height != cfg.width else [("both", cfg.width)]
    return [m for axis, n in sides if (m := stride_misfit(n, cfg.effective_kernel, cfg.stride, pad, axis))]


def formulas(cfg: LayerConfig, numbers: LayerNumbers) -> list[tuple[str, str]]:
    """(caption, LaTeX) pairs: the course's formulas with the user's numbers filled in."""
    c_out, h_out, w_out = numbers.out_shape
    out: list[tuple[str, str]] = []
    if cfg.dilation > 1:
        out.append(("Span of the dilated filter",
                    f"F' = d(F-1)+1 = {cfg.dilation}({cfg.kernel}-1)+1 = {cfg.effective_kernel}"))
    if cfg.padding == "same":
        out.append(("'same' padding keeps the size at stride 1",
                    f"P = \\frac{{F'-1}}{{2}} = {_n((cfg.effective_kernel - 1) / 2)}" if cfg.dilation > 1
                    else f"P = \\frac{{F-1}}{{2}} = \\frac{{{cfg.kernel}-1}}{{2}} = {_n((cfg.kernel - 1) / 2)}"))
    out.append(("Output width", size_formula(cfg.width, cfg, "W")))
    if cfg.height != cfg.width:
        out.append(("Output height", size_formula(cfg.height, cfg, "H")))
    if cfg.kind == "conv":
        out.append(("Output depth = number of filters", f"D_2 = K = {c_out}"))
        g = cfg.groups
        per = cfg.kernel * cfg.kernel * cfg.channels // g
        grp_sym, grp_val = ("/g", f"/{g}") if g > 1 else ("", "")
        bias_sym, bias_val = (" + K", f" + {cfg.filters}") if cfg.bias else ("", "")
        out.append(("Parameters: weights of K filters, each F x F x D1/g, plus one bias per filter",
                     f"\\begin{{aligned}} \\text{{params}} &= (F \\cdot F \\cdot D_1{grp_sym}) \\cdot K{bias_sym} \\\\ "
                     f"&= ({cfg.kernel} \\cdot {cfg.kernel} \\cdot {cfg.channels}{grp_val}) "
                     f"\\cdot {cfg.filters}{bias_val} \\\\ "
                     f"&= {_n(per)} \\cdot {cfg.filters}{bias_val} = {_n(numbers.params)} \\end{{aligned}}"))
        out.append(("Multiply-accumulates: one per weight, per output position",
                    f"\\begin{{aligned}} \\text{{MACs}} &= "
                    f"H_2 \\cdot W_2 \\cdot K \\cdot (F \\cdot F \\cdot D_1{grp_sym}) "
                    f"\\\\ &= {h_out} \\cdot {w_out} \\cdot {cfg.filters} \\cdot {_n(per)} \\\\ &= {_n(numbers.macs)} "
                    "\\end{aligned}"))
    else:
        out.append(("Output depth: pooling works on each channel alone", f"D_2 = D_1 = {c_out}"))
        out.append(("Parameters: pooling has nothing to learn", "\\text{params} = 0"))
    return out


# ---------------------------------------------------------------------------------------------
# The sliding window, step by step
# ---------------------------------------------------------------------------------------------
MAX_GRID = 16  # largest input side for the step-by-step demo


def parse_matrix(text: str, what: str = "matrix") -> np.ndarray:
    """Numbers in rows: rows split by ``;`` or new lines, values by commas or spaces."""
    rows = [r for r in re.split(r"[;\n]", text.strip()) if r.strip()]
    if not rows:
        raise ConfigError(f"the {what} is empty: write rows of numbers separated by ';'")
    try:
        values = [[float(v) for v in re.split(r"[,\s]+", r.strip()) if v] for r in rows]
    except ValueError as exc:
        raise ConfigError(f"the {what} must contain only numbers ({exc})") from None
    widths = {len(r) for r in values}
    if len(widths) != 1:
        raise ConfigError(f"every row of the {what} needs the same number of values, got {sorted(widths)}")
    arr = np.array(values, dtype=float)
    if max(arr.shape) > MAX_GRID:
        raise ConfigError(f"the {what} may be at most {MAX_GRID}x{MAX_GRID} here, got {arr.shape[0]}x{arr.shape[1]}")
    if not np.isfinite(arr).all():
        raise ConfigError(f"the {what} must contain finite numbers")
    return arr


def format_matrix(arr: np.ndarray) -> str:
    """The inverse of :func:`parse_matrix`: ``"1, 2; 3, 4"``."""
    return "; ".join(", ".join(_n(float(v)).replace("{,}", "") for v in row) for row in np.asarray(arr))


@dataclass(frozen=True)
class SlideStep:
    """One position of the window: which output it computes, from which input values."""

    out_row: int
    out_col: int
    rows: tuple[int, ...]  # rows of the padded input under the window
    cols: tuple[int, ...]
    window: np.ndarray
    products: np.ndarray | None  # window * filter (convolution only)
    value: float


@dataclass(frozen=True)
class Slide:
    """A 2-D convolution or pooling of one small input, with every step kept."""

    op: str
    padded: np.ndarray
    pad: int
    kernel: np.ndarray | None
    size: int
    stride: int
    dilation: int
    output: np.ndarray
    steps: tuple[SlideStep, ...]


def slide(x: np.ndarray, op: str = "conv", kernel: np.ndarray | None = None, size: int | None = None,
          stride: int = 1, padding: int = 0, dilation: int = 1) -> Slide:
    """Slide a square filter (``op="conv"``, the deep-learning kind: no flip, no bias) or a pooling
    window (``"max"``/``"avg"`` of ``size``) over the 2-D input ``x``, recording each step.

    Padding adds zeros (``-inf`` for max pooling, as PyTorch does); average pooling counts the
    padded zeros, as ``nn.AvgPool2d`` does by default.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ConfigError(f"the input must be a 2-D grid, got {x.ndim} dimensions")
    if op == "conv":
        if kernel is None:
            raise ConfigError("a convolution needs a filter")
        kernel = np.asarray(kernel, dtype=float)
        if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1]:
            raise ConfigError(f"the filter must be square, got {'x'.join(map(str, kernel.shape))}")
        size = kernel.shape[0]
    elif op in ("max", "avg"):
        if size is None or size < 1:
            raise ConfigError(f"the pooling size must be at least 1, got {size}")
        if 2 * padding > size:
            raise ConfigError(f"padding {padding} is more than half the pooling size {size} (PyTorch refuses it)")
    else:
        raise ConfigError(f"unknown operation {op!r}; choose conv, max or avg")
    cfg = LayerConfig(kind=op, height=x.shape[0], width=x.shape[1], channels=1, kernel=size, filters=1,
                      stride=stride, padding=padding, dilation=dilation)
    _check_sizes(cfg)
    span = cfg.effective_kernel
    for n, axis in ((x.shape[0], "height"), (x.shape[1], "width")):
        if n + 2 * padding < span:
            raise ConfigError(f"the {'dilated ' if dilation > 1 else ''}filter ({span} along the {axis}) is larger "
                              f"than the padded input ({n + 2 * padding})")
    fill = -np.inf if op == "max" else 0.0
    padded = np.pad(x, padding, constant_values=fill)
    h_out = sliding_out(x.shape[0], size, stride, padding, dilation)
    w_out = sliding_out(x.shape[1], size, stride, padding, dilation)
    output = np.zeros((h_out, w_out))
    steps = []
    for i in range(h_out):
        for j in range(w_out):
            rows = tuple(i * stride + dilation * a for a in range(size))
            cols = tuple(j * stride + dilation * b for b in range(size))
            window = padded[np.ix_(rows, cols)]
            products = window * kernel if op == "conv" else None
            value = float(products.sum() if products is not None else window.max() if op == "max" else window.mean())
            output[i, j] = value
            steps.append(SlideStep(i, j, rows, cols, window, products, value))
    return Slide(op, padded, padding, kernel, size, stride, dilation, output, tuple(steps))


def slide_misfits(sl: Slide) -> list[StrideMisfit]:
    """Stride misfits of a slide along its columns and rows (once when the input is square)."""
    rows, cols = (n - 2 * sl.pad for n in sl.padded.shape)
    span, pad = sl.dilation * (sl.size - 1) + 1, (sl.pad, sl.pad)
    sides = [("width", cols), ("height", rows)] if rows != cols else [("both", cols)]
    return [m for axis, n in sides if (m := stride_misfit(n, span, sl.stride, pad, axis))]


def step_latex(s: Slide, step: SlideStep) -> str:
    """The computation of one output value, e.g. ``1·1 + 0·0 + ... = 4`` or ``max(1, 1, 5, 6) = 6``."""
    name = f"y_{{{step.out_row + 1},{step.out_col + 1}}}"
    vals = [("-\\infty" if np.isneginf(v) else _n(float(v))) for v in step.window.ravel()]
    if s.op == "conv":
        terms = [f"{v} \\cdot {_n(float(w))}" if float(w) >= 0 else f"{v} \\cdot ({_n(float(w))})"
                 for v, w in zip(vals, s.kernel.ravel())]
        lines = [" + ".join(terms[r * s.size:(r + 1) * s.size]) for r in range(s.size)]
        body = " \\\\ &\\quad + ".join(lines)
        return f"\\begin{{aligned}} {name} &= {body} \\\\ &= {_n(step.value)} \\end{{aligned}}"
    if s.op == "max":
        return f"{name} = \\max({', '.join(vals)}) = {_n(step.value)}"
    return f"{name} = \\tfrac{{1}}{{{s.size * s.size}}}({' + '.join(vals)}) = {_n(step.value)}"


# ---------------------------------------------------------------------------------------------
# 1x1 convolutions and bottlenecks (weights without biases, as the course counts them)
# ---------------------------------------------------------------------------------------------
def _convs(channels: Sequence[tuple[int, int, int]]) -> nn.Module:
    """A stack of 'same' convolutions without bias: (c_in, c_out, kernel) each."""
    with torch.device("meta"):
        return nn.Sequential(*[nn.Conv2d(i, o, k, padding=k // 2, bias=False) for i, o, k in channels])


def _positive(**values: int) -> None:
    for what, v in values.items():
        if v < 1:
            raise ConfigError(f"{what.replace('_', ' ')} must be at least 1, got {v}")


@dataclass(frozen=True)
class BottleneckCost:
    """Multiplies of a k x k convolution straight, and with a 1x1 reduction before it."""

    direct: int
    reduce: int
    conv: int

    @property
    def with_bottleneck(self) -> int:
        return self.reduce + self.conv

    @property
    def saving(self) -> float:
        return self.direct / self.with_bottleneck


def bottleneck_cost(size: int, c_in: int, c_out: int, kernel: int, mid: int) -> BottleneckCost:
    """The Inception cost story: ``size x size x c_in`` -> k x k conv with ``c_out`` filters ('same'),
    directly or through a 1x1 convolution down to ``mid`` channels (course notes: 120.4M vs 2.4M + 10.0M)."""
    _positive(size=size, input_depth=c_in, filters=c_out, filter_size=kernel, bottleneck_depth=mid)
    if kernel % 2 == 0:
        raise ConfigError(f"'same' padding keeps the size only for an odd filter size, got {kernel}")
    shape = (c_in, size, size)
    direct = analyze(_convs([(c_in, c_out, kernel)]), shape).totals.macs
    rows = analyze(_convs([(c_in, mid, 1), (mid, c_out, kernel)]), shape).layers
    return BottleneckCost(direct=direct, reduce=rows[0].macs, conv=rows[1].macs)


@dataclass(frozen=True)
class ResidualBottleneck:
    """Weights of a 3x3 convolution c -> c against ResNet's 1x1 (c->m), 3x3 (m->m), 1x1 (m->c)."""

    plain: int
    reduce: int
    conv: int
    expand: int

    @property
    def bottleneck(self) -> int:
        return self.reduce + self.conv + self.expand

    @property
    def saving(self) -> float:
        return self.plain / self.bottleneck


def resnet_bottleneck(channels: int, mid: int, kernel: int = 3) -> ResidualBottleneck:
    """The course notes: 256-64-256 has 69,632 weights against 589,824 for a 3x3 256 -> 256 convolution."""
    _positive(channels=channels, bottleneck_depth=mid, filter_size=kernel)
    plain = sum(p.numel() for p in _convs([(channels, channels, kernel)]).parameters())
    parts = [sum(p.numel() for p in m.parameters())
             for m in _convs([(channels, mid, 1), (mid, mid, kernel), (mid, channels, 1)])]
    return ResidualBottleneck(plain, *parts)


def inception_depth(c_in: int, n1: int, n3: int, n5: int, pool_proj: int | None = None) -> int:
    """Output depth of an Inception module: the branches are concatenated along the depth.

    The naive module's pooling branch keeps all ``c_in`` channels (course notes: 128+192+96+256 = 672);
    the real one projects them with a 1x1 convolution to ``pool_proj`` (64+128+32+32 = 256).
    """
    _positive(input_depth=c_in)
    for what, v in (("1x1 filters", n1), ("3x3 filters", n3), ("5x5 filters", n5)):
        if v < 0:
            raise ConfigError(f"the number of {what} cannot be negative, got {v}")
    if pool_proj is not None and pool_proj < 0:
        raise ConfigError(f"the pooling projection cannot be negative, got {pool_proj}")
    return n1 + n3 + n5 + (c_in if pool_proj is None else pool_proj)


def naive_inception_macs(size: int, c_in: int, n1: int, n3: int, n5: int) -> dict[str, int]:
    """Multiplies of each branch of the naive module (the pooling branch has none)."""
    _positive(size=size, input_depth=c_in)
    out = {}
    for name, n, k in (("1x1", n1, 1), ("3x3", n3, 3), ("5x5", n5, 5)):
        out[name] = analyze(_convs([(c_in, n, k)]), (c_in, size, size)).totals.macs if n else 0
    return out


@dataclass(frozen=True)
class StackVsSingle:
    """``layers`` stacked k x k convolutions against one convolution with the same receptive field."""

    layers: int
    kernel: int
    receptive_field: int
    stacked_weights: int
    single_weights: int


def stack_vs_single(channels: int, layers: int = 3, kernel: int = 3) -> StackVsSingle:
    """The course notes: three 3x3 layers see 7x7 like one 7x7 layer, with 27C^2 instead of 49C^2 weights."""
    _positive(channels=channels, layers=layers, filter_size=kernel)
    if layers > 50:
        raise ConfigError(f"at most 50 layers here, got {layers}")
    stack = _convs([(channels, channels, kernel)] * layers)
    side = layers * (kernel - 1) + 1
    rf = analyze(stack, (channels, side, side)).layers[-1].rf
    rf = rf if isinstance(rf, int) else int(max(rf))
    single = _convs([(channels, channels, rf)])
    return StackVsSingle(layers, kernel, rf, sum(p.numel() for p in stack.parameters()),
                         sum(p.numel() for p in single.parameters()))


def field_growth(layers: int, kernel: int = 3, stride: int = 1) -> list[int]:
    """Receptive field (pixels on a side) after each of ``layers`` stacked ``kernel`` x ``kernel``
    convolutions at ``stride``, from the engine.

    At stride 1 it grows by F - 1 a layer (3, 5, 7). The course notes' "3x3, 9x9, 27x27 pixels" holds
    when each layer's windows tile the one below without overlap, i.e. at stride F (3, 9, 27).
    """
    _positive(layers=layers, filter_size=kernel, stride=stride)
    if layers > 8:
        raise ConfigError(f"at most 8 layers here, got {layers}")
    side = 1 + sum((kernel - 1) * stride ** i for i in range(layers))  # the last layer's output is 1x1
    with torch.device("meta"):
        stack = nn.Sequential(*[nn.Conv2d(1, 1, kernel, stride, bias=False) for _ in range(layers)])
    return [r.rf if isinstance(r.rf, int) else int(max(r.rf)) for r in analyze(stack, (1, side, side)).layers]


# ---------------------------------------------------------------------------------------------
# Activations, softmax, dropout, batch norm, LRN, flatten + fully connected
# ---------------------------------------------------------------------------------------------
ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "Leaky ReLU"}


def activation(name: str, x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """sigmoid, tanh, relu or leaky_relu (negative ``slope``) of ``x``."""
    x = np.asarray(x, dtype=float)
    if name == "sigmoid":
        return 0.5 * (1 + np.tanh(x / 2))  # = 1 / (1 + e^-x), without overflow
    if name == "tanh":
        return np.tanh(x)
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "leaky_relu":
        return np.where(x > 0, x, slope * x)
    raise ConfigError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


def derivative(name: str, x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """The derivative, as PyTorch's autograd takes it (ReLU's is 0 at 0, leaky ReLU's is ``slope``)."""
    x = np.asarray(x, dtype=float)
    if name == "sigmoid":
        s = activation("sigmoid", x)
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(x) ** 2
    if name == "relu":
        return (x > 0).astype(float)
    if name == "leaky_relu":
        return np.where(x > 0, 1.0, slope)
    raise ConfigError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


def saturated_intervals(name: str, lo: float, hi: float, threshold: float = 0.01, slope: float = 0.01,
                        points: int = 4001) -> list[tuple[float, float]]:
    """Intervals of [lo, hi] where |f'(x)| < threshold: there the gradient barely flows."""
    if not lo < hi:
        raise ConfigError(f"the range must go up: {lo} .. {hi}")
    x = np.linspace(lo, hi, points)
    flat = np.abs(derivative(name, x, slope)) < threshold
    out = []
    i = 0
    while i < points:
        if flat[i]:
            j = i
            while j + 1 < points and flat[j + 1]:
                j += 1
            out.append((float(x[i]), float(x[j])))
            i = j + 1
        else:
            i += 1
    return out


def softmax(scores: Sequence[float], temperature: float = 1.0) -> np.ndarray:
    """exp(s_i / T) / sum_j exp(s_j / T), computed stably (the largest score subtracted first)."""
    s = np.asarray(scores, dtype=float)
    if s.size == 0:
        raise ConfigError("softmax needs at least one score")
    if not np.isfinite(s).all():
        raise ConfigError("every score must be a finite number")
    if not temperature > 0:
        raise ConfigError(f"the temperature must be positive, got {temperature}")
    z = (s - s.max()) / temperature
    e = np.exp(z)
    return e / e.sum()


@dataclass(frozen=True)
class DropoutDemo:
    """Dropout on a few units: keep each with probability ``keep`` while training."""

    activations: np.ndarray
    keep: float
    mask: np.ndarray
    train: np.ndarray  # a * mask (the course notes' version)
    test: np.ndarray  # a * p: the test-time scaling that matches the training average
    inverted_train: np.ndarray  # a * mask / p (PyTorch's nn.Dropout): no scaling at test time


def dropout_demo(activations: Sequence[float], keep: float, seed: int = 0) -> DropoutDemo:
    """One random training mask and both ways of scaling (at test time by p, or at training time by 1/p)."""
    if not 0 < keep <= 1:
        raise ConfigError(f"the keep probability p must be in (0, 1], got {keep}")
    a = np.asarray(activations, dtype=float)
    mask = (np.random.default_rng(seed).random(a.shape) < keep).astype(float)
    return DropoutDemo(a, keep, mask, a * mask, a * keep, a * mask / keep)


@dataclass(frozen=True)
class BatchNormDemo:
    """Batch normalisation of one channel over a small batch."""

    x: np.ndarray
    mean: float
    var: float
    x_hat: np.ndarray
    y: np.ndarray


def batch_norm(x: Sequence[float], gamma: float = 1.0, beta: float = 0.0, eps: float = 1e-5) -> BatchNormDemo:
    """x_hat = (x - mean) / sqrt(var + eps) (biased variance, as in training), y = gamma x_hat + beta."""
    arr = np.asarray(x, dtype=float)
    if arr.size < 2:
        raise ConfigError("batch norm needs a batch of at least 2 values")
    if not np.isfinite(arr).all():
        raise ConfigError("every value of the batch must be a finite number")
    if eps <= 0:
        raise ConfigError(f"eps must be positive, got {eps}")
    mean, var = float(arr.mean()), float(arr.var())
    x_hat = (arr - mean) / math.sqrt(var + eps)
    return BatchNormDemo(arr, mean, var, x_hat, gamma * x_hat + beta)


def lrn(a: Sequence[float], size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0) -> np.ndarray:
    """Local response normalisation across channels at one position (PyTorch's ``nn.LocalResponseNorm``):
    b_c = a_c / (k + alpha/n * sum of a_j^2 over the n channels around c)^beta. AlexNet: n=5, alpha=1e-4,
    beta=0.75, k=2 (the paper writes alpha without the 1/n)."""
    arr = np.asarray(a, dtype=float)
    if size < 1:
        raise ConfigError(f"the LRN size n must be at least 1, got {size}")
    sq = np.pad(arr ** 2, (size // 2, (size - 1) // 2))
    sums = np.array([sq[c:c + size].sum() for c in range(arr.size)])
    return arr / (k + alpha / size * sums) ** beta


@dataclass(frozen=True)
class FullyConnected:
    """Flatten an H x W x C volume and map it to ``outputs`` scores: W (outputs x HWC) x + b."""

    inputs: int
    outputs: int
    weights: int
    biases: int
    macs: int

    @property
    def params(self) -> int:
        return self.weights + self.biases


def fully_connected(height: int, width: int, channels: int, outputs: int) -> FullyConnected:
    """The course notes: 32x32x3 -> 3072 values -> W(10x3072) x = 10 scores, 30,730 parameters."""
    _positive(height=height, width=width, channels=channels, outputs=outputs)
    with torch.device("meta"):
        model = nn.Sequential(nn.Flatten(), nn.Linear(height * width * channels, outputs))
    report = analyze(model, (channels, height, width))
    fc = model[1]
    return FullyConnected(fc.in_features, outputs, fc.weight.numel(), fc.bias.numel(), report.totals.macs)
