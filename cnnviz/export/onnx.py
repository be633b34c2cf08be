"""The configured model, with random weights, as an ONNX file in memory.

Models above :data:`MAX_ONNX_PARAMS` parameters are refused before any weight is allocated.
"""
from __future__ import annotations

from typing import Any

import torch

from cnnviz import guard
from cnnviz.errors import ConfigError
from cnnviz.zoo import build, get_spec

MAX_ONNX_PARAMS = 65_000_000
"""Largest model :func:`onnx_bytes` exports: 65M parameters (about 260 MB of float32 weights)."""


def onnx_bytes(name: str, settings: dict[str, Any] | None = None, *, max_params: int = MAX_ONNX_PARAMS,
               opset: int | None = None) -> bytes:
    """The configured model, with random weights, as an ONNX file in memory.

    Raises :class:`ConfigError` for impossible settings, for models beyond the server's budget
    (:mod:`cnnviz.guard`) and for models above ``max_params`` parameters; all are checked on
    the meta device, before any weight is allocated.
    """
    settings = dict(settings or {})
    n = guard.check_model(name, settings).totals.params
    if n > max_params:
        raise ConfigError(
            f"{name} has {n / 1e6:.1f}M parameters; ONNX export is limited to {max_params / 1e6:.0f}M "
            f"parameters here (the file would be {4 * n / 2**20:.0f} MiB). Use the PyTorch code to export it "
            "on your own machine."
        )
    spec = get_spec(name)
    resolved = spec.resolve(settings)
    model = build(name, device="cpu", **settings).eval()
    x = torch.zeros(1, resolved["in_channels"], resolved["input_size"], resolved["input_size"])
    extra = {} if opset is None else {"opset_version": opset}
    try:
        program = torch.onnx.export(model, (x,), dynamo=True, verbose=False, input_names=["image"],
                                    output_names=["logits"], **extra)
    except Exception as exc:  # noqa: BLE001 - exporter failures become one clear message
        raise RuntimeError(f"{name}: ONNX export failed: {type(exc).__name__}: {str(exc)[:300]}") from None
    return program.model_proto.SerializeToString()
