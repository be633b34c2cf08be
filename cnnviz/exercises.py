"""Practice: predictions checked against the engine, and exercise cards from the course notes.

Every answer is computed by :func:`cnnviz.lab.layer_numbers` (a real PyTorch layer, analysed), never typed in::

    from cnnviz import exercises
    card = exercises.EXERCISES["notes-params"]
    exercises.check("params", "760", card.answers()["params"]).right   # True
    exercises.check("output", "32x32x3", (32, 32, 10)).right            # False

A count may be written in full (``34,944``: it must be exact) or rounded with a suffix (``1.85G``:
right when the true count rounds to it, i.e. within half a unit of the last digit written).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Iterable, Mapping

from cnnviz import lab
from cnnviz.errors import ConfigError

KINDS = {"output": "Output size (H x W x D)", "params": "Parameters", "macs": "MACs",
         "rf": "Receptive field (pixels on a side)"}
SUFFIXES = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_COUNT = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)$", re.IGNORECASE)
_SHAPE_SPLIT = re.compile(r"\s*[x×*,]\s*|\s+", re.IGNORECASE)
MAX_GUESS = 40  # characters: a prediction is a number or a shape


@dataclass(frozen=True)
class Verdict:
    """A prediction checked: ``right``, what was guessed and the true value, both as text."""

    kind: str
    right: bool
    guess: str
    truth: str


def parse_count(text: str) -> tuple[Decimal, Decimal]:
    """A predicted count and how far from it the truth may be: ``"34,944"`` -> (34944, 0); ``"1.85G"`` ->
    (1.85e9, 0.005e9)."""
    cleaned = text.strip().replace(",", "").replace("_", "").replace(" ", "")
    match = _COUNT.match(cleaned)
    if len(text) > MAX_GUESS or match is None:
        raise ConfigError("write a count as a whole number (34944 or 34,944) or rounded with K, M or G (1.85G)")
    digits, suffix = match.groups()
    unit = Decimal(SUFFIXES[suffix.upper()])
    try:
        value = Decimal(digits) * unit
    except InvalidOperation:
        raise ConfigError("write a count as a number") from None
    if not suffix:
        if value != value.to_integral_value():
            raise ConfigError("a count is a whole number; to round it, add K, M or G (1.5M)")
        return value, Decimal(0)
    decimals = len(digits.partition(".")[2])
    return value, unit * Decimal(5) / Decimal(10) ** (decimals + 1)


def parse_shape(text: str) -> tuple[int, ...]:
    """A predicted shape: ``"32x32x10"``, ``"32 x 32 x 10"``, ``"32×32×10"`` or ``"32, 32, 10"``."""
    parts = [p for p in _SHAPE_SPLIT.split(text.strip()) if p]
    if len(text) > MAX_GUESS or not parts or not all(p.isdigit() for p in parts):
        raise ConfigError("write a size as H x W x D, e.g. 32x32x10")
    return tuple(int(p) for p in parts)


def _shape(value: object) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),)


def check(kind: str, guess: str, truth: object) -> Verdict:
    """Check a prediction of ``kind`` (a key of :data:`KINDS`) against the engine's ``truth``.

    ``truth`` is an ``(H, W, D)`` tuple for ``output``, a count for ``params`` and ``macs``, and a side
    length (or an ``(H, W)`` pair) for ``rf``. A guess that does not parse raises ConfigError.
    """
    if kind == "output":
        expected = _shape(truth)
        got = parse_shape(guess)
        return Verdict(kind, got == expected, "x".join(map(str, got)), "x".join(map(str, expected)))
    if kind == "rf":
        expected = _shape(truth) * (1 if isinstance(truth, (tuple, list)) else 2)  # a side: the field is square
        got = parse_shape(guess)
        square = len(set(expected)) == 1
        right = got == expected or (square and got == (expected[0],))
        return Verdict(kind, right, "x".join(map(str, got)), "x".join(map(str, expected[:1] if square else expected)))
    if kind in ("params", "macs"):
        value, tolerance = parse_count(guess)
        return Verdict(kind, abs(value - Decimal(int(truth))) <= tolerance, guess.strip(), f"{int(truth):,}")
    raise ConfigError(f"unknown kind of number {kind!r}; choose one of {', '.join(KINDS)}")


def score(results: Mapping[object, bool] | Iterable[bool], total: int | None = None) -> dict[str, int | float]:
    """Right answers among the checked ones: ``{"right", "answered", "total", "percent"}`` (percent of answered)."""
    values = list(results.values()) if isinstance(results, Mapping) else list(results)
    right, answered = sum(map(bool, values)), len(values)
    return {"right": right, "answered": answered, "total": total if total is not None else answered,
            "percent": round(100 * right / answered, 1) if answered else 0.0}


# ---------------------------------------------------------------------------------------------
# Exercise cards: the course notes' worked examples, and new ones
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Exercise:
    """One card: a layer, the numbers it asks for, and where it comes from."""

    key: str
    title: str
    source: str  # "course notes" or "new"
    layer: lab.LayerConfig
    asks: tuple[str, ...]

    def question(self) -> str:
        """The layer in words, written from its configuration."""
        c = self.layer
        size = f"{c.height}x{c.width}x{c.channels}"
        pad = {"valid": "no padding", "same": "'same' padding"}.get(str(c.padding), f"pad {c.padding}")
        extra = "".join([f", dilation {c.dilation}" if c.dilation > 1 else "",
                         f", groups {c.groups}" if c.kind == "conv" and c.groups > 1 else "",
                         ", no bias" if c.kind == "conv" and not c.bias else ""])
        if c.kind == "conv":
            what = f"{c.filters} filters of {c.kernel}x{c.kernel}"
        else:
            what = f"{lab.KINDS[c.kind].lower()} {c.kernel}x{c.kernel}"
        return f"Input {size}, {what}, stride {c.stride}, {pad}{extra}."

    def answers(self) -> dict[str, object]:
        """The engine's numbers for every kind this card asks."""
        n = lab.layer_numbers(self.layer)
        d, h, w = n.out_shape
        every = {"output": (h, w, d), "params": n.params, "macs": n.macs, "rf": n.receptive_field}
        return {k: every[k] for k in self.asks}


def _conv(size: int, depth: int, kernel: int, filters: int, stride: int, padding: str | int,
          **more: object) -> lab.LayerConfig:
    return lab.LayerConfig("conv", size, size, depth, kernel, filters, stride, padding, **more)


def _pool(size: int, depth: int, kernel: int, stride: int) -> lab.LayerConfig:
    return lab.LayerConfig("max", size, size, depth, kernel, 1, stride, "valid")


_CARDS = (
    Exercise("notes-output", "The course notes' exercise: output volume", "course notes",
             _conv(32, 3, 5, 10, 1, 2), ("output",)),
    Exercise("notes-params", "The course notes' exercise: parameters", "course notes",
             _conv(32, 3, 5, 10, 1, 2), ("params",)),
    Exercise("seven-s1", "7x7 input, 3x3 filter, stride 1", "course notes", _conv(7, 1, 3, 1, 1, "valid"),
             ("output",)),
    Exercise("seven-s2", "7x7 input, 3x3 filter, stride 2", "course notes", _conv(7, 1, 3, 1, 2, "valid"),
             ("output",)),
    Exercise("seven-pad", "7x7 input, 3x3 filter, zero padding 1", "course notes", _conv(7, 1, 3, 1, 1, 1),
             ("output",)),
    Exercise("alexnet-conv1", "AlexNet CONV1", "course notes", _conv(227, 3, 11, 96, 4, "valid"),
             ("output", "params")),
    Exercise("alexnet-pool1", "AlexNet POOL1", "course notes", _pool(55, 96, 3, 2), ("output", "params")),
    Exercise("vgg-conv", "A VGG 3x3 convolution", "course notes", _conv(224, 64, 3, 64, 1, "same"),
             ("params", "macs")),
    Exercise("inception-1x1", "Inception's 1x1 reduction", "course notes", _conv(28, 192, 1, 32, 1, "valid"),
             ("output", "macs")),
    Exercise("zfnet-conv1", "ZFNet CONV1: a stride that does not fit", "new", _conv(224, 3, 7, 96, 2, 1),
             ("output", "macs")),
    Exercise("dilated", "A dilated 3x3 convolution", "new", _conv(32, 16, 3, 16, 1, 2, dilation=2),
             ("output", "rf", "params")),
    Exercise("depthwise", "MobileNet's depthwise 3x3", "new", _conv(112, 32, 3, 32, 1, "same", groups=32, bias=False),
             ("params", "macs")),
    Exercise("big-filter", "One 7x7 layer", "new", _conv(56, 64, 7, 64, 1, 3), ("rf", "params", "macs")),
)
EXERCISES: dict[str, Exercise] = {card.key: card for card in _CARDS}
QUESTIONS = sum(len(card.asks) for card in _CARDS)
"""How many numbers the cards ask for in all (the ``total`` of a practice score)."""
