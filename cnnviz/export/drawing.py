"""The network as a layer graph for slides: boxes for the layers that matter, arrows for the data, arcs for the
skip connections and branches; written as SVG, PNG or PDF.

Built from the analysis graph (each :class:`~cnnviz.analysis.report.LayerRow` names its inputs), so a ResNet's
shortcut, an Inception module's branches and a DenseNet's concatenations are drawn where they are in the model.
matplotlib writes the three formats natively, offline, with no browser: that is why it draws these files, while the
pages' interactive charts stay plotly.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Sequence

from cnnviz.analysis import Report
from cnnviz.errors import ConfigError

FORMATS = ("svg", "png", "pdf")
ORIENTATIONS = ("horizontal", "vertical")
MERGES = frozenset({"add", "add_", "iadd", "__add__", "__iadd__", "cat", "concat", "stack", "mul", "__mul__",
                    "matmul", "sub"})
RESIDUAL = frozenset({"add", "add_", "iadd", "__add__", "__iadd__"})
COLORS = {"input": "#9e9e9e", "conv": "#4c78a8", "pool": "#f58518", "merge": "#72b7b2", "fc": "#54a24b",
          "other": "#b279a2"}
MAX_PIXELS = 30_000  # the longer side of a PNG: DenseNet-201 at 3x would pass matplotlib's limit of 2**16
STEP, LANE, BOX_W, BOX_H = 1.6, 1.0, 1.3, 0.7  # grid and box size in inches (a box holds two lines of text)


@dataclass(frozen=True)
class Box:
    """One drawn layer: its row name, kind (a colour), two-line label, and place (rank along the flow, lane across)."""

    name: str
    kind: str
    label: str
    rank: int
    lane: int


@dataclass(frozen=True)
class Edge:
    """Data flowing from box ``src`` to box ``dst`` (indices); ``skip`` for a residual shortcut into an add."""

    src: int
    dst: int
    skip: bool


@dataclass(frozen=True)
class Diagram:
    title: str
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]

    @property
    def skips(self) -> int:
        """How many residual shortcuts the drawing shows."""
        return sum(e.skip for e in self.edges)


def _shape(shape: Sequence[int]) -> str:
    """H x W x C, as the course notes and the pages write a volume."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}x{w}x{c}"
    return "x".join(map(str, shape))


def _kind(row_type: str, inputs: int) -> str | None:
    """The kind of box a row becomes, or None for a row folded into its input (norms, activations, dropout)."""
    if row_type in MERGES or inputs > 1:
        return "merge"
    if "Conv" in row_type:
        return "conv"
    if "pool" in row_type.lower():
        return "pool"
    if row_type in ("Linear", "MultiheadAttention"):
        return "fc"
    return None


def _label(row_type: str, kernel: tuple[int, int] | None, stride: tuple[float, float] | None,
           shape: Sequence[int]) -> str:
    head = {"cat": "concat", "Linear": "fc", "MultiheadAttention": "attention"}.get(row_type, row_type)
    head = head.replace("Conv2d", "conv").replace("2d", "")
    if kernel is not None:
        head += f" {kernel[0]}x{kernel[1]}"
    if stride is not None and max(stride) > 1:
        head += f" /{int(max(stride)) if float(max(stride)).is_integer() else max(stride)}"
    return f"{head}\n{_shape(shape)}"


def diagram(report: Report) -> Diagram:
    """The layer graph of ``report``: every convolution, pooling, fully connected layer and merge is a box.

    Norms, activations, dropout and reshapes are folded into the box before them. A box's rank is the longest path
    from the input (so parallel branches sit side by side); boxes of one rank get lanes in execution order.
    """
    boxes: list[dict] = [{"name": "input", "kind": "input", "label": f"input\n{_shape(report.input_shape)}",
                          "rank": 0, "inputs": []}]
    where = {"input": 0}
    for row in report.layers:
        sources = list(dict.fromkeys(where.get(n, 0) for n in row.inputs)) or [0]
        kind = _kind(row.type, len(sources))
        if kind is None:
            where[row.name] = sources[0]
            continue
        where[row.name] = len(boxes)
        boxes.append({"name": row.name, "kind": kind, "rank": 1 + max(boxes[s]["rank"] for s in sources),
                      "label": _label(row.type, row.kernel, row.stride, row.output_shape), "inputs": sources,
                      "residual": row.type in RESIDUAL})
    lanes: dict[int, int] = {}
    placed = []
    for b in boxes:
        lane = lanes.get(b["rank"], 0)
        lanes[b["rank"]] = lane + 1
        placed.append(Box(b["name"], b["kind"], b["label"], b["rank"], lane))
    edges = [Edge(s, i, bool(b.get("residual")) and b["rank"] - boxes[s]["rank"] > 1)
             for i, b in enumerate(boxes) for s in b["inputs"]]
    return Diagram(report.model, tuple(placed), tuple(edges))


def render(d: Diagram, fmt: str = "svg", orientation: str = "horizontal", font: float = 9.0,
           scale: float = 1.0) -> bytes:
    """``d`` drawn as a file of format ``fmt`` (svg, png or pdf); ``scale`` multiplies a PNG's pixels.

    Shortcuts are arcs with the id ``skip-N`` in an SVG, so a test (or a reader) can find them.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown drawing format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if orientation not in ORIENTATIONS:
        raise ConfigError(f"unknown orientation {orientation!r}; choose one of {', '.join(ORIENTATIONS)}")
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    ranks = max(b.rank for b in d.boxes) + 1
    lanes = max(b.lane for b in d.boxes) + 1
    horizontal = orientation == "horizontal"

    def at(b: Box) -> tuple[float, float]:
        along, across = b.rank * STEP, -b.lane * LANE
        return (along, across) if horizontal else (-across, -along)

    along_in, across_in = ranks * STEP + 0.4, lanes * LANE + 1.6
    size = (along_in, across_in) if horizontal else (across_in, along_in)
    fig = Figure(figsize=size)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    if horizontal:
        ax.set_xlim(-BOX_W / 2 - 0.2, (ranks - 1) * STEP + BOX_W / 2 + 0.2)
        ax.set_ylim(-(lanes - 1) * LANE - BOX_H / 2 - 0.3, BOX_H / 2 + 1.3)
    else:
        ax.set_xlim(-BOX_W / 2 - 0.3, (lanes - 1) * LANE + BOX_W / 2 + 1.3)
        ax.set_ylim(-(ranks - 1) * STEP - BOX_H / 2 - 0.2, BOX_H / 2 + 0.2)
    ax.set_aspect("equal")
    fig.text(0.005, 0.995, d.title, ha="left", va="top", fontsize=font + 4, weight="bold")
    gap = (BOX_W if horizontal else BOX_H) * 36  # half a box along the flow, in points
    for i, e in enumerate(d.edges):
        a, b = d.boxes[e.src], d.boxes[e.dst]
        span = b.rank - a.rank
        # a neighbour is joined straight; a longer jump bends around the boxes in between
        bend = 0.0 if span <= 1 else (-0.35 if horizontal else 0.35) / max(1, span ** 0.5)
        arrow = FancyArrowPatch(at(a), at(b), connectionstyle=f"arc3,rad={bend}", arrowstyle="-|>",
                                mutation_scale=8, shrinkA=gap, shrinkB=gap if span <= 1 else BOX_H * 36,
                                color="#d62728" if e.skip else "#555", linewidth=1.6 if e.skip else 0.9,
                                zorder=1)
        arrow.set_gid(f"skip-{i}" if e.skip else f"edge-{i}")
        ax.add_patch(arrow)
    for b in d.boxes:
        x, y = at(b)
        ax.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0.02",
                                    facecolor=COLORS[b.kind], edgecolor="#333", linewidth=0.8, zorder=2,
                                    gid=f"box-{b.name}"))
        ax.text(x, y, b.label, ha="center", va="center", fontsize=font, color="white", zorder=3)
    dpi = min(100.0 * scale, MAX_PIXELS / max(size))
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


def draw_file(name: str, fmt: str, settings: dict | None = None, orientation: str = "horizontal",
              input_shape: Sequence[int] | None = None, scale: float = 1.0) -> bytes:
    """Zoo model ``name`` with ``settings`` drawn as a layer graph in format ``fmt``."""
    from cnnviz.analysis import summarize

    report = summarize(name, input_shape, **(settings or {}))
    return render(diagram(report), fmt, orientation, scale=scale)
