"""Activations of any layer by name (forward hooks, eval mode), channel statistics, predictions.

Layer names are the analysis report's: a module's dotted name, with ``:k`` for its k-th
call when a module runs more than once (``layer1.0.relu:2``); a functional op that ends
a module (the ``cat`` of an Inception block) is reached through that module's output.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from cnnviz import guard
from cnnviz.errors import ConfigError
from cnnviz.analysis.report import Report


@dataclass(frozen=True)
class LayerRef:
    """Where to hook: module ``module`` on its ``call``-th call (1-based)."""

    name: str
    module: str
    call: int


def resolve(model: nn.Module, report: Report, name: str) -> LayerRef:
    """The hook target of report row ``name``; ConfigError if the row has no module output."""
    modules = dict(model.named_modules())
    try:
        row = report.row(name)
    except KeyError:
        raise ConfigError(f"{report.model} has no layer {name!r}") from None
    base, _, k = name.partition(":")
    if base in modules and base == row.module:
        return LayerRef(name, base, int(k) if k else 1)
    inside = [r for r in report.layers if r.module == row.module or r.module.startswith(row.module + ".")]
    if row.module in modules and row.module and inside and inside[-1].name == name:
        return LayerRef(name, row.module, 1)
    raise ConfigError(f"layer {name!r} is a {row.type} inside {row.module or 'the model'}'s forward; "
                      f"its output has no hook. Pick the layer after it.")


def spatial_layers(model: nn.Module, report: Report) -> list[str]:
    """Names of the layers with a (C, H, W) output that can be hooked, in execution order."""
    out = []
    for row in report.layers:
        if not row.spatial:
            continue
        try:
            resolve(model, report, row.name)
        except ConfigError:
            continue
        out.append(row.name)
    return out


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no in-place activations for the block; both restored afterwards.

    In-place ReLUs would overwrite a captured conv output and break gradients to it.
    """
    was_training = model.training
    flipped = [m for m in model.modules() if getattr(m, "inplace", False) is True]
    for m in flipped:
        m.inplace = False
    model.eval()
    try:
        yield model
    finally:
        for m in flipped:
            m.inplace = True
        model.train(was_training)


class _Stop(Exception):
    """Raised by a hook to end the forward pass once every wanted output is captured."""


@contextlib.contextmanager
def hooked(model: nn.Module, refs: Sequence[LayerRef], keep_graph: bool = False,
           stop: bool = True) -> Iterator[dict[str, torch.Tensor]]:
    """Capture the outputs of ``refs`` into the yielded dict during forward passes in the block.

    With ``stop`` the forward pass ends (``_Stop``) once all are captured; call the model
    through :func:`run_until`. ``keep_graph`` keeps the outputs attached for gradients.
    """
    captured: dict[str, torch.Tensor] = {}
    calls: dict[str, int] = {}
    by_module: dict[str, list[LayerRef]] = {}
    for ref in refs:
        by_module.setdefault(ref.module, []).append(ref)
    modules = dict(model.named_modules())

    def make_hook(module_name: str):
        def hook(_m: nn.Module, _inp: tuple, output: torch.Tensor) -> None:
            calls[module_name] = calls.get(module_name, 0) + 1
            for ref in by_module[module_name]:
                if ref.call == calls[module_name]:
                    captured[ref.name] = output if keep_graph else output.detach().clone()
            if stop and len(captured) == len(refs):
                raise _Stop

        return hook

    handles = [modules[name].register_forward_hook(make_hook(name)) for name in by_module]
    try:
        yield captured
    finally:
        for h in handles:
            h.remove()


def run_until(model: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """``model(x)``; ``None`` when a :func:`hooked` hook stopped it early."""
    try:
        return model(x)
    except _Stop:
        return None


def check_budget(report: Report, backward: bool = False) -> None:
    """Refuse (ConfigError) before allocating when one image would exceed the server's budget.

    A backward pass keeps a gradient beside every activation: counted as a batch of two.
    """
    guard.check(report, "inference", batch_size=2 if backward else 1)


def activations(model: nn.Module, x: torch.Tensor, report: Report, names: Sequence[str]
                ) -> dict[str, torch.Tensor]:
    """Outputs of layers ``names`` for input batch ``x`` (eval mode, no gradients, stops after the last)."""
    refs = [resolve(model, report, n) for n in names]
    check_budget(report)
    with evaluating(model), torch.no_grad(), hooked(model, refs) as captured:
        run_until(model, x)
    missing = [n for n in names if n not in captured]
    if missing:
        raise ConfigError(f"layer {missing[0]!r} did not run for this input")
    return dict(captured)


def channel_stats(act: torch.Tensor, sort: str = "index") -> list[dict[str, float]]:
    """Per-channel mean, std, min, max and share of positive units of one (C, H, W) map.

    ``sort``: ``index``, ``mean`` (largest first), ``-mean`` (smallest first) or ``max``.
    """
    a = act.detach().float().flatten(1)
    means, stds = a.mean(1), a.std(1, unbiased=False)
    mins, maxs = a.min(1).values, a.max(1).values
    active = (a > 0).float().mean(1)
    rows = [{"channel": i, "mean": float(means[i]), "std": float(stds[i]), "min": float(mins[i]),
             "max": float(maxs[i]), "active": float(active[i])} for i in range(a.shape[0])]
    keys = {"index": lambda r: r["channel"], "mean": lambda r: -r["mean"], "-mean": lambda r: r["mean"],
            "max": lambda r: -r["max"]}
    if sort not in keys:
        raise ConfigError(f"sort by {sort!r}: choose one of {', '.join(keys)}")
    return sorted(rows, key=keys[sort])


def mosaic(maps: np.ndarray, columns: int, max_side: int = 0, gap: int = 1) -> tuple[np.ndarray, int, int]:
    """Tile (N, H, W) maps into one array with NaN gaps; returns it and the tile height and width.

    ``max_side`` > 0 average-pools each map by an integer factor so its longer side is at most that.
    """
    n, h, w = maps.shape
    factor = max(1, -(-max(h, w) // max_side)) if max_side else 1
    if factor > 1:
        t = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))[:, None]
        maps = torch.nn.functional.avg_pool2d(t, factor, ceil_mode=True)[:, 0].numpy()
        n, h, w = maps.shape
    rows = -(-n // columns)
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, columns)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = maps[i]
    return out, h, w


def predict(model: nn.Module, x: torch.Tensor, labels: Sequence[str] | None = None, k: int = 5
            ) -> list[tuple[int, str, float]]:
    """Top-``k`` classes of ``model(x)`` for one image: (index, label, probability)."""
    with evaluating(model), torch.no_grad():
        logits = model(x)
    if logits.dim() != 2:
        raise ConfigError(f"the model's output has shape {tuple(logits.shape)}, not (1, classes)")
    probs = torch.softmax(logits[0].float(), 0)
    top = torch.topk(probs, min(k, probs.numel()))
    return [(int(i), labels[int(i)] if labels and int(i) < len(labels) else str(int(i)), float(p))
            for p, i in zip(top.values, top.indices)]
