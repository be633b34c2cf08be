"""A zoo model written in the network builder's grammar, or the reason it cannot be.

:func:`zoo_text` follows the model's layers in the order they run (cnnviz's trace on the meta
device), writes each as a layer of the grammar and each block the grammar knows (torchvision's
BasicBlock and Bottleneck, GoogLeNet's inception module, MobileNet v1's separable pair) as one
line, and finally checks that the text builds the same network: the same output shape and the
same parameter count. Anything else (LeNet-5's connection table, ReLU6, zero-padding
shortcuts, batch norm with another epsilon...) is a :class:`BuilderError` saying what and where.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cnnviz.analysis import analyze
from cnnviz.analysis.report import LayerRow
from cnnviz.zoo import build, get_spec
from cnnviz.zoo.custom import (LAYER_KINDS, BuilderError, LayerSpec, _module, _raw_spec, format_network, parse,
                               walk)
from cnnviz.zoo.inception import Inception
from cnnviz.zoo.mobile import DepthwiseSeparable
from cnnviz.zoo.resnet import BasicBlock, Bottleneck, ZeroPadShortcut


@dataclass(frozen=True)
class ZooText:
    """A zoo model as builder text, with the input and classes it was written for."""

    text: str
    input_size: tuple[int, int, int]
    num_classes: int


def _spec(kind: str, **values: Any) -> LayerSpec:
    """A spec with only the arguments that differ from the table's defaults."""
    info = LAYER_KINDS[kind]
    given = {}
    for a in info.args:
        value = values[a.name]
        default = values.get("K") if a.default == "K" else a.default
        if a.required or value != default:
            given[a.name] = value
    return _raw_spec(kind, (), given)


def _size(v: tuple[int, int] | int) -> Any:
    v = v if isinstance(v, tuple) else (v, v)
    return v[0] if v[0] == v[1] else tuple(v)


class _Cannot(Exception):
    pass


def _leaf(module: nn.Module) -> LayerSpec | None:
    """The grammar's layer for one leaf module (``None``: a no-op to leave out)."""
    if isinstance(module, nn.Conv2d):
        if module.padding_mode != "zeros":
            raise _Cannot(f"{module.padding_mode} padding")
        pad = module.padding if isinstance(module.padding, str) else _size(module.padding)
        if pad == "valid":
            pad = 0
        return _spec("conv", C=module.out_channels, K=_size(module.kernel_size), stride=_size(module.stride),
                     padding=pad, dilation=_size(module.dilation), groups=module.groups, bias=module.bias is not None)
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        if isinstance(module, nn.MaxPool2d) and _size(module.dilation) != 1:
            raise _Cannot("dilated pooling")
        if isinstance(module, nn.AvgPool2d) and (not module.count_include_pad or module.divisor_override):
            raise _Cannot("average pooling that leaves the padding out")
        k = _size(module.kernel_size)
        return _spec("maxpool" if isinstance(module, nn.MaxPool2d) else "avgpool", K=k,
                     stride=_size(module.stride or module.kernel_size), padding=_size(module.padding),
                     ceil=bool(module.ceil_mode))
    if isinstance(module, nn.Linear):
        return _spec("fc", N=module.out_features, bias=module.bias is not None)
    if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
        if module.eps != 1e-5 or not module.affine or not module.track_running_stats:
            raise _Cannot(f"batch norm with eps {module.eps:g}" if module.eps != 1e-5 else "batch norm without "
                          "its learned scale and shift or running statistics")
        return _spec("bn")
    if isinstance(module, nn.Dropout):
        return None if module.p == 0 else _spec("dropout", p=float(module.p))
    if isinstance(module, nn.LocalResponseNorm):
        if not (math.isclose(module.alpha, 1e-4 * module.size) and module.beta == 0.75 and module.k == 2.0):
            raise _Cannot(f"LRN with alpha {module.alpha / module.size:g} per term, beta {module.beta:g}, k "
                          f"{module.k:g} (the grammar's lrn is AlexNet's 1e-4, 0.75, 2)")
        return _spec("lrn", size=module.size)
    if isinstance(module, nn.LeakyReLU):
        return _spec("leakyrelu", slope=float(module.negative_slope))
    if isinstance(module, nn.Softmax) and module.dim == 1:
        return _spec("softmax")
    simple = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}
    if type(module) in simple:
        return _spec(simple[type(module)])
    if isinstance(module, nn.Identity):
        return None
    raise _Cannot(type(module).__name__)


def _block(module: nn.Module) -> LayerSpec | None:
    """The grammar's block for ``module``, ``None`` if it is not one of the blocks the grammar knows."""
    if type(module) is BasicBlock:
        return _spec("residual", C=module.conv1.out_channels, stride=module.stride)
    if type(module) is Bottleneck:
        return _spec("bottleneck", C=module.conv1.out_channels, stride=module.stride)
    if type(module) is Inception:
        try:
            c = [module.branch1.conv, module.branch2[0].conv, module.branch2[1].conv, module.branch3[0].conv,
                 module.branch3[1].conv, module.branch4[1].conv]
        except (AttributeError, IndexError):
            raise _Cannot("the naive inception module (without 1x1 reductions)") from None
        return _spec("inception", **{n: conv.out_channels for n, conv in
                                     zip(("c1", "c3r", "c3", "c5r", "c5", "pool_proj"), c)})
    if type(module) is DepthwiseSeparable:
        dw = module.dw[0]
        return _spec("separable", C=module.pw[0].out_channels, K=dw.kernel_size[0], stride=dw.stride[0])
    return None


def _same_block(module: nn.Module, spec: LayerSpec, in_shape: tuple[int, ...]) -> bool:
    """Whether the grammar's block for ``spec`` is ``module`` with other weights."""
    with torch.device("meta"):
        mine = _module(spec, in_shape)
    return repr(mine) == repr(module) and getattr(mine, "skip", True) == getattr(module, "skip", True)


def zoo_text(name: str, settings: dict[str, Any] | None = None) -> ZooText:
    """Zoo model ``name`` (with ``settings``) in the builder's grammar; :class:`BuilderError` says why not."""
    spec = get_spec(name)
    resolved = spec.resolve(settings)
    shape = (resolved["in_channels"], resolved["input_size"], resolved["input_size"])
    model = build(name, device="meta", **(settings or {}))
    report = analyze(model, shape)
    modules = dict(model.named_modules())
    layers: list[LayerSpec] = []
    done: set[str] = set()  # the blocks written so far
    rows = report.layers
    for i, row in enumerate(rows):
        parts = row.module.split(".") if row.module else []
        prefixes = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        block = next((p for p in prefixes if type(modules[p]) in _BLOCKS), None)
        where = block or row.module or "the top level"
        try:
            if block is not None:
                if block not in done:
                    done.add(block)
                    layers.append(_checked_block(modules[block], row.input_shapes[0]))
            else:
                # what the next row after any dropout is: a flatten before an fc is left to the fc
                following = next((r for r in rows[i + 1:] if r.type != "Dropout"), None)
                layer = _row_layer(row, modules, rows[i - 1] if i else None, following)
                if layer is not None:
                    layers.append(layer)
        except _Cannot as exc:
            raise BuilderError(f"{name} cannot be written in the builder's grammar: {exc} at {where}") from None
    text = format_network(layers)
    _check_same(name, text, shape, report)
    return ZooText(text, shape, resolved["num_classes"])


_BLOCKS = (BasicBlock, Bottleneck, Inception, DepthwiseSeparable)


def _checked_block(module: nn.Module, in_shape: tuple[int, ...]) -> LayerSpec:
    """The grammar's block for ``module``, if the grammar builds exactly that block."""
    spec = _block(module)
    assert spec is not None  # only called on the _BLOCKS
    if _same_block(module, spec, in_shape):
        return spec
    kind = type(module).__name__
    if getattr(module, "skip", True) is False:
        raise _Cannot(f"a {kind} without its skip connection (a plain network)")
    if isinstance(getattr(module, "downsample", None), ZeroPadShortcut):
        raise _Cannot(f"a {kind} whose shortcut pads zeros (option A; the grammar's projects with a 1x1 conv)")
    raise _Cannot(f"a {kind} unlike the grammar's {spec.kind} (its batch norm, groups, widths or kernels differ)")


def _row_layer(row: LayerRow, modules: dict[str, nn.Module], previous: LayerRow | None,
               following: LayerRow | None) -> LayerSpec | None:
    module = modules.get(row.module)
    functional = module is None or row.type != type(module).__name__
    if row.type in ("flatten", "Flatten"):
        # gap flattens already; a flatten just before an fc (dropout between them or not) is the fc's own
        after_gap = previous is not None and len(previous.output_shape) == 1
        before_fc = following is not None and following.type == "Linear"
        return None if after_gap or before_fc else _spec("flatten")
    if not functional:
        if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            return _adaptive(row, isinstance(module, nn.AdaptiveMaxPool2d))
        return _leaf(module)  # type: ignore[arg-type]
    if row.type in ("relu", "tanh", "sigmoid"):
        return _spec(row.type)
    if row.type == "adaptive_avg_pool2d":
        return _adaptive(row, False)
    owner = type(module).__name__ if module is not None else "the model"
    raise _Cannot(f"{owner}'s {row.type} (not a layer of the grammar)")


def _adaptive(row: LayerRow, is_max: bool) -> LayerSpec | None:
    if row.input_shapes[0] == row.output_shape:
        return None  # already the size it asks for: a no-op
    if row.output_shape[1:] == (1, 1) and not is_max:
        # gap flattens: the trace shows it as (C,) from here on, checked at the end
        return _spec("gap")
    raise _Cannot(f"adaptive pooling to {row.output_shape[1]}x{row.output_shape[2]}")


def _check_same(name: str, text: str, shape: tuple[int, int, int], report: Any) -> None:
    steps, _ = walk(parse(text), shape)
    params = sum(s.params for s in steps)
    out = steps[-1].output_shape if steps else shape
    if params != report.totals.params or out != tuple(report.output_shape):
        raise BuilderError(f"{name} cannot be written exactly in the builder's grammar: the text gives "
                           f"{params:,} parameters and output {out}, the model {report.totals.params:,} and "
                           f"{tuple(report.output_shape)}")
