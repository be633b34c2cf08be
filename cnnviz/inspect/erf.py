"""The effective receptive field: which input pixels a unit's value actually depends on.

The theoretical receptive field (:meth:`LayerRow.unit_region`) is the box of input pixels
that *can* change a unit. The effective one is the gradient of the unit with respect to
the input (Luo et al., NeurIPS 2016): inside the box it is usually concentrated near the
centre, because central pixels reach the unit along many more paths than border pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.analysis import analyze
from cnnviz.errors import ConfigError
from cnnviz.analysis.report import Report
from cnnviz.inspect.activations import check_budget, evaluating, hooked, resolve, run_until


@dataclass(frozen=True)
class EffectiveRF:
    """|d unit / d input| summed over input channels, and the theoretical box of the unit."""

    grad: np.ndarray  # (H, W), >= 0
    box: tuple[float, float, float, float]  # (top, left, bottom, right), may reach into the padding
    value: float  # the unit's value

    def clipped_box(self) -> tuple[int, int, int, int]:
        """The theoretical box cut to the input."""
        h, w = self.grad.shape
        t, l, b, r = self.box
        return max(0, int(t)), max(0, int(l)), min(h - 1, int(b)), min(w - 1, int(r))

    def support(self, rel: float = 0.0) -> tuple[int, int, int, int] | None:
        """Box of the pixels whose gradient is above ``rel`` times the largest; ``None`` if all zero."""
        peak = float(self.grad.max())
        if peak <= 0:
            return None
        ys, xs = np.nonzero(self.grad > rel * peak)
        return int(ys.min()), int(xs.min()), int(ys.max()), int(xs.max())

    def mass_side(self, share: float = 0.9) -> int:
        """Side of the smallest square centred on the theoretical box that holds ``share`` of the gradient."""
        total = float(self.grad.sum())
        t, l, b, r = self.box
        if total <= 0:
            return 0
        ys, xs = np.indices(self.grad.shape)
        reach = np.maximum(np.abs(ys - (t + b) / 2), np.abs(xs - (l + r) / 2))  # Chebyshev distance
        order = np.argsort(reach, axis=None)
        mass = np.cumsum(self.grad.ravel()[order])
        k = int(np.searchsorted(mass, share * total))
        radius = float(reach.ravel()[order][min(k, len(order) - 1)])
        return int(round(2 * radius + 1))

    def mass_inside(self) -> float:
        """Share of the total gradient that falls inside the theoretical box (1.0 in theory)."""
        total = float(self.grad.sum())
        if total <= 0:
            return 1.0
        t, l, b, r = self.clipped_box()
        return float(self.grad[t:b + 1, l:r + 1].sum()) / total


def effective_rf(model: nn.Module, x: torch.Tensor, report: Report, layer: str, y: int, x_: int,
                 channel: int | None = None) -> EffectiveRF:
    """Gradient of unit (``channel`` or the sum over channels, ``y``, ``x_``) of ``layer`` w.r.t. input ``x``.

    ``x`` is one image (1, C, H, W); the forward pass stops at the layer.
    """
    row = report.row(layer)
    if not row.spatial:
        raise ConfigError(f"{layer} has no spatial map (output {row.output_shape}): every unit sees the whole input")
    c, h, w = row.output_shape
    if not (0 <= y < h and 0 <= x_ < w):
        raise ConfigError(f"unit ({y}, {x_}) is outside {layer}'s {h}x{w} map")
    if channel is not None and not 0 <= channel < c:
        raise ConfigError(f"{layer} has channels 0 to {c - 1}, not {channel}")
    if row.rf_field.h is None:
        raise ConfigError(f"{layer}: the theoretical receptive field is unknown")
    check_budget(report, backward=True)
    ref = resolve(model, report, layer)
    inp = x.detach().clone().requires_grad_(True)
    with evaluating(model), torch.enable_grad(), hooked(model, [ref], keep_graph=True) as captured:
        run_until(model, inp)
    out = captured[layer][0]
    unit = out[:, y, x_].sum() if channel is None else out[channel, y, x_]
    if not unit.requires_grad:
        raise ConfigError(f"{layer} does not depend on the input through differentiable operations")
    (grad,) = torch.autograd.grad(unit, inp)
    return EffectiveRF(grad[0].abs().sum(0).cpu().numpy(), row.unit_region(y, x_), float(unit.detach()))


def erf_of_stack(model: nn.Module, input_shape: tuple[int, int, int], seed: int = 0,
                 samples: int = 8) -> np.ndarray:
    """Mean |gradient| of the centre unit of ``model``'s output over random inputs (Luo et al.)."""
    gen = torch.Generator().manual_seed(seed)
    inp = torch.randn((samples, *input_shape), generator=gen).requires_grad_(True)
    with evaluating(model), torch.enable_grad():
        out = model(inp)
        if out.dim() != 4:
            raise ConfigError("the stack must end with a spatial map")
        out[:, :, out.shape[2] // 2, out.shape[3] // 2].sum().backward()
    return inp.grad.abs().sum(1).mean(0).numpy()


@dataclass(frozen=True)
class StackResult:
    """One side of the "three 3x3 = one 7x7" comparison."""

    title: str
    params: int
    rf: int
    erf: np.ndarray  # (N, N), normalised to a peak of 1


def _stack(kernels: list[tuple[int, int]], channels: int, relu: bool, ones: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (k, s) in enumerate(kernels):
        conv = nn.Conv2d(channels, channels, k, stride=s, bias=False)
        if ones:
            nn.init.constant_(conv.weight, 1.0 / (conv.in_channels * k * k))
        else:
            nn.init.kaiming_normal_(conv.weight, generator=torch.Generator().manual_seed(i))
        layers.append(conv)
        if relu and i < len(kernels) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def compare_stacks(channels: int = 8, stride: int = 1, relu: bool = False, ones: bool = True
                   ) -> tuple[StackResult, StackResult]:
    """Three 3x3 convolutions (each with ``stride``) against the one conv that sees the same box.

    Every layer maps ``channels`` to ``channels`` (3 x 9 C^2 against k^2 C^2 weights). The
    single conv has kernel = the stack's receptive field and stride = ``stride**3``.
    ``ones`` sets every weight to the same value (the ERF then counts paths), else He-random.
    """
    if not 1 <= stride <= 3 or not 1 <= channels <= 64:
        raise ConfigError("choose a stride from 1 to 3 and 1 to 64 channels")
    rf = 1 + 2 * (1 + stride + stride**2)
    size = rf + 2 * stride**3  # the centre unit's field, plus one output unit either side
    results = []
    for title, kernels in ((f"three 3x3 (stride {stride})", [(3, stride)] * 3),
                           (f"one {rf}x{rf} (stride {stride**3})", [(rf, stride**3)])):
        model = _stack(kernels, channels, relu, ones)
        report = analyze(model, (channels, size, size))
        erf = erf_of_stack(model, (channels, size, size))
        results.append(StackResult(title, report.totals.params, int(report.receptive_field["size"]),
                                   erf / (erf.max() or 1.0)))
    return results[0], results[1]
