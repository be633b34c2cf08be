"""Build a plain layer stack from a list of layer specs, with every setting checked.

A spec is a dict with a ``type`` and that layer's settings::

    [{"type": "conv", "out_channels": 10, "kernel": 5, "stride": 1, "padding": 2},
     {"type": "act", "fn": "relu"},
     {"type": "pool", "kind": "max", "kernel": 2, "stride": 2},
     {"type": "flatten"},
     {"type": "linear", "out_features": 10}]

Layers are named like a student would: ``conv1``, ``relu1``, ``pool1``, ``fc1``.
Settings that no input can satisfy (stride 0, channels not divisible by groups)
raise :class:`ConfigError` here; shape problems (a kernel larger than the padded
input) are found by :func:`cnnviz.analyze` on the built stack.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

from torch import nn

from cnnviz.analysis.counting import Shape, rule_for
from cnnviz.errors import ConfigError
from cnnviz.zoo.base import make_activation

LAYER_TYPES = ("conv", "pool", "act", "bn", "dropout", "flatten", "linear", "lrn", "softmax")


def _int(spec: dict[str, Any], key: str, default: int | None, lo: int, where: str) -> int:
    value = spec.get(key, default)
    if value is None:
        raise ConfigError(f"{where}: {key} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value))
        except ValueError:
            raise ConfigError(f"{where}: {key} must be a whole number, got {value!r}") from None
    if value < lo:
        raise ConfigError(f"{where}: {key} must be at least {lo}, got {value}")
    return value


def _padding(spec: dict[str, Any], kernel: int, dilation: int, where: str) -> int | str:
    pad = spec.get("padding", 0)
    if pad in ("same", "valid"):
        return pad
    return _int({"padding": pad}, "padding", 0, 0, where)


def _make(spec: dict[str, Any], shape: Shape, where: str) -> nn.Module:
    kind = spec.get("type")
    if kind == "conv":
        if len(shape) != 3:
            raise ConfigError(f"{where}: a convolution needs a C x H x W input, got {len(shape)} dimension(s)")
        k = _int(spec, "kernel", 3, 1, where)
        s = _int(spec, "stride", 1, 1, where)
        d = _int(spec, "dilation", 1, 1, where)
        g = _int(spec, "groups", 1, 1, where)
        cout = _int(spec, "out_channels", None, 1, where)
        cin = shape[0]
        if cin % g or cout % g:
            raise ConfigError(f"{where}: groups {g} must divide the input channels ({cin}) and the "
                              f"number of filters ({cout})")
        pad = _padding(spec, k, d, where)
        if pad == "same" and s != 1:
            raise ConfigError(f"{where}: 'same' padding needs stride 1 (got stride {s})")
        return nn.Conv2d(cin, cout, k, s, pad, d, g, bias=bool(spec.get("bias", True)))
    if kind == "pool":
        k = _int(spec, "kernel", 2, 1, where)
        s = _int(spec, "stride", k, 1, where)
        p = _int(spec, "padding", 0, 0, where)
        if 2 * p > k:
            raise ConfigError(f"{where}: padding {p} is more than half the kernel size {k}")
        pool_kind = spec.get("kind", "max")
        ceil = bool(spec.get("ceil_mode", False))
        if pool_kind == "max":
            return nn.MaxPool2d(k, s, p, ceil_mode=ceil)
        if pool_kind == "avg":
            return nn.AvgPool2d(k, s, p, ceil_mode=ceil)
        raise ConfigError(f"{where}: pooling kind must be max or avg, got {pool_kind!r}")
    if kind == "act":
        return make_activation(str(spec.get("fn", "relu")), inplace=False)
    if kind == "bn":
        return nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])
    if kind == "dropout":
        p = float(spec.get("p", 0.5))
        if not 0 <= p < 1:
            raise ConfigError(f"{where}: dropout probability must be in [0, 1), got {p}")
        return nn.Dropout(p)
    if kind == "flatten":
        return nn.Flatten()
    if kind == "linear":
        return nn.Linear(math.prod(shape), _int(spec, "out_features", None, 1, where),
                         bias=bool(spec.get("bias", True)))
    if kind == "lrn":
        return nn.LocalResponseNorm(_int(spec, "size", 5, 1, where), alpha=1e-4, beta=0.75, k=2.0)
    if kind == "softmax":
        return nn.Softmax(dim=1)
    raise ConfigError(f"{where}: unknown layer type {kind!r}; choose one of {', '.join(LAYER_TYPES)}")


_PREFIX = {"conv": "conv", "pool": "pool", "act": "act", "bn": "bn", "dropout": "dropout", "flatten": "flatten",
           "linear": "fc", "lrn": "lrn", "softmax": "softmax"}


def build_stack(input_shape: Shape, specs: list[dict[str, Any]]) -> nn.Sequential:
    """An ``nn.Sequential`` from layer specs, checking each layer against the shape it receives."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    counts: dict[str, int] = {}
    shape = tuple(input_shape)
    for i, spec in enumerate(specs):
        kind = str(spec.get("type"))
        prefix = _PREFIX.get(kind, "layer")
        if kind == "act":
            prefix = str(spec.get("fn", "relu"))
        counts[prefix] = counts.get(prefix, 0) + 1
        name = f"{prefix}{counts[prefix]}"
        module = _make(spec, shape, f"{name} (layer {i + 1}, {kind})")
        if kind == "linear" and len(shape) != 1:
            layers[f"flatten_before_{name}"] = nn.Flatten()
        layers[name] = module
        rule = rule_for(module)
        if kind == "linear":
            shape = (module.out_features,)
        elif rule is not None:
            shape = rule(name, module, shape).out_shape
    return nn.Sequential(layers)
