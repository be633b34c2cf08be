"""Exact per-layer analysis: shapes, parameters, MACs/FLOPs, memory and receptive fields.

The counting rules are in :mod:`cnnviz.analysis.counting`, the receptive-field
arithmetic in :mod:`cnnviz.analysis.receptive_field`.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from cnnviz.analysis.depth import depth
from cnnviz.errors import ConfigError
from cnnviz.analysis.graph import trace
from cnnviz.analysis.report import (LayerRow, Report, Totals, human_bytes, human_count, make_rows, plain_number,
                                    significant)


def _parse_shape(input_shape: Sequence[int] | str) -> tuple[int, ...]:
    if isinstance(input_shape, str):
        parts = [p for p in input_shape.replace("x", ",").split(",") if p.strip()]
        try:
            input_shape = [int(p) for p in parts]
        except ValueError:
            raise ConfigError(f"input shape {input_shape!r}: write it as C,H,W, e.g. 3,224,224") from None
    shape = tuple(int(s) for s in input_shape)
    if not 1 <= len(shape) <= 4:  # features; C,L (Conv1d); C,H,W; C,D,H,W (Conv3d)
        raise ConfigError(f"input shape {shape}: give C,H,W (three numbers), or C,L or C,D,H,W for 1-d or 3-d data")
    if any(s <= 0 for s in shape):
        raise ConfigError(f"input shape {'x'.join(map(str, shape))}: every size must be at least 1")
    if any(s >= 2**63 for s in shape):  # a tensor's sizes are 64-bit integers
        raise ConfigError(f"input shape {'x'.join(map(str, shape))}: every size must be below 2^63")
    return shape


def analyze(model: nn.Module, input_shape: Sequence[int] | str, *, include_extra: bool = False,
            name: str | None = None, dtype: torch.dtype = torch.float32) -> Report:
    """Analyse ``model`` for one input of ``input_shape`` (C, H, W; or C, L or C, D, H, W) without running real arithmetic.

    Raises :class:`ConfigError` naming the layer and the rule when the input cannot pass.
    """
    shape = _parse_shape(input_shape)
    graph = trace(model, shape, dtype)
    rows = make_rows(graph.nodes, include_extra, torch.empty((), dtype=dtype, device="meta").element_size())
    seen: set[int] = set()  # shared weights count once
    params = trainable = param_bytes = buffer_bytes = 0
    for module in model.modules():  # one walk for both (each of .parameters() and .buffers() is a walk)
        for p in module._parameters.values():
            if p is not None and id(p) not in seen:
                seen.add(id(p))
                params += p.numel()
                trainable += p.numel() if p.requires_grad else 0
                param_bytes += p.numel() * p.element_size()
        for b in module._buffers.values():
            if b is not None and id(b) not in seen:
                seen.add(id(b))
                buffer_bytes += b.numel() * b.element_size()
    unknown = tuple(r.name for r in rows if r.macs is None)
    macs = sum(r.macs or 0 for r in rows)
    extra = sum(r.extra_flops or 0 for r in rows)
    totals = Totals(
        params=params, trainable_params=trainable, macs=macs,
        flops=2 * macs + (extra if include_extra else 0), extra_flops=extra, param_bytes=param_bytes,
        buffer_bytes=buffer_bytes, activation_bytes=sum(r.activation_bytes for r in rows),
        input_bytes=graph.input_bytes, params_not_run=params - sum(r.params for r in rows),
        unknown_layers=unknown, activation_values=sum(r.activation_values for r in rows), depth=depth(rows),
    )
    return Report(model=name or getattr(model, "cnnviz_name", type(model).__name__), input_shape=shape,
                  layers=rows, totals=totals, blocks=graph.blocks, include_extra=include_extra,
                  description=getattr(model, "cnnviz_description", ""))


def summarize(name: str, input_shape: Sequence[int] | str | None = None, *, include_extra: bool = False,
              **settings: Any) -> Report:
    """Build zoo model ``name`` on the meta device with ``settings`` and analyse it.

    The input shape defaults to the model's ``in_channels`` x ``input_size`` x ``input_size``.
    """
    from cnnviz.zoo import build, get_spec

    spec = get_spec(name)
    resolved = spec.resolve(settings)
    if input_shape is None:
        input_shape = (resolved["in_channels"], resolved["input_size"], resolved["input_size"])
    model = build(name, device="meta", **settings)
    report = analyze(model, input_shape, include_extra=include_extra, name=name)
    report.description = spec.description
    return report


__all__ = ["ConfigError", "LayerRow", "Report", "Totals", "analyze", "human_bytes", "human_count", "plain_number",
           "significant", "summarize"]
