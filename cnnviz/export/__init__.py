"""Take a configured model home: plain PyTorch source, ONNX, and the analysis as CSV or JSON.

:func:`export_file` is what ``python -m cnnviz export`` and the explorer's Export tab write.
"""
from __future__ import annotations

from typing import Any, Sequence

from cnnviz.analysis import summarize
from cnnviz.errors import ConfigError
from cnnviz.export.onnx import MAX_ONNX_PARAMS, onnx_bytes
from cnnviz.export.snippet import changed_settings, pytorch_code, torchvision_twin
from cnnviz.export.source import module_source, zoo_source
from cnnviz.export.tables import report_csv, report_json
from cnnviz.zoo import get_spec

FORMATS = ("py", "onnx", "csv", "json")
"""What :func:`export_file` writes: standalone PyTorch source, ONNX, the layer table, the report."""


def with_input(name: str, settings: dict[str, Any] | None, input_shape: Sequence[int] | None) -> dict[str, Any]:
    """``settings`` with ``in_channels`` and ``input_size`` taken from a C,H,W input (H = W)
    unless the settings give them."""
    settings = dict(settings or {})
    if input_shape is None:
        return settings
    if len(input_shape) != 3 or any(int(v) < 1 for v in input_shape):
        raise ConfigError(f"input shape {tuple(input_shape)}: give three positive numbers C,H,W")
    c, h, w = (int(v) for v in input_shape)
    if h != w:
        raise ConfigError(f"input {c},{h},{w}: the zoo's models are built for square inputs; give H = W")
    get_spec(name).resolve(settings)  # unknown model or bad setting: say so first
    settings.setdefault("in_channels", c)
    settings.setdefault("input_size", h)
    return settings


def export_file(name: str, fmt: str, settings: dict[str, Any] | None = None,
                input_shape: Sequence[int] | None = None) -> bytes:
    """Zoo model ``name`` with ``settings`` as a file of format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    settings = with_input(name, settings, input_shape)
    if fmt == "py":
        return zoo_source(name, settings).encode()
    if fmt == "onnx":
        try:
            return onnx_bytes(name, settings)
        except RuntimeError as exc:  # the exporter's own failure: one clear line, not a traceback
            raise ConfigError(str(exc)) from None
    report = summarize(name, **settings)
    if fmt == "csv":
        return report_csv(report).encode()
    return report_json(report, get_spec(name).resolve(settings)).encode()


__all__ = ["FORMATS", "MAX_ONNX_PARAMS", "changed_settings", "export_file", "module_source", "onnx_bytes",
           "pytorch_code", "report_csv", "report_json", "torchvision_twin", "with_input", "zoo_source"]
