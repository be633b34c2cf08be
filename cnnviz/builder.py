"""The network builder's numbers: one row per layer of a network text, and the totals.

:func:`describe` answers a text and an input shape with every layer's output shape,
parameters (with the formula worked out), MACs, activation memory, receptive field and
jump, or the message of the first impossible layer at its row. Shapes and parameters come
from the shape walk on the specs (:func:`cnnviz.zoo.custom.walk`); MACs, memory and
receptive fields from cnnviz's own analysis of the network built on the meta device, so
the counting conventions are the analysis's. Answers are cached by (text, input shape):
an unchanged network is never parsed, built or analysed twice, and an edit rebuilds only the
layers it changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import torch

from cnnviz.analysis import LayerRow, Report, analyze
from cnnviz.zoo.custom import BuilderError, LayerSpec, Step, build_network, expand, format_network, parse, walk


@dataclass(frozen=True)
class RowInfo:
    """One layer of the expanded network (every ``N*( ... )`` written out).

    ``top_index`` is the layer's entry in the list :func:`~cnnviz.zoo.custom.parse` returns
    (a repetition is one entry). Shapes are (C, H, W) or (N,). ``macs``, ``activation_bytes``,
    ``rf`` and ``jump`` are ``None`` when the network cannot be built (a later layer is
    impossible); ``error`` is the message of the impossible layer at its row.
    """

    index: int
    top_index: int
    spec: LayerSpec
    text: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...] | None
    params: int | None
    formula: str
    note: str
    macs: int | None = None
    activation_bytes: int | None = None
    rf: Any = None
    jump: Any = None
    modules: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Description:
    """A network's rows and totals; ``error`` is the first problem (then ``report`` is ``None``)."""

    text: str
    input_shape: tuple[int, int, int]
    layers: tuple[LayerSpec, ...]
    rows: tuple[RowInfo, ...]
    error: BuilderError | None
    report: Report | None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.rows)

    @property
    def params(self) -> int:
        return sum(r.params or 0 for r in self.rows)

    @property
    def macs(self) -> int | None:
        return self.report.totals.macs if self.report is not None else None

    @property
    def activation_bytes(self) -> int | None:
        return self.report.totals.activation_bytes if self.report is not None else None

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        return self.rows[-1].output_shape if self.ok else None


def _by_module(report: Report) -> dict[str, list[LayerRow]]:
    """The analysis rows under each child of ``features``/``head`` (a block's convs, its add)."""
    out: dict[str, list[LayerRow]] = {}
    for r in report.layers:
        out.setdefault(".".join(r.name.split(".")[:2]), []).append(r)
    return out


def _row(step: Step, groups: dict[str, list[LayerRow]] | None, modules: tuple[str, ...]) -> RowInfo:
    base = dict(index=step.index, top_index=step.top_index, spec=step.spec, text=step.spec.text,
                input_shape=step.input_shape, output_shape=step.output_shape, params=step.params,
                formula=step.formula, note=step.note, modules=modules)
    if groups is None:
        return RowInfo(**base)
    mine = [r for m in modules for r in groups.get(m, ())]
    macs = None if any(r.macs is None for r in mine) else sum(r.macs or 0 for r in mine)
    last = mine[-1] if mine else None
    return RowInfo(**base, macs=macs, activation_bytes=sum(r.activation_bytes for r in mine),
                   rf=last.rf if last else None, jump=last.jump if last else None)


# Meta-device layers of earlier answers, by (index, spec, input shape): an edit rebuilds only the
# layers it changed. Sharing them between models is safe: nothing trains on the meta device and
# the analysis traces one model at a time.
_META_MODULES: dict[Any, torch.nn.Module] = {}
_MAX_META_MODULES = 20_000


@lru_cache(maxsize=64)
def _describe(text: str, input_shape: tuple[int, int, int]) -> Description:
    try:
        layers = parse(text)
    except BuilderError as exc:
        return Description(text, input_shape, (), (), exc, None)
    steps, error = walk(layers, input_shape, text=text, stop_at_error=True)
    report = None
    modules: list[tuple[str, ...]] = [()] * len(steps)
    if error is None and steps:
        if len(_META_MODULES) > _MAX_META_MODULES:
            _META_MODULES.clear()
        with torch.device("meta"):
            model = build_network(layers, input_shape, reuse=_META_MODULES)
        report = analyze(model, input_shape, name="custom")
        modules = model.rows
    groups = _by_module(report) if report is not None else None
    rows = [_row(s, groups, m) for s, m in zip(steps, modules)]
    if error is not None:
        rows.append(_failed_row(layers, error, steps, input_shape))
    return Description(text, input_shape, tuple(layers), tuple(rows), error, report)


def _failed_row(layers: Sequence[LayerSpec], error: BuilderError, steps: list[Step],
                    input_shape: tuple[int, int, int]) -> RowInfo:
    """The row of the impossible layer: its input shape and the message, no output."""
    top, spec = expand(layers)[error.layer_index or 0]
    shape = steps[-1].output_shape if steps else input_shape
    return RowInfo(index=len(steps), top_index=top, spec=spec, text=spec.text, input_shape=shape,
                   output_shape=None, params=None, formula="", note="", error=str(error))


def describe(layers: str | Sequence[LayerSpec], input_size: Sequence[int]) -> Description:
    """Rows and totals of a network (a text, or specs) on an input of ``input_size`` = (C, H, W).

    Never raises for a bad network: the problem is in ``error`` (and at its row). Cached.
    """
    text = layers if isinstance(layers, str) else format_network(layers)
    shape = tuple(int(v) for v in input_size)
    if len(shape) != 3 or any(v < 1 for v in shape):
        raise BuilderError(f"the input is channels, height, width, each at least 1; got {shape}")
    return _describe(text, shape)  # type: ignore[arg-type]
