"""Depth as the papers count it: the layers with weights on the longest input-to-output path.

ResNet-50 is "50 layers" although it runs 54 convolutions and fully connected layers: its four projection
shortcuts run beside the blocks they bypass, so no path goes through both. GoogLeNet is "22 layers deep" although
it runs 57 convolutions and one fully connected layer (the course notes: "21 (depth), 57 (total)" convolutions):
an inception module's branches run side by side. Batch norm, pooling, activations and additions have no weights
to learn in the papers' sense and add nothing.
"""
from __future__ import annotations

from typing import Protocol, Sequence


class _Row(Protocol):
    name: str
    type: str
    inputs: tuple[str, ...]


def is_weight_layer(row: _Row) -> bool:
    """Convolutions (``Conv2d``, ``ConvTranspose2d``, functional ``conv2d``, ...) and fully connected layers."""
    kind = row.type.lower()
    return kind.startswith("conv") or kind == "linear"


def _walk(rows: Sequence[_Row]) -> tuple[dict[str, int], dict[str, str | None], dict[str, str | None]]:
    """For every row: the weight layers on the longest path that ends there, the last of them, and for every
    weight layer the one before it on that path.

    ``rows`` are in execution order and each names its producers in ``inputs`` (``"input"`` for the network's
    input), so one pass finds them all.
    """
    counts: dict[str, int] = {}
    ends: dict[str, str | None] = {}
    trail: dict[str, str | None] = {}
    for row in rows:
        before = max(row.inputs, key=lambda name: counts.get(name, 0), default=None)
        count, last = (counts.get(before, 0), ends.get(before)) if before else (0, None)
        if is_weight_layer(row):
            trail[row.name] = last
            count, last = count + 1, row.name
        counts[row.name], ends[row.name] = count, last
    return counts, ends, trail


def depths(rows: Sequence[_Row]) -> dict[str, int]:
    """Each row's depth: the weight layers on the longest path from the input to its output."""
    return _walk(rows)[0]


def longest_path(rows: Sequence[_Row]) -> list[str]:
    """Names of the weight layers on the longest input-to-output path, in order."""
    counts, ends, trail = _walk(rows)
    if not counts:
        return []
    tip = ends[max(counts, key=counts.__getitem__)]
    path = []
    while tip is not None:
        path.append(tip)
        tip = trail[tip]
    return path[::-1]


def depth(rows: Sequence[_Row]) -> int:
    """The papers' depth: how many weight layers the longest input-to-output path crosses."""
    return len(longest_path(rows))
