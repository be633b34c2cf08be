"""Receptive field arithmetic (Araujo, Norris & Sim, Distill 2019), one axis at a time.

For a unit of a feature map, ``size`` is the width of the input region it sees,
``jump`` the distance in input pixels between neighbouring units (the effective
stride), and ``start`` the input coordinate of the first pixel seen by unit 0
(negative where the region reaches into the padding). Unit ``i`` sees input
pixels ``start + i * jump`` to ``start + i * jump + size - 1``.

A layer with kernel ``k``, stride ``s``, padding ``p`` and dilation ``d`` maps
``(size, jump, start)`` to ``(size + (d*(k-1)) * jump, jump * s, start - p * jump)``.
Where paths merge (a ResNet add, an Inception or DenseNet concat), the unit sees
the union of what each path sees, so ``start`` is the smallest start and the end
the largest end. A unit after flatten, a fully connected layer or global pooling
sees the whole input: :data:`GLOBAL`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RF1D:
    """The receptive field along one axis."""

    size: float
    jump: float
    start: float

    def through(self, kernel: int, stride: float, padding: float, dilation: int = 1) -> "RF1D":
        """The field after a sliding-window layer."""
        return RF1D(self.size + dilation * (kernel - 1) * self.jump, self.jump * stride, self.start - padding * self.jump)

    def end(self) -> float:
        return self.start + self.size - 1


@dataclass(frozen=True)
class RF:
    """Receptive field along height and width; ``GLOBAL`` when the unit sees the whole input."""

    h: RF1D | None
    w: RF1D | None
    aligned: bool = True

    @property
    def is_global(self) -> bool:
        return self.h is None and self.aligned

    @property
    def is_unknown(self) -> bool:
        return self.h is None and not self.aligned

    def through(self, kernel: tuple[int, int], stride: tuple[float, float], padding: tuple[float, float],
                dilation: tuple[int, int] = (1, 1)) -> "RF":
        if self.h is None or self.w is None:
            return self
        return RF(self.h.through(kernel[0], stride[0], padding[0], dilation[0]),
                  self.w.through(kernel[1], stride[1], padding[1], dilation[1]), self.aligned)

    def region(self, y: int, x: int) -> tuple[float, float, float, float]:
        """Input box ``(top, left, bottom, right)`` (inclusive) seen by unit ``(y, x)``."""
        if self.h is None or self.w is None:
            raise ValueError("a global unit sees the whole input")
        top = self.h.start + y * self.h.jump
        left = self.w.start + x * self.w.jump
        return top, left, top + self.h.size - 1, left + self.w.size - 1


IDENTITY = RF(RF1D(1, 1, 0), RF1D(1, 1, 0))
GLOBAL = RF(None, None)
UNKNOWN = RF(None, None, aligned=False)  # after a layer without a counting rule


def _union1d(parts: list[RF1D]) -> tuple[RF1D, bool]:
    start = min(p.start for p in parts)
    end = max(p.end() for p in parts)
    jumps = {p.jump for p in parts}
    return RF1D(end - start + 1, max(jumps), start), len(jumps) == 1


def union(fields: list[RF]) -> RF:
    """The field of a unit that merges several paths (add, concat)."""
    if not fields:
        return IDENTITY
    if any(f.is_unknown for f in fields):
        return UNKNOWN
    if any(f.is_global for f in fields):
        return GLOBAL
    h, ah = _union1d([f.h for f in fields])  # type: ignore[misc]
    w, aw = _union1d([f.w for f in fields])  # type: ignore[misc]
    return RF(h, w, ah and aw and all(f.aligned for f in fields))
