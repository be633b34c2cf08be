"""What differs between two analysed networks, matched the way their structures allow.

Two configurations of one family (plain50 and resnet50, resnet18 at two widths) share module names: their layers
are matched by name and type, and the comparison says which groups only one of them runs and how the layers both
run changed. Unrelated networks (AlexNet and VGG-16) may reuse names such as ``features.2`` for different layers, so
matching them by name or position would set a pooling layer against a convolution; they are compared by layer
kind instead (convolutions, fully connected, normalisation, pooling, ...). Either way a layer without weights is
never reported with parameters.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from cnnviz.analysis.depth import is_weight_layer
from cnnviz.analysis.report import LayerRow, Report

SAME_STRUCTURE = 0.5  # share of layers matched by name and type above which two networks are compared layer by layer

# (kind, words in a layer type's name, lower case); the first that matches wins, "other" takes the rest
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("convolution", ("conv",)),
    ("fully connected", ("linear",)),
    ("normalisation", ("norm",)),
    ("pooling", ("pool",)),
    ("activation", ("relu", "sigmoid", "tanh", "gelu", "silu", "hardswish", "hardsigmoid", "softmax", "elu",
                    "mish")),
    ("merge", ()),  # the functional adds and concatenations, named exactly in MERGES
    ("reshape and dropout", ("flatten", "dropout", "view", "reshape", "identity", "shuffle", "transpose",
                             "permute")),
)
KIND_ORDER = tuple(kind for kind, _ in KINDS) + ("other",)
MERGES = frozenset({"add", "sub", "mul", "cat", "stack"})
# Layer groups whose role has a name in the course.
GLOSSARY = {
    "downsample": "the projection shortcuts",
    "add": "the skip connections' additions",
    "aux": "the auxiliary classifiers",
    "auxlogits": "the auxiliary classifier",
    "lrn": "local response normalisation",
    "bn": "batch norm",
    "norm": "batch norm",
}


def layer_kind(row: LayerRow) -> str:
    """``Conv2d`` -> ``convolution``, ``MaxPool2d`` -> ``pooling``, ``add`` -> ``merge``, ..., else ``other``."""
    if is_weight_layer(row):
        return "convolution" if row.type.lower().startswith("conv") else "fully connected"
    kind = row.type.lower()
    if kind in MERGES:
        return "merge"
    for name, marks in KINDS[2:]:
        if any(mark in kind for mark in marks):
            return name
    return "other"


@dataclass(frozen=True)
class KindTotals:
    """The layers of one kind a network runs: how many, their parameters and MACs (None: some unknown)."""

    kind: str
    layers: int
    params: int
    macs: int | None


def by_kind(report: Report) -> dict[str, KindTotals]:
    """Totals per layer kind, in the order of :data:`KIND_ORDER` (kinds the network does not run are left out)."""
    rows: dict[str, list[LayerRow]] = defaultdict(list)
    for r in report.layers:
        rows[layer_kind(r)].append(r)
    return {k: KindTotals(k, len(rows[k]), sum(r.params for r in rows[k]),
                          None if any(r.macs is None for r in rows[k]) else sum(r.macs or 0 for r in rows[k]))
            for k in KIND_ORDER if rows[k]}


def matched_pairs(a: Report, b: Report) -> list[tuple[LayerRow, LayerRow]]:
    """The layers both run: same name and same type."""
    rows_b = {r.name: r for r in b.layers}
    return [(r, rows_b[r.name]) for r in a.layers if r.name in rows_b and rows_b[r.name].type == r.type]


def shared_structure(a: Report, b: Report) -> float:
    """Share of layers matched by name and type (1.0: the same architecture)."""
    return len(matched_pairs(a, b)) / max(len(a.layers), len(b.layers), 1)


def _group_key(name: str) -> str:
    """``layer1.0.downsample.0`` -> ``downsample``; ``features.12`` -> ``features``; ``layer2.1.add:3`` -> ``add``."""
    parts = [p for p in name.split(":")[0].split(".") if not p.isdigit()]
    return parts[-1] if parts else name


@dataclass(frozen=True)
class Group:
    """Layers only one network runs, grouped by their module's role (``downsample``: the projection shortcuts)."""

    key: str
    role: str
    rows: tuple[LayerRow, ...]

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def macs(self) -> int:
        return sum(r.macs or 0 for r in self.rows)


def only_in(a: Report, b: Report) -> list[Group]:
    """The layer groups that ``a`` runs and ``b`` does not (matched by name and type), biggest first."""
    matched = {r.name for r, _ in matched_pairs(a, b)}
    groups: dict[str, list[LayerRow]] = defaultdict(list)
    for r in a.layers:
        if r.name not in matched:
            groups[_group_key(r.name)].append(r)
    ranked = sorted(groups.items(), key=lambda kv: (-sum(r.params for r in kv[1]), -len(kv[1])))
    return [Group(key, GLOSSARY.get(key.lower().rstrip("0123456789_"), ""), tuple(rows)) for key, rows in ranked]


def resized(a: Report, b: Report) -> dict[str, int]:
    """Parameter change (``a`` minus ``b``) of the layers both run, by layer type, biggest change first.

    Only matched layers of the same type are set against each other, so a type without weights never appears.
    """
    delta: dict[str, int] = defaultdict(int)
    for ra, rb in matched_pairs(a, b):
        if ra.params != rb.params:
            delta[ra.type] += ra.params - rb.params
    return dict(sorted(((t, d) for t, d in delta.items() if d), key=lambda kv: -abs(kv[1])))


@dataclass(frozen=True)
class KindChange:
    """One layer kind in two networks (``None``: that network runs no layer of the kind)."""

    kind: str
    ref: KindTotals | None
    other: KindTotals | None

    @property
    def params_delta(self) -> int:
        return (self.other.params if self.other else 0) - (self.ref.params if self.ref else 0)


def kind_changes(ref: Report, other: Report) -> list[KindChange]:
    """Both networks' totals per layer kind, in the order of :data:`KIND_ORDER`."""
    a, b = by_kind(ref), by_kind(other)
    return [KindChange(k, a.get(k), b.get(k)) for k in KIND_ORDER if k in a or k in b]


def same_structure(a: Report, b: Report) -> bool:
    """Whether two networks share enough layers (by name and type) to be compared layer by layer."""
    return shared_structure(a, b) >= SAME_STRUCTURE


__all__ = ["KIND_ORDER", "Group", "KindChange", "KindTotals", "by_kind", "kind_changes", "layer_kind", "matched_pairs", "only_in",
           "resized", "same_structure", "shared_structure"]
