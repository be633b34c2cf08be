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


def longest_path(rows: Sequence[_Row]) -> list[str]:
    """Names of the weight layers on the longest input-to-output path, in order.

    ``rows`` are in execution order and each names its producers in ``inputs`` (``"input"`` for the network's
    input), so one pass finds, for every row, the path with the most weight layers that ends there.
    """
    counts: dict[str, int] = {}  # row -> weight layers on the longest path that ends there
    ends: dict[str, str | None] = {}  # row -> last weight layer on its longest path
    trail: dict[str, str | None] = {}  # weight layer -> the weight layer before it on that path
    for row in rows:
        before = max(row.inputs, key=lambda name: counts.get(name, 0), default=None)
        count, last = (counts.get(before, 0), ends.get(before)) if before else (0, None)
        if is_weight_layer(row):
            trail[row.name] = last
            count, last = count + 1, row.name
        counts[row.name], ends[row.name] = count, last
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
