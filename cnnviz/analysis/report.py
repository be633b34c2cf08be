"""The analysis report: a structured object first, text / JSON / CSV renderings second."""
from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cnnviz.analysis import receptive_field as rfm
from cnnviz.analysis.counting import format_shape
from cnnviz.analysis.depth import is_weight_layer
from cnnviz.analysis.graph import Block, Node

SHAPE_ORDER = "C x H x W (PyTorch's order, batch left out); the app writes shapes H x W x C"
OPTIMIZER_STATES = {"sgd": 0, "sgd_momentum": 1, "adam": 2, "adamw": 2, "rmsprop": 1}


def human_count(n: float | None, unit: str = "") -> str:
    """``138357544`` -> ``138.36M``; ``None`` -> ``n/a``."""
    if n is None:
        return "n/a"
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.2f}{suffix}{unit}"
    return f"{plain_number(n)}{unit}"


def significant(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits without scientific notation: ``1234.5`` -> ``1235``, ``1e-05`` ->
    ``0.00001``, ``0.12345`` -> ``0.123`` (what ``:.3g`` gives, except that it never writes ``1.23e+03``)."""
    if not math.isfinite(x) or x == 0:
        return str(x) if x else "0"
    return plain_number(x, max(digits - 1 - math.floor(math.log10(abs(x))), 0))


def plain_number(x: float, decimals: int = 3) -> str:
    """A number without scientific notation: ``1000.0`` -> ``1000``, ``141.7142857`` -> ``141.714``."""
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.{decimals}f}".rstrip("0").rstrip(".")


def human_bytes(n: float | None) -> str:
    """Bytes in binary units: ``96 * 2**20`` -> ``96.00 MiB``."""
    if n is None:
        return "n/a"
    for div, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= div:
            return f"{n / div:.2f} {suffix}"
    return f"{int(n)} B"


def _axis_value(h: float, w: float) -> Any:
    h = int(h) if float(h).is_integer() else round(h, 3)
    w = int(w) if float(w).is_integer() else round(w, 3)
    return h if h == w else [h, w]


@dataclass(frozen=True)
class LayerRow:
    """One executed layer (or functional op) in execution order."""

    index: int
    name: str
    type: str
    module: str
    depth: int
    inputs: tuple[str, ...]
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    params: int
    trainable_params: int
    macs: int | None
    flops: int | None
    extra_flops: int | None
    activation_bytes: int
    activation_values: int  # the course's count: 224 x 224 x 64 = 3.2M values (bytes = values x bytes per value)
    rf_field: rfm.RF
    kernel: tuple[int, int] | None
    stride: tuple[float, float] | None
    note: str

    @property
    def frozen_params(self) -> int:
        return self.params - self.trainable_params

    @property
    def spatial(self) -> bool:
        return len(self.output_shape) == 3

    @property
    def rf(self) -> Any:
        """Receptive field size (int when square, [h, w] otherwise), ``"global"`` or ``None`` (unknown)."""
        f = self.rf_field
        if f.is_unknown:
            return None
        if f.is_global:
            return "global"
        return _axis_value(f.h.size, f.w.size)

    @property
    def jump(self) -> Any:
        f = self.rf_field
        if f.h is None or f.w is None:
            return None
        return _axis_value(f.h.jump, f.w.jump)

    @property
    def start(self) -> Any:
        f = self.rf_field
        if f.h is None or f.w is None:
            return None
        return _axis_value(f.h.start, f.w.start)

    def unit_region(self, y: int, x: int) -> tuple[float, float, float, float]:
        """Input box (top, left, bottom, right), inclusive, seen by unit (y, x) of this layer's output."""
        return self.rf_field.region(y, x)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "name": self.name, "type": self.type, "module": self.module, "depth": self.depth,
            "inputs": list(self.inputs), "output_shape": list(self.output_shape), "params": self.params,
            "trainable_params": self.trainable_params, "frozen_params": self.frozen_params, "macs": self.macs,
            "flops": self.flops, "extra_flops": self.extra_flops, "activation_bytes": self.activation_bytes,
            "activation_values": self.activation_values, "rf": self.rf, "jump": self.jump, "start": self.start,
            "kernel": list(self.kernel) if self.kernel else None,
            "stride": list(self.stride) if self.stride else None, "note": self.note,
        }


@dataclass(frozen=True)
class Totals:
    params: int
    trainable_params: int
    macs: int
    flops: int
    extra_flops: int
    param_bytes: int
    buffer_bytes: int
    activation_bytes: int
    input_bytes: int
    params_not_run: int
    unknown_layers: tuple[str, ...]
    activation_values: int
    depth: int  # the papers' depth: weight layers on the longest input-to-output path (see analysis.depth)

    @property
    def frozen_params(self) -> int:
        return self.params - self.trainable_params

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params, "trainable_params": self.trainable_params, "frozen_params": self.frozen_params,
            "macs": self.macs, "flops": self.flops, "extra_flops": self.extra_flops,
            "param_bytes": self.param_bytes, "buffer_bytes": self.buffer_bytes,
            "activation_bytes": self.activation_bytes, "activation_values": self.activation_values,
            "input_bytes": self.input_bytes, "depth": self.depth, "params_not_run": self.params_not_run,
            "macs_complete": not self.unknown_layers, "unknown_layers": list(self.unknown_layers),
        }


@dataclass
class Report:
    """Everything :func:`cnnviz.analyze` finds, per layer and in total."""

    model: str
    input_shape: tuple[int, ...]
    layers: list[LayerRow]
    totals: Totals
    blocks: list[Block] = field(default_factory=list)
    include_extra: bool = False
    description: str = ""

    # -- derived -----------------------------------------------------------
    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.layers[-1].output_shape if self.layers else self.input_shape

    def final_feature_layer(self) -> LayerRow | None:
        """The last layer whose output still has a spatial extent above 1x1."""
        for row in reversed(self.layers):
            if row.spatial and row.output_shape[1] * row.output_shape[2] > 1 and not row.rf_field.is_unknown:
                return row
        return None

    @property
    def receptive_field(self) -> dict[str, Any]:
        row = self.final_feature_layer()
        if row is None:
            return {"size": None, "jump": None, "start": None, "layer": None}
        return {"size": row.rf, "jump": row.jump, "start": row.start, "layer": row.name}

    def jump_note(self) -> str:
        """Why the receptive field's jump is not a whole number ("" when it is): the layers with a fractional stride."""
        last = self.final_feature_layer()
        jump = self.receptive_field["jump"]
        jumps = jump if isinstance(jump, list) else [jump]
        if last is None or any(j is None for j in jumps) or all(float(j).is_integer() for j in jumps):
            return ""  # no feature layer, an unknown or global field (attention, SE), or a whole jump
        causes = []
        for r in self.layers:
            if r.index > last.index or not r.stride or all(float(s).is_integer() for s in r.stride):
                continue
            shapes = (r.input_shapes[0] if r.input_shapes else (), r.output_shape)
            if all(len(s) == 3 for s in shapes):
                (_, hi, wi), (_, ho, wo) = shapes
                how = ", an adaptive pool, spreads" if "adaptive" in r.type.lower() else " maps"
                causes.append(f"{r.name} ({r.type}){how} {hi}x{wi} over {ho}x{wo} outputs, a stride of "
                              + " x ".join(f"{i}/{o}" for i, o in sorted({(hi, ho), (wi, wo)}, reverse=True))
                              + " on average")
            else:
                causes.append(f"{r.name} ({r.type}) has a stride of {' x '.join(map(plain_number, r.stride))}")
        return "not a whole number: " + "; ".join(causes) if causes else ""

    def row(self, name: str) -> LayerRow:
        for r in self.layers:
            if r.name == name:
                return r
        raise KeyError(name)

    def weighted_layers(self) -> int:
        """Every layer with weights that runs, parallel branches included (GoogLeNet 58); depth is ``totals.depth``."""
        return sum(1 for r in self.layers if is_weight_layer(r))

    def training_memory(self, batch_size: int = 32, optimizer: str = "adam") -> dict[str, int]:
        """Estimated memory to train with ``batch_size`` and ``optimizer``.

        weights + gradients (one per trainable weight) + optimizer state (SGD 0, SGD with
        momentum 1, Adam 2 copies of the trainable weights) + the activations kept for the
        backward pass (every layer output and the input, for each image of the batch).
        Workspace of the convolution algorithms and the framework's overhead are not included.
        """
        if optimizer not in OPTIMIZER_STATES:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZER_STATES)}")
        t = self.totals
        bytes_per = t.param_bytes // t.params if t.params else 4
        grads = t.trainable_params * bytes_per
        parts = {
            "weights": t.param_bytes + t.buffer_bytes,
            "gradients": grads,
            "optimizer_state": OPTIMIZER_STATES[optimizer] * grads,
            "activations": batch_size * (t.activation_bytes + t.input_bytes),
        }
        parts["total"] = sum(parts.values())
        return parts

    def collapsed(self, depth: int = 1) -> list[dict[str, Any]]:
        """Rows with every block at ``depth`` folded into one (a ResNet stage -> one row with its repeats)."""
        blocks = [b for b in self.blocks if b.depth == depth]
        out: list[dict[str, Any]] = []
        i = 0
        while i < len(self.layers):
            block = next((b for b in blocks if b.first <= i <= b.last), None)
            if block is None:
                out.append({**self.layers[i].to_dict(), "repeat": 1, "rows": 1, "block": False})
                i += 1
                continue
            rows = self.layers[block.first:block.last + 1]
            children = Counter(b.type for b in self.blocks
                               if b.depth == depth + 1 and block.first <= b.first and b.last <= block.last)
            kind = ", ".join(f"{n} x {t}" for t, n in children.items()) or block.type
            last = rows[-1]
            macs = None if any(r.macs is None for r in rows) else sum(r.macs for r in rows)  # type: ignore[misc]
            out.append({
                "name": block.name, "type": kind, "repeat": sum(children.values()) or 1, "rows": len(rows),
                "block": True, "output_shape": list(last.output_shape), "params": sum(r.params for r in rows),
                "trainable_params": sum(r.trainable_params for r in rows), "macs": macs,
                "flops": None if macs is None else sum(r.flops or 0 for r in rows),
                "activation_bytes": sum(r.activation_bytes for r in rows),
                "activation_values": sum(r.activation_values for r in rows), "rf": last.rf, "jump": last.jump,
            })
            i = block.last + 1
        return out

    # -- renderings ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        rf = self.receptive_field
        return {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "shape_order": SHAPE_ORDER,
            "conventions": "MACs = multiply-accumulates of conv, linear and matrix-product (attention) layers "
                           "(bias excluded); "
                           "FLOPs = 2 x MACs" + (" + extra_flops (elementwise work)" if self.include_extra else
                                                 "; extra_flops (bias, BN, activations, pooling, adds) listed apart"),
            "totals": self.totals.to_dict(),
            "receptive_field": {"size": rf["size"], "jump": rf["jump"], "start": rf["start"], "layer": rf["layer"]},
            "layers": [r.to_dict() for r in self.layers],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_csv(self) -> str:
        buf = io.StringIO()
        cols = ["index", "name", "type", "output_shape_chw", "params", "trainable_params", "macs", "flops",
                "extra_flops", "activation_values", "activation_bytes", "rf", "jump", "start", "note"]
        writer = csv.writer(buf)
        writer.writerow(cols)
        for r in self.layers:
            d = r.to_dict()
            d["output_shape_chw"] = "x".join(map(str, r.output_shape))
            for key in ("rf", "jump", "start"):
                if isinstance(d[key], list):
                    d[key] = "x".join(map(str, d[key]))
            writer.writerow(["" if d[c] is None else d[c] for c in cols])
        return buf.getvalue()

    def to_text(self, max_depth: int | None = None) -> str:
        head = (f"{'layer':<36} {'type':<18} {'output (CxHxW)':<18} {'params':>11} {'MACs':>10} {'act. values':>11} "
                f"{'act. mem':>11} {'RF':>9} {'jump':>5}")
        lines = [f"{self.model}  input {format_shape(self.input_shape)} (C x H x W)", head, "-" * len(head)]
        for r in self.layers:
            if max_depth is not None and r.depth > max_depth:
                continue
            rf = r.rf
            rf_text = "n/a" if rf is None else (rf if isinstance(rf, str) else
                                                ("x".join(map(str, rf)) if isinstance(rf, list) else str(rf)))
            jump = r.jump
            jump_text = "" if jump is None else ("x".join(map(str, jump)) if isinstance(jump, list) else str(jump))
            lines.append(f"{r.name[:36]:<36} {r.type[:18]:<18} {format_shape(r.output_shape)[:18]:<18} "
                         f"{r.params:>11,} {human_count(r.macs):>10} {human_count(r.activation_values):>11} "
                         f"{human_bytes(r.activation_bytes):>11} "
                         f"{rf_text:>9} {jump_text:>5}")
        t = self.totals
        rf = self.receptive_field
        lines += [
            "-" * len(head),
            f"parameters: {t.params:,} ({t.trainable_params:,} trainable, {t.frozen_params:,} frozen)"
            + (f"; {t.params_not_run:,} in layers not run at inference" if t.params_not_run else ""),
            f"MACs: {t.macs:,} ({human_count(t.macs)})   FLOPs: {t.flops:,} ({human_count(t.flops)})   "
            f"extra elementwise FLOPs: {human_count(t.extra_flops)}",
            f"depth: {t.depth} layers with weights on the longest input-to-output path "
            f"({self.weighted_layers()} weight layers run in all, parallel branches included)",
            f"parameter memory: {human_bytes(t.param_bytes)}   activation memory per image: "
            f"{human_count(t.activation_values)} values = {human_bytes(t.activation_bytes)} "
            f"(+ input {human_bytes(t.input_bytes)})",
            f"receptive field (at {rf['layer']}): {rf['size']} px, jump {rf['jump']}"
            + (f" ({note})" if (note := self.jump_note()) else ""),
            "MACs = multiply-accumulates of conv, linear and matrix-product (attention) layers; FLOPs = 2 x MACs.",
        ]
        if t.unknown_layers:
            lines.append(f"MACs unknown for: {', '.join(t.unknown_layers)} (no counting rule)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def make_rows(nodes: list[Node], include_extra: bool, value_bytes: int = 4) -> list[LayerRow]:
    """LayerRows from the traced graph's nodes (``value_bytes``: bytes of one activation value)."""
    names = {n.index: n.name for n in nodes}
    rows = []
    for n in nodes:
        flops = None
        if n.macs is not None:
            flops = 2 * n.macs
            if include_extra:
                flops = None if n.extra_flops is None else flops + n.extra_flops
        rows.append(LayerRow(
            index=n.index, name=n.name, type=n.type, module=n.module_name, depth=n.depth,
            inputs=tuple(names.get(i, "input") for i in n.inputs), input_shapes=tuple(n.input_shapes),
            output_shape=tuple(n.out_shape), params=n.params, trainable_params=n.trainable_params, macs=n.macs,
            flops=flops, extra_flops=n.extra_flops, activation_bytes=n.activation_bytes,
            activation_values=n.activation_bytes // value_bytes, rf_field=n.rf,
            kernel=n.kernel, stride=n.stride, note=n.note))
    return rows
