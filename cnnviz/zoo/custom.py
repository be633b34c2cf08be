"""A network written as text: the builder's grammar, its parser and printer, the shape walk and the model.

A network is a sequence of layers separated by spaces, newlines, ``|`` or ``->``; a layer is
a name and, in brackets, its arguments: positional first, then ``name=value``::

    conv(6,5) tanh avgpool(2) conv(16,5) tanh avgpool(2) fc(120) tanh fc(84) tanh fc(10)

``N*( ... )`` repeats layers: ``3*(conv(64,3,padding=same) relu) maxpool(2)``. The table
:data:`LAYER_KINDS` lists every layer with its arguments, defaults and help.

The pieces, one idea each:

* :func:`parse` (text -> :class:`LayerSpec` list) and :func:`format_network` (back). Every
  network has one canonical text: layers separated by one space, no spaces inside the
  brackets, the leading required arguments positional and the optional ones as ``name=value``
  in the table's order, only the arguments that were written. ``parse(format_network(x)) == x``
  for every network and ``format_network(parse(t)) == t`` for every canonical text.
* :func:`walk`: the shapes and parameter counts (with their formulas) computed from the specs
  alone, before any weight exists; an impossible layer raises :class:`BuilderError` naming the
  layer and the rule with the numbers.
* :func:`build_network`: the :class:`CustomNet` module, made of plain torch layers and of the
  zoo's own blocks (torchvision's BasicBlock and Bottleneck, GoogLeNet's Inception module,
  MobileNet v1's depthwise-separable pair).

Errors are one type, :class:`BuilderError` (a :class:`ConfigError`), for malformed text and
impossible layers alike.
"""
from __future__ import annotations

import difflib
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, Sequence

import torch
from torch import nn

from cnnviz.budget import budget
from cnnviz.errors import ConfigError
from cnnviz.zoo.base import ZooModel
from cnnviz.zoo.inception import BasicConv2d, Inception
from cnnviz.zoo.mobile import DepthwiseSeparable
from cnnviz.zoo.registry import PaperFacts, Setting, register
from cnnviz.zoo.resnet import BasicBlock, Bottleneck, conv1x1

LENET5_TEXT = "conv(6,5) tanh avgpool(2) conv(16,5) tanh avgpool(2) fc(120) tanh fc(84) tanh fc(10)"



@dataclass(frozen=True)
class Preset:
    """A network to start the builder from: its text and the input it is written for (C, H, W)."""

    label: str
    text: str
    input_size: tuple[int, int, int]
    num_classes: int


# Each is the zoo network of the same name, layer for layer (a test checks the parameter counts),
# except the small ResNet: ResNet-20's layout with projection shortcuts where the shape changes
# (the CIFAR ResNets pad zeros instead, which the grammar does not write).
PRESETS: dict[str, Preset] = {p.label: p for p in (
    Preset("Empty", "", (1, 28, 28), 10),
    Preset("LeNet-5 (1998)", LENET5_TEXT, (1, 32, 32), 10),
    Preset("AlexNet", "conv(64,11,stride=4,padding=2) relu maxpool(3,stride=2) conv(192,5,padding=2) relu "
           "maxpool(3,stride=2) conv(384,3,padding=1) relu conv(256,3,padding=1) relu conv(256,3,padding=1) relu "
           "maxpool(3,stride=2) dropout fc(4096) relu dropout fc(4096) relu fc(1000)", (3, 224, 224), 1000),
    Preset("VGG-11", "conv(64,3,padding=1) relu maxpool(2) conv(128,3,padding=1) relu maxpool(2) "
           "2*(conv(256,3,padding=1) relu) maxpool(2) 2*(conv(512,3,padding=1) relu) maxpool(2) "
           "2*(conv(512,3,padding=1) relu) maxpool(2) fc(4096) relu dropout fc(4096) relu dropout fc(1000)",
           (3, 224, 224), 1000),
    Preset("A small ResNet", "conv(16,3,padding=1,bias=false) bn relu 3*(residual(16)) residual(32,stride=2) "
           "2*(residual(32)) residual(64,stride=2) 2*(residual(64)) gap fc(10)", (3, 32, 32), 10),
    Preset("A MobileNet-style net", "conv(32,3,stride=2,padding=1,bias=false) bn relu separable(64) "
           "separable(128,stride=2) separable(128) separable(256,stride=2) separable(256) separable(512,stride=2) "
           "5*(separable(512)) separable(1024,stride=2) separable(1024) gap fc(1000)", (3, 224, 224), 1000),
)}

MAX_TEXT = 20_000  # characters of a network's text
MAX_REPEAT = 100  # the N of N*( ... )
MAX_LAYERS = 1_000  # layers once every repetition is expanded
MAX_NESTING = 4  # N*( M*( ... ) ) levels
MAX_VALUE = 1_000_000  # any whole number in the text
MAX_LAYER_PARAMS = 10**15  # a layer's parameters, even on the meta device (its tensors' sizes must fit in int64)


class BuilderError(ConfigError):
    """A network text that cannot be read or cannot be built: one line naming where and why.

    ``position`` is the character offset (from 0) in the text where the problem is, when the
    problem comes from a text; ``layer_index`` the index (from 0) of the layer in the expanded
    network when one layer is impossible, ``top_index`` its index in the list :func:`parse` returns.
    """

    def __init__(self, message: str, *, position: int | None = None, layer_index: int | None = None,
                 top_index: int | None = None, layer: str | None = None) -> None:
        super().__init__(message, layer=layer)
        self.position = position
        self.layer_index = layer_index
        self.top_index = top_index


# --------------------------------------------------------------------------- the table of layers


@dataclass(frozen=True)
class Arg:
    """One argument of a layer. ``default is None``: required.

    ``type`` is ``int``, ``size`` (a whole number or ``AxB``), ``padding`` (a size or ``same``),
    ``float`` or ``bool``.
    """

    name: str
    type: str
    default: Any
    help: str
    min: float = 0
    max: float = MAX_VALUE

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class LayerKind:
    """A layer the grammar knows: its arguments (the first ``positional`` ones may be written without names)."""

    name: str
    help: str
    args: tuple[Arg, ...] = ()
    positional: int = 0

    def arg(self, name: str) -> Arg:
        for a in self.args:
            if a.name == name:
                return a
        raise KeyError(name)


def _channels(help: str = "Output channels") -> Arg:
    return Arg("C", "int", None, help, min=1, max=100_000)


_SIZE_HELP = "a whole number, or AxB for height x width"

_POOL_ARGS = (  # max and average pooling take the same arguments
        Arg("K", "size", None, f"Window size: {_SIZE_HELP}", min=1, max=10_000),
        Arg("stride", "size", "K", "Step between windows (default: K, windows do not overlap)", min=1, max=10_000),
        Arg("padding", "size", 0, "Padding on each side (at most half the window)", max=10_000),
        Arg("ceil", "bool", False, "Round the output size up: a last, partial window (Caffe's rule, GoogLeNet's)"),
)

LAYER_KINDS: dict[str, LayerKind] = {k.name: k for k in (
    LayerKind("conv", "Convolution: C filters of K x K over all input channels (per group).", (
        _channels("Output channels (number of filters)"),
        Arg("K", "size", None, f"Kernel size: {_SIZE_HELP}", min=1, max=10_000),
        Arg("stride", "size", 1, "Step between windows", min=1, max=10_000),
        Arg("padding", "padding", 0, "Zeros added on each side, or same (keeps the size at stride 1)", max=10_000),
        Arg("dilation", "size", 1, "Spacing between kernel taps (1 = a plain kernel)", min=1, max=10_000),
        Arg("groups", "int", 1, "Channel groups: each filter sees (input channels) / groups channels", min=1, max=100_000),
        Arg("bias", "bool", True, "Add a learned bias per filter"),
    ), positional=2),
    LayerKind("maxpool", "Max pooling: the largest value of each K x K window.", _POOL_ARGS, positional=1),
    LayerKind("avgpool", "Average pooling: the mean of each K x K window (padding counts as zeros).", _POOL_ARGS,
              positional=1),
    LayerKind("gap", "Global average pooling and flatten: one value per channel."),
    LayerKind("relu", "ReLU: max(0, x)."),
    LayerKind("tanh", "Hyperbolic tangent."),
    LayerKind("sigmoid", "Logistic sigmoid 1 / (1 + exp(-x))."),
    LayerKind("leakyrelu", "Leaky ReLU: x if x > 0, slope x otherwise.", (
        Arg("slope", "float", 0.01, "Slope for negative inputs", max=1.0),
    ), positional=1),
    LayerKind("bn", "Batch normalisation: per channel (or per value after flatten), a learned scale and shift."),
    LayerKind("dropout", "Dropout: zeroes each value with probability p while training.", (
        Arg("p", "float", 0.5, "Probability of dropping a value", max=0.99),
    ), positional=1),
    LayerKind("lrn", "Local response normalisation across neighbouring channels (AlexNet's).", (
        Arg("size", "int", 5, "Number of neighbouring channels", min=1, max=100_000),
    ), positional=1),
    LayerKind("flatten", "Flatten H x W x C maps into H*W*C values."),
    LayerKind("fc", "Fully connected layer: N outputs, each sees every input (flattens a spatial input).", (
        Arg("N", "int", None, "Output values", min=1, max=MAX_VALUE),
        Arg("bias", "bool", True, "Add a learned bias per output"),
    ), positional=1),
    LayerKind("softmax", "Softmax over the channels (the loss applies its own: leave it out to train)."),
    LayerKind("residual", "torchvision's BasicBlock: 3x3 conv, BN, ReLU, 3x3 conv, BN, add the input, ReLU "
              "(a 1x1 conv + BN projection where the shape changes).", (
        _channels("Output channels"),
        Arg("stride", "int", 1, "Stride of the first 3x3 conv (2 halves the size)", min=1, max=10_000),
    ), positional=1),
    LayerKind("bottleneck", "torchvision's Bottleneck: 1x1 conv to C, 3x3 conv, 1x1 conv to 4C, each with BN, "
              "add the input, ReLU (a 1x1 conv + BN projection where the shape changes).", (
        _channels("Width C of the 1x1 and 3x3 convs (the output has 4C channels)"),
        Arg("stride", "int", 1, "Stride of the 3x3 conv (2 halves the size)", min=1, max=10_000),
    ), positional=1),
    LayerKind("inception", "GoogLeNet's inception module: 1x1 | 1x1 then 3x3 | 1x1 then 5x5 | 3x3 max-pool then "
              "1x1, each conv with a bias and a ReLU, concatenated.", (
        _channels("1x1 branch channels"),
        _channels("Channels of the 1x1 reduction before the 3x3"),
        _channels("3x3 branch channels"),
        _channels("Channels of the 1x1 reduction before the 5x5"),
        _channels("5x5 branch channels"),
        _channels("Channels of the 1x1 after the max-pool"),
    ), positional=6),
    LayerKind("separable", "MobileNet v1's depthwise-separable pair: depthwise K x K conv + BN + ReLU, "
              "pointwise 1x1 conv to C + BN + ReLU (convs without bias).", (
        _channels("Output channels of the pointwise conv"),
        Arg("K", "int", 3, "Depthwise kernel size", min=1, max=10_000),
        Arg("stride", "int", 1, "Stride of the depthwise conv", min=1, max=10_000),
    ), positional=2),
)}

# The inception arguments are named after torchvision's Inception parameters.
_INCEPTION_NAMES = ("c1", "c3r", "c3", "c5r", "c5", "pool_proj")
LAYER_KINDS["inception"] = LayerKind(
    "inception", LAYER_KINDS["inception"].help,
    tuple(Arg(n, a.type, a.default, a.help, a.min, a.max) for n, a in zip(_INCEPTION_NAMES, LAYER_KINDS["inception"].args)),
    positional=6,
)

REPEAT = "repeat"  # the kind of an ``N*( ... )`` group


# --------------------------------------------------------------------------- the specs


@dataclass(frozen=True)
class LayerSpec:
    """One layer as written: its kind and the arguments given explicitly, in the table's order.

    ``kind == "repeat"`` is an ``N*( ... )`` group: ``args == (("n", N),)`` and ``body`` the
    repeated layers. ``span`` is where the layer is in the text it was parsed from
    (``(start, end)`` character offsets); it takes no part in equality.
    """

    kind: str
    args: tuple[tuple[str, Any], ...] = ()
    body: tuple["LayerSpec", ...] = ()
    span: tuple[int, int] = field(default=(0, 0), compare=False)

    def explicit(self) -> dict[str, Any]:
        return dict(self.args)

    def get(self, name: str) -> Any:
        """The argument's value: as written, or the default (``stride`` of a pool defaults to ``K``)."""
        given = dict(self.args)
        if name in given:
            return given[name]
        if self.kind == REPEAT:
            raise KeyError(name)
        default = LAYER_KINDS[self.kind].arg(name).default
        return self.get("K") if default == "K" else default

    @property
    def text(self) -> str:
        return format_network([self])


def make_layer(kind: str, *values: Any, **named: Any) -> LayerSpec:
    """A :class:`LayerSpec` from Python values, checked as the parser checks text: ``make_layer("conv", 6, 5)``."""
    return parse(format_network([_raw_spec(kind, values, named)]))[0]


def _raw_spec(kind: str, values: Sequence[Any], named: dict[str, Any]) -> LayerSpec:
    info = LAYER_KINDS.get(kind)
    if info is None:
        raise BuilderError(f"unknown layer {kind!r}; the layers are: {', '.join(LAYER_KINDS)}")
    if len(values) > len(info.args):
        raise BuilderError(f"{kind} takes at most {len(info.args)} arguments")
    given = {a.name: v for a, v in zip(info.args, values)}
    given.update(named)
    order = [a.name for a in info.args]
    unknown = [n for n in given if n not in order]
    if unknown:
        raise BuilderError(f"{kind} has no argument {unknown[0]!r}; its arguments are: {', '.join(order)}")
    return LayerSpec(kind, tuple((n, given[n]) for n in order if n in given))


def expand(layers: Sequence[LayerSpec]) -> list[tuple[int, LayerSpec]]:
    """The layers with every ``N*( ... )`` written out, each with the index of its top-level entry."""
    out: list[tuple[int, LayerSpec]] = []

    def add(specs: Sequence[LayerSpec], top: int | None) -> None:
        for i, spec in enumerate(specs):
            t = i if top is None else top
            if spec.kind == REPEAT:
                for _ in range(spec.get("n")):
                    add(spec.body, t)
            else:
                out.append((t, spec))

    add(layers, None)
    return out


def count_layers(layers: Sequence[LayerSpec]) -> int:
    """Layers once every repetition is expanded, without expanding them."""
    return sum(s.get("n") * count_layers(s.body) if s.kind == REPEAT else 1 for s in layers)


# --------------------------------------------------------------------------- printing


def _format_value(arg_type: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return f"{value[0]}x{value[1]}"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _format_layer(spec: LayerSpec) -> str:
    if spec.kind == REPEAT:
        return f"{spec.get('n')}*({format_network(spec.body)})"
    info = LAYER_KINDS[spec.kind]
    given = dict(spec.args)
    parts: list[str] = []
    positional = True
    for i, a in enumerate(info.args):
        if a.name not in given:
            positional = False
            continue
        text = _format_value(a.type, given[a.name])
        parts.append(text if positional and i < info.positional else f"{a.name}={text}")
    return f"{spec.kind}({','.join(parts)})" if parts else spec.kind


def format_network(layers: Sequence[LayerSpec]) -> str:
    """The canonical text of ``layers``: ``parse(format_network(x)) == x``."""
    return " ".join(_format_layer(s) for s in layers)


# --------------------------------------------------------------------------- parsing

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<arrow>->)
  | (?P<bar>\|)
  | (?P<pair>\d+x\d+(?![\w.]))
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<name>[A-Za-z_]\w*)
  | (?P<punct>[()*,=])
""", re.VERBOSE)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos)
    if line == 0:
        return f"character {pos + 1}"
    return f"line {line + 1}, character {pos - text.rfind(chr(10), 0, pos)}"


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            bad = re.match(r"[^\s()*,=|]+", text[pos:])
            token = bad.group(0) if bad else text[pos]
            raise BuilderError(f"unexpected {token!r} at {_where(text, pos)}", position=pos)
        kind = m.lastgroup or ""
        if kind != "space":
            out.append(_Token(kind, m.group(0), pos))
        pos = m.end()
    out.append(_Token("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    @property
    def tok(self) -> _Token:
        return self.toks[self.i]

    def fail(self, message: str, tok: _Token | None = None) -> BuilderError:
        tok = tok or self.tok
        shown = "the end of the text" if tok.kind == "end" else repr(tok.text)
        return BuilderError(f"{message}: {shown} at {_where(self.text, tok.pos)}", position=tok.pos)

    def take(self, text: str, what: str) -> _Token:
        if self.tok.text != text or self.tok.kind == "end":
            raise self.fail(f"expected {what}")
        tok = self.tok
        self.i += 1
        return tok

    def sequence(self, depth: int) -> list[LayerSpec]:
        layers: list[LayerSpec] = []
        while True:
            while self.tok.kind in ("arrow", "bar"):
                self.i += 1
            if self.tok.kind == "end" or self.tok.text == ")":
                return layers
            layers.append(self.layer(depth))

    def layer(self, depth: int) -> LayerSpec:
        tok = self.tok
        if tok.kind == "number":
            return self.repeat(depth)
        if tok.kind != "name":
            raise self.fail("expected a layer (conv, relu, fc, ...)")
        kind = tok.text
        if kind not in LAYER_KINDS:
            close = difflib.get_close_matches(kind.lower(), LAYER_KINDS, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else f"; the layers are: {', '.join(LAYER_KINDS)}"
            raise BuilderError(f"unknown layer {kind!r} at {_where(self.text, tok.pos)}{hint}", position=tok.pos)
        self.i += 1
        info = LAYER_KINDS[kind]
        given: dict[str, Any] = {}
        if self.tok.text == "(":
            if not info.args:
                raise self.fail(f"{kind} takes no arguments")
            self.i += 1
            given = self.arguments(info, tok)
            end = self.take(")", "',' or ')'").pos + 1
        else:
            end = tok.pos + len(tok.text)
        missing = [a.name for a in info.args if a.required and a.name not in given]
        if missing:
            usage = _usage(info)
            raise BuilderError(f"{kind} at {_where(self.text, tok.pos)} needs {', '.join(missing)}: write {usage}",
                               position=tok.pos)
        order = [a.name for a in info.args]
        return LayerSpec(kind, tuple((n, given[n]) for n in order if n in given), span=(tok.pos, end))

    def arguments(self, info: LayerKind, layer_tok: _Token) -> dict[str, Any]:
        given: dict[str, Any] = {}
        index = 0
        keywords = False
        if self.tok.text == ")":
            return given
        while True:
            tok = self.tok
            if tok.kind == "name" and self.toks[self.i + 1].text == "=":
                keywords = True
                if tok.text not in {a.name for a in info.args}:
                    raise BuilderError(
                        f"{info.name} has no argument {tok.text!r} (at {_where(self.text, tok.pos)}); "
                        f"its arguments are: {', '.join(a.name for a in info.args)}", position=tok.pos)
                if tok.text in given:
                    raise BuilderError(f"{info.name}: {tok.text} given twice (at {_where(self.text, tok.pos)})",
                                       position=tok.pos)
                arg = info.arg(tok.text)
                self.i += 2
            else:
                if keywords:
                    raise self.fail(f"{info.name}: a positional argument after a named one")
                if index >= info.positional:
                    n = info.positional
                    raise self.fail(f"{info.name} takes {n} positional argument{'s' if n != 1 else ''} "
                                    f"({_usage(info)}); name the others")
                arg = info.args[index]
                index += 1
            given[arg.name] = self.value(info, arg)
            if self.tok.text == ",":
                self.i += 1
                continue
            return given

    def value(self, info: LayerKind, arg: Arg) -> Any:
        tok = self.tok
        where = f"{info.name} {arg.name}"
        if tok.kind not in ("number", "pair", "name"):
            raise self.fail(f"{where}: expected a value")
        self.i += 1
        if arg.type == "bool":
            if tok.text in ("true", "false"):
                return tok.text == "true"
            raise self.fail(f"{where} is true or false", tok)
        if arg.type == "padding" and tok.text == "same":
            return "same"
        if arg.type == "float":
            if tok.kind != "number":
                raise self.fail(f"{where} is a number", tok)
            value = float(tok.text)
            if not arg.min <= value <= arg.max:
                raise self.fail(f"{where} must be between {arg.min:g} and {arg.max:g}", tok)
            return value
        if tok.kind == "pair" and arg.type in ("size", "padding"):
            a, b = (int(v) for v in tok.text.split("x"))
            for v in (a, b):
                self.check_int(where, arg, v, tok)
            return (a, b)
        if tok.kind != "number" or not tok.text.isdigit():
            kind = {"int": "a whole number", "size": f"{_SIZE_HELP}", "padding": f"{_SIZE_HELP}, or same"}[arg.type]
            raise self.fail(f"{where} is {kind}", tok)
        return self.check_int(where, arg, int(tok.text), tok)

    def check_int(self, where: str, arg: Arg, value: int, tok: _Token) -> int:
        if value < arg.min:
            raise self.fail(f"{where} must be at least {arg.min:g}", tok)
        if value > arg.max:
            raise self.fail(f"{where} must be at most {arg.max:,g}", tok)
        return value

    def repeat(self, depth: int) -> LayerSpec:
        tok = self.tok
        if not tok.text.isdigit():
            raise self.fail("expected a layer or a repetition N*( ... )")
        n = int(tok.text)
        if not 1 <= n <= MAX_REPEAT:
            raise self.fail(f"a repetition count is 1 to {MAX_REPEAT}")
        if depth >= MAX_NESTING:
            raise self.fail(f"repetitions nest at most {MAX_NESTING} deep")
        self.i += 1
        self.take("*", "'*' after a repetition count, as in 3*(conv(64,3) relu)")
        self.take("(", "'(' after N*")
        body = self.sequence(depth + 1)
        close = self.take(")", "')' to close the repetition")
        if not body:
            raise BuilderError(f"empty repetition at {_where(self.text, tok.pos)}: put layers inside N*( ... )",
                               position=tok.pos)
        return LayerSpec(REPEAT, (("n", n),), tuple(body), span=(tok.pos, close.pos + 1))


def _usage(info: LayerKind) -> str:
    parts = [a.name if a.required else f"{a.name}={_format_value(a.type, a.default)}" for a in info.args]
    return f"{info.name}({', '.join(parts)})" if parts else info.name


def grammar_help() -> str:
    """The grammar as plain text: what ``python -m cnnviz grammar`` prints."""
    lines = [
        "A network is layers separated by spaces, newlines, | or ->. Arguments: positional, then name=value.",
        "Sizes (K, stride, padding, dilation) are a whole number or AxB (height x width).",
        "N*( ... ) repeats layers, e.g. 3*(conv(64,3,padding=same) relu) maxpool(2).",
        "",
    ]
    width = max(len(_usage(k)) for k in LAYER_KINDS.values())
    for info in LAYER_KINDS.values():
        lines.append(f"  {_usage(info):<{width}}  {info.help}")
    lines += ["", f"Example (LeNet-5, 1998, on 32x32x1): {LENET5_TEXT}"]
    return "\n".join(lines)


@lru_cache(maxsize=256)
def _parse_cached(text: str) -> tuple[LayerSpec, ...]:
    parser = _Parser(text)
    layers = parser.sequence(0)
    if parser.tok.kind != "end":
        raise parser.fail("unmatched ')'")
    total = count_layers(layers)
    if total > MAX_LAYERS:
        raise BuilderError(f"the network has {total:,} layers once repetitions are written out; the limit is "
                           f"{MAX_LAYERS:,}", position=0)
    return tuple(layers)


def parse(text: str) -> list[LayerSpec]:
    """Read a network text; raise :class:`BuilderError` naming the token and its position if it is malformed."""
    if not isinstance(text, str):
        raise BuilderError(f"a network is a text, not {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise BuilderError(f"the network text has {len(text):,} characters; the limit is {MAX_TEXT:,}",
                           position=MAX_TEXT)
    return list(_parse_cached(text))


# --------------------------------------------------------------------------- the shape walk


@dataclass(frozen=True)
class Step:
    """What one layer does to the shape, computed from the specs alone (no weights).

    ``input_shape``/``output_shape`` are (C, H, W) or (N,); ``formula`` is the parameter count
    worked out (``(5x5x1 + 1) x 6 = 156``); ``note`` says what else happens (an ``fc`` that
    flattens its input: ``flattens 16 x 5 x 5 = 400 inputs``).
    """

    index: int
    top_index: int
    spec: LayerSpec
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    formula: str
    note: str = ""


def _pair(v: Any) -> tuple[int, int]:
    return v if isinstance(v, tuple) else (v, v)


def _size(s: tuple[int, int]) -> str:
    return f"{s[0]}x{s[1]}"


def _n(v: int) -> str:
    return f"{v:,}"


class _Impossible(Exception):
    """Raised inside the walk with the rule; :func:`walk` adds the layer's name and position."""


def _spatial(shape: tuple[int, ...], kind: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise _Impossible(f"{kind} needs H x W x C maps, but its input is {shape[0]:,} values (after a flatten, "
                          "gap or fc)")
    return shape  # type: ignore[return-value]


def _window_out(kind: str, hw: tuple[int, int], k: tuple[int, int], s: tuple[int, int], p: tuple[int, int],
                d: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    eff = tuple(d[i] * (k[i] - 1) + 1 for i in range(2))
    padded = tuple(hw[i] + 2 * p[i] for i in range(2))
    if eff[0] > padded[0] or eff[1] > padded[1]:
        what = f"kernel {_size(k) if k[0] != k[1] else k[0]}"
        if d != (1, 1):
            what = f"dilated kernel {_size(eff) if eff[0] != eff[1] else eff[0]} ({what}, dilation {_size(d) if d[0] != d[1] else d[0]})"
        if kind != "conv":
            what = what.replace("kernel", "window")
        return_input = f"padded input {_size(padded)}" if p != (0, 0) else f"input {_size(hw)}"
        raise _Impossible(f"{what} larger than the {return_input}")
    return ((padded[0] - eff[0]) // s[0] + 1, (padded[1] - eff[1]) // s[1] + 1)


def _ceil_out(size: int, k: int, s: int, p: int) -> int:
    """PyTorch's pooling output with ``ceil_mode``: round up, but the last window must start
    inside the input or its left padding."""
    out = -(-(size + 2 * p - k) // s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def _with_skip(c: int, out: int, stride: int, hw: tuple[int, int], parts: list[int],
               terms: list[str]) -> tuple[tuple[int, ...], int, str, str]:
    """A residual block's step: its branch's ``parts`` and ``terms``, plus torchvision's 1x1 conv + BN projection
    on the skip where the shape changes (stride or channels)."""
    note = ""
    if stride != 1 or c != out:
        parts, terms = parts + [c * out, 2 * out], terms + [f"1x1x{c}x{out}", f"2x{out}"]
        note = "a 1x1 conv + BN projection on the skip (the shape changes)"
    return (out, *hw), sum(parts), f"{' + '.join(terms)} = {_n(sum(parts))}", note


def _step(spec: LayerSpec, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int, str, str]:
    """(output shape, parameters, formula, note) of one layer on ``shape``; raises :class:`_Impossible`."""
    kind = spec.kind
    g = spec.get
    if kind == "conv":
        c, h, w = _spatial(shape, kind)
        out, k, s, d, groups, bias = g("C"), _pair(g("K")), _pair(g("stride")), _pair(g("dilation")), g("groups"), g("bias")
        if c % groups:
            raise _Impossible(f"{c} input channels not divisible by {groups} groups")
        if out % groups:
            raise _Impossible(f"{out} output channels not divisible by {groups} groups")
        pad = g("padding")
        if pad == "same":
            if s != (1, 1):
                raise _Impossible(f"padding=same keeps the size only at stride 1, not stride {_size(s) if s[0] != s[1] else s[0]}")
            hw = (h, w)
        else:
            hw = _window_out(kind, (h, w), k, s, _pair(pad), d)
        per = k[0] * k[1] * (c // groups)
        params = out * (per + int(bias))
        inner = f"{k[0]}x{k[1]}x{c // groups}" + (" + 1" if bias else "")
        formula = f"({inner}) x {out} = {_n(params)}"
        note = f"groups {groups}: each filter sees {c // groups} of the {c} input channels" if groups > 1 else ""
        return (out, *hw), params, formula, note
    if kind in ("maxpool", "avgpool"):
        c, h, w = _spatial(shape, kind)
        k, s, p = _pair(g("K")), _pair(g("stride")), _pair(g("padding"))
        if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
            raise _Impossible(f"padding {_size(p) if p[0] != p[1] else p[0]} is more than half the window "
                              f"{_size(k) if k[0] != k[1] else k[0]}")
        if not g("ceil"):
            return (c, *_window_out(kind, (h, w), k, s, p)), 0, "no parameters", ""
        # rounding up lets the last window hang over the edge: only an empty output is impossible
        out = tuple(_ceil_out((h, w)[i], k[i], s[i], p[i]) for i in range(2))
        if min(out) < 1:
            _window_out(kind, (h, w), k, s, p)  # raises the message for a window larger than the input
        return (c, *out), 0, "no parameters", ""
    if kind == "gap":
        c, h, w = _spatial(shape, kind)
        return (c,), 0, "no parameters", f"averages each {h}x{w} map: {c:,} values"
    if kind == "flatten":
        if len(shape) == 1:
            return shape, 0, "no parameters", "already flat"
        c, h, w = shape
        return (c * h * w,), 0, "no parameters", f"{h} x {w} x {c} = {_n(c * h * w)} values"
    if kind == "fc":
        n, bias = g("N"), g("bias")
        note = ""
        if len(shape) == 3:
            c, h, w = shape
            note = f"flattens {c} x {h} x {w} = {_n(c * h * w)} inputs"
        features = 1
        for v in shape:
            features *= v
        params = n * (features + int(bias))
        return (n,), params, f"({_n(features)}{' + 1' if bias else ''}) x {_n(n)} = {_n(params)}", note
    if kind == "bn":
        c = shape[0]
        return shape, 2 * c, f"2 x {c:,} = {_n(2 * c)} (scale and shift; the running mean and variance are not trained)", ""
    if kind == "lrn":
        _spatial(shape, kind)
        return shape, 0, "no parameters", ""
    if kind in ("relu", "tanh", "sigmoid", "leakyrelu", "dropout", "softmax"):
        return shape, 0, "no parameters", ""
    if kind == "residual":
        c, h, w = _spatial(shape, kind)
        out, s = g("C"), g("stride")
        hw = ((h - 1) // s + 1, (w - 1) // s + 1)
        parts = [9 * c * out, 2 * out, 9 * out * out, 2 * out]
        terms = [f"3x3x{c}x{out}", f"2x{out}", f"3x3x{out}x{out}", f"2x{out}"]
        return _with_skip(c, out, s, hw, parts, terms)
    if kind == "bottleneck":
        c, h, w = _spatial(shape, kind)
        width, s = g("C"), g("stride")
        out = 4 * width
        hw = ((h - 1) // s + 1, (w - 1) // s + 1)
        parts = [c * width, 2 * width, 9 * width * width, 2 * width, width * out, 2 * out]
        terms = [f"1x1x{c}x{width}", f"2x{width}", f"3x3x{width}x{width}", f"2x{width}", f"1x1x{width}x{out}", f"2x{out}"]
        return _with_skip(c, out, s, hw, parts, terms)
    if kind == "inception":
        c, h, w = _spatial(shape, kind)
        c1, c3r, c3, c5r, c5, pp = (g(n) for n in _INCEPTION_NAMES)
        parts = [(c + 1) * c1, (c + 1) * c3r, (9 * c3r + 1) * c3, (c + 1) * c5r, (25 * c5r + 1) * c5, (c + 1) * pp]
        terms = [f"({c} + 1) x {c1}", f"({c} + 1) x {c3r}", f"(3x3x{c3r} + 1) x {c3}", f"({c} + 1) x {c5r}",
                 f"(5x5x{c5r} + 1) x {c5}", f"({c} + 1) x {pp}"]
        return (c1 + c3 + c5 + pp, h, w), sum(parts), f"{' + '.join(terms)} = {_n(sum(parts))}", \
            f"concatenates {c1} + {c3} + {c5} + {pp} = {c1 + c3 + c5 + pp} channels"
    if kind == "separable":
        c, h, w = _spatial(shape, kind)
        out, k, s = g("C"), g("K"), g("stride")
        hw = _window_out("conv", (h, w), (k, k), (s, s), ((k - 1) // 2, (k - 1) // 2))
        parts = [k * k * c, 2 * c, c * out, 2 * out]
        terms = [f"{k}x{k}x{c}", f"2x{c}", f"1x1x{c}x{out}", f"2x{out}"]
        return (out, *hw), sum(parts), f"{' + '.join(terms)} = {_n(sum(parts))}", ""
    raise _Impossible(f"unknown layer {kind!r}")


def _layer_name(spec: LayerSpec, index: int) -> str:
    return f"layer {index + 1} {spec.text}"


def _spec_where(spec: LayerSpec, text: str | None) -> str:
    return f" at {_where(text, spec.span[0])}" if text is not None else ""


def walk(layers: Sequence[LayerSpec], input_size: Sequence[int], *, text: str | None = None,
         stop_at_error: bool = False) -> tuple[list[Step], BuilderError | None]:
    """Every layer's input and output shape and parameters, from the specs alone.

    Returns the steps and ``None``, or (with ``stop_at_error``) the steps before the first
    impossible layer and its :class:`BuilderError`; without ``stop_at_error`` that error is raised.
    ``text`` (the text the layers were parsed from) lets the message say where the layer is.
    """
    shape = _input_shape(input_size)
    steps: list[Step] = []
    for index, (top, spec) in enumerate(expand(layers)):
        try:
            out, params, formula, note = _step(spec, shape)
            if params > MAX_LAYER_PARAMS:
                raise _Impossible(f"{params:,} parameters, more than any computer holds (at most "
                                  f"{MAX_LAYER_PARAMS:,} per layer)")
        except _Impossible as exc:
            err = BuilderError(f"{_layer_name(spec, index)}{_spec_where(spec, text)}: {exc}",
                               position=spec.span[0] if text is not None else None, layer_index=index,
                               top_index=top, layer=spec.text)
            if stop_at_error:
                return steps, err
            raise err from None
        steps.append(Step(index, top, spec, shape, out, params, formula, note))
        shape = out
    return steps, None


def _input_shape(input_size: Sequence[int] | int) -> tuple[int, int, int]:
    if isinstance(input_size, int):
        raise BuilderError("give the input as (channels, height, width)")
    shape = tuple(int(v) for v in input_size)
    if len(shape) != 3 or any(v < 1 for v in shape):
        raise BuilderError(f"the input is channels, height, width, each at least 1; got {shape}")
    return shape  # type: ignore[return-value]


# --------------------------------------------------------------------------- the model


class CustomNet(ZooModel):
    """A network built from its text: ``features`` then ``head`` (the last conv or fc and what follows).

    Every layer of the text is one child module named after its kind and number (``conv1``,
    ``tanh2``, ``residual1``), so ``rows[i]`` names the module(s) of layer ``i``; an ``fc`` on
    a spatial input is preceded by the ``nn.Flatten`` it implies.
    """

    def __init__(self, features: OrderedDict[str, nn.Module], head: OrderedDict[str, nn.Module],
                 rows: list[tuple[str, ...]], text: str) -> None:
        super().__init__()
        self.features = nn.Sequential(features)
        self.head = nn.Sequential(head)
        first = next(iter(head), None)
        self.head_name = f"head.{first}" if first is not None else "head"
        self.rows = rows
        self.text = text

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)

    def extra_repr(self) -> str:
        return f"text={self.text!r}"


def _module(spec: LayerSpec, in_shape: tuple[int, ...]) -> nn.Module:
    """The torch module of one layer (the shape walk has checked it is possible)."""
    kind, g = spec.kind, spec.get
    if kind == "conv":
        k, d = _pair(g("K")), _pair(g("dilation"))
        pad = g("padding")
        if pad == "same" and _pair(g("stride")) == (1, 1) and all((d[i] * (k[i] - 1)) % 2 == 0 for i in range(2)):
            pad = tuple(d[i] * (k[i] - 1) // 2 for i in range(2))  # odd kernels: the same padding as numbers
        return nn.Conv2d(in_shape[0], g("C"), k, _pair(g("stride")), pad if pad == "same" else _pair(pad), d,
                         groups=g("groups"), bias=g("bias"))
    if kind == "maxpool":
        return nn.MaxPool2d(_pair(g("K")), _pair(g("stride")), _pair(g("padding")), ceil_mode=g("ceil"))
    if kind == "avgpool":
        return nn.AvgPool2d(_pair(g("K")), _pair(g("stride")), _pair(g("padding")), ceil_mode=g("ceil"))
    if kind == "gap":
        return nn.Sequential(OrderedDict(pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten()))
    if kind == "flatten":
        return nn.Flatten()
    if kind == "fc":
        features = 1
        for v in in_shape:
            features *= v
        return nn.Linear(features, g("N"), bias=g("bias"))
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "tanh":
        return nn.Tanh()
    if kind == "sigmoid":
        return nn.Sigmoid()
    if kind == "leakyrelu":
        return nn.LeakyReLU(g("slope"))
    if kind == "softmax":
        return nn.Softmax(dim=1)
    if kind == "dropout":
        return nn.Dropout(g("p"))
    if kind == "bn":
        return nn.BatchNorm2d(in_shape[0]) if len(in_shape) == 3 else nn.BatchNorm1d(in_shape[0])
    if kind == "lrn":
        # AlexNet's constants (k 2, alpha 1e-4 per term, beta 0.75); PyTorch divides alpha by the size.
        return nn.LocalResponseNorm(g("size"), alpha=1e-4 * g("size"), beta=0.75, k=2.0)
    if kind in ("residual", "bottleneck"):
        block = BasicBlock if kind == "residual" else Bottleneck
        c, out, s = in_shape[0], g("C") * block.expansion, g("stride")
        downsample = None
        if s != 1 or c != out:
            downsample = nn.Sequential(conv1x1(c, out, s), nn.BatchNorm2d(out))
        return block(c, g("C"), s, downsample)
    if kind == "inception":
        conv = partial(BasicConv2d, batch_norm=False)  # GoogLeNet predates batch norm: convs with bias + ReLU
        return Inception(in_shape[0], *(g(n) for n in _INCEPTION_NAMES), conv_block=conv, kernel_5x5=5)
    if kind == "separable":
        return DepthwiseSeparable(in_shape[0], g("C"), g("stride"), batch_norm=True, activation="relu",
                                  kernel_size=g("K"))
    raise BuilderError(f"unknown layer {kind!r}")


def _on_meta() -> bool:
    return torch.empty(0).device.type == "meta"


def build_network(layers: Sequence[LayerSpec] | str, input_size: Sequence[int] = (1, 32, 32), *,
                  reuse: dict[Any, nn.Module] | None = None) -> CustomNet:
    """The :class:`CustomNet` of ``layers`` (or of a text) for an input of ``input_size`` = (C, H, W).

    The shapes are checked on the specs first; a network with more parameters than the
    resource guard allows is refused before any weight is allocated (on the meta device,
    where nothing is allocated, it is built whatever its size, for the analysis).

    ``reuse`` (meta device only) maps (layer index, spec, input shape) to a module built
    before: the layers an edit did not change are taken from it instead of built again.
    """
    text = layers if isinstance(layers, str) else None
    specs = parse(layers) if isinstance(layers, str) else list(layers)
    if not specs:
        raise BuilderError("the network is empty: add a layer")
    steps, _ = walk(specs, input_size, text=text)
    on_meta = _on_meta()
    if reuse is not None and not on_meta:
        raise ValueError("build_network reuses modules on the meta device only")
    if not on_meta:
        total = sum(s.params for s in steps)
        limit = budget().max_params
        if total > limit:
            raise BuilderError(f"refused before allocating anything: the network has {total:,} parameters; "
                               f"the limit is {limit:,}")
    features: OrderedDict[str, nn.Module] = OrderedDict()
    counts: dict[str, int] = {}
    rows: list[tuple[str, ...]] = []
    # the head starts at the last conv or fc layer (what transfer learning replaces)
    weighted = [s.index for s in steps if s.spec.kind in ("conv", "fc")]
    head_from = weighted[-1] if weighted else len(steps)
    head: OrderedDict[str, nn.Module] = OrderedDict()

    def name(kind: str) -> str:
        counts[kind] = counts.get(kind, 0) + 1
        return f"{kind}{counts[kind]}"

    for step in steps:
        part, prefix = (features, "features") if step.index < head_from else (head, "head")
        names = []
        if step.spec.kind == "fc" and len(step.input_shape) == 3:
            flat = name("flatten")
            part[flat] = nn.Flatten()
            names.append(f"{prefix}.{flat}")
        own = name(step.spec.kind)
        if reuse is None:
            part[own] = _module(step.spec, step.input_shape)
        else:
            key = (step.index, step.spec, step.input_shape)
            module = reuse.get(key)  # get + setdefault: safe while another thread clears the dict
            part[own] = module if module is not None else reuse.setdefault(key, _module(step.spec, step.input_shape))
        names.append(f"{prefix}.{own}")
        rows.append(tuple(names))
    return CustomNet(features, head, rows, format_network(specs))


# --------------------------------------------------------------------------- the zoo entry


@register(
    "custom",
    family="custom",
    description=(
        "Your own network, written as text: layers separated by spaces (conv(C,K), maxpool(K), "
        "avgpool(K), gap, relu, tanh, sigmoid, leakyrelu, bn, dropout(p), lrn, flatten, fc(N), "
        "softmax, residual(C), bottleneck(C), inception(...), separable(C), N*( ... )), as the network "
        "builder writes it. Default: LeNet-5 (1998) as the course notes draw it, 61,706 parameters."
    ),
    default_input=(1, 32, 32),
    num_classes=10,
    settings=(Setting("layers", LENET5_TEXT, "The network as text (see the grammar)"),),
    facts=PaperFacts(
        paper="Your own design",
        year=2026,
        new_ideas=("Any stack of the course's layers and blocks, checked shape by shape",),
    ),
)
def custom(*, in_channels: int, input_size: int, num_classes: int, layers: str) -> CustomNet:
    steps, _ = walk(parse(layers), (in_channels, input_size, input_size), text=layers)
    # A network that ends in a vector is a classifier: its outputs are the classes.
    shape = steps[-1].output_shape if steps else ()
    if len(shape) == 1 and shape[0] != num_classes:
        raise BuilderError(f"the network ends with {shape[0]:,} outputs but there are {num_classes:,} classes: "
                           f"end it with fc({num_classes})")
    return build_network(layers, (in_channels, input_size, input_size))

