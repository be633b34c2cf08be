"""Lecture sequences: views of the app (a page, its settings, a note) in the order a lecture walks them.

A sequence travels in its link, so it needs no server state::

    from cnnviz import sequences
    token = sequences.encode(sequences.READY["lenet-to-resnet"])
    sequences.decode(token).views[0].page   # "explorer"

The token is JSON -> zlib -> base64url. A link comes from anyone, so :func:`decode` bounds every
size (the token, the unpacked JSON, the views, the notes, the settings) and checks every field;
anything else is a :class:`ConfigError` with a message a person can read.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Collection

from cnnviz.errors import ConfigError

MAX_TOKEN = 6_000  # characters of the link's token: a 30-view sequence with notes packs into about 3,000
MAX_JSON = 64_000  # bytes once unpacked: a zip bomb stops here
MAX_VIEWS = 40
MAX_NOTE = 600
MAX_TITLE = 120
MAX_SETTINGS = 40  # query parameters of one view
MAX_KEY = 40
MAX_VALUE = 2_000
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PAGE = re.compile(r"^[a-z][a-z0-9_]*$")
FORMAT = 1  # bumped when the JSON changes; an older link then gets a clear message


@dataclass(frozen=True)
class View:
    """One step of a sequence: ``page`` (the page's file stem, e.g. ``explorer``) opened with ``query``."""

    page: str
    query: dict[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Sequence:
    """A titled list of views."""

    title: str
    views: tuple[View, ...]

    def __len__(self) -> int:
        return len(self.views)


def to_json(seq: Sequence) -> dict[str, Any]:
    """The sequence as the JSON object its link carries (short keys: the link stays short)."""
    return {"v": FORMAT, "t": seq.title,
            "s": [{"p": v.page, "q": dict(v.query), "n": v.note} for v in seq.views]}


def encode(seq: Sequence) -> str:
    """The link token of ``seq`` (checked first, so a token that encodes is a token that decodes)."""
    check(seq)
    raw = json.dumps(to_json(seq), separators=(",", ":"), ensure_ascii=False).encode()
    token = base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")
    if len(token) > MAX_TOKEN:
        raise ConfigError(f"this sequence is too long for a link ({len(token):,} characters, at most "
                          f"{MAX_TOKEN:,}): remove some views or shorten the notes")
    return token


def _unpack(token: str) -> Any:
    if not isinstance(token, str) or not token:
        raise ConfigError("the link carries no sequence")
    if len(token) > MAX_TOKEN:
        raise ConfigError(f"the sequence in this link is too long ({len(token):,} characters, at most {MAX_TOKEN:,})")
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        unzip = zlib.decompressobj()
        raw = unzip.decompress(packed, MAX_JSON)
    except (binascii.Error, ValueError, zlib.error):
        raise ConfigError("this link's sequence is damaged (it may have been cut off when copied)") from None
    if unzip.unconsumed_tail:
        raise ConfigError(f"the sequence in this link unpacks to more than {MAX_JSON:,} bytes")
    if not unzip.eof:
        raise ConfigError("this link's sequence is damaged (it may have been cut off when copied)")
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ConfigError("this link's sequence is damaged (it may have been cut off when copied)") from None


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"the sequence's {what} must be text")
    if len(value) > limit:
        raise ConfigError(f"the sequence's {what} is longer than {limit} characters")
    return value


def _view(item: Any, number: int) -> View:
    if not isinstance(item, dict) or set(item) - {"p", "q", "n"}:
        raise ConfigError(f"view {number} of the sequence is not a view")
    page = _text(item.get("p"), f"view {number}'s page", 40)
    query = item.get("q", {})
    if not isinstance(query, dict):
        raise ConfigError(f"view {number}'s settings are not a list of names and values")
    settings = {_text(k, f"view {number}'s setting name", MAX_KEY): _text(v, f"view {number}'s setting", MAX_VALUE)
                for k, v in query.items()}
    return View(page, settings, _text(item.get("n", ""), f"view {number}'s note", MAX_NOTE))


def check(seq: Sequence, pages: Collection[str] | None = None) -> Sequence:
    """``seq`` if every bound holds (and every page is one of ``pages``, when given); else a ConfigError."""
    _text(seq.title, "title", MAX_TITLE)
    if not seq.views:
        raise ConfigError("the sequence has no views")
    if len(seq.views) > MAX_VIEWS:
        raise ConfigError(f"the sequence has {len(seq.views)} views, at most {MAX_VIEWS}")
    for number, view in enumerate(seq.views, 1):
        if not _PAGE.match(view.page) or (pages is not None and view.page not in pages):
            raise ConfigError(f"view {number} names a page this app does not have")
        if len(view.query) > MAX_SETTINGS:
            raise ConfigError(f"view {number} has {len(view.query)} settings, at most {MAX_SETTINGS}")
        bad = next((k for k in view.query if not _KEY.match(k)), None)
        if bad is not None:
            raise ConfigError(f"view {number} has a setting name that is not a name")
        _text(view.note, f"view {number}'s note", MAX_NOTE)
    return seq


def decode(token: str, pages: Collection[str] | None = None) -> Sequence:
    """The sequence in a link's token; a ConfigError says what is wrong with a damaged or hostile one."""
    data = _unpack(token)
    if not isinstance(data, dict) or data.get("v") != FORMAT or not isinstance(data.get("s"), list):
        raise ConfigError("this link does not hold a lecture sequence this version of the app can read")
    if len(data["s"]) > MAX_VIEWS:
        raise ConfigError(f"the sequence has {len(data['s'])} views, at most {MAX_VIEWS}")
    views = tuple(_view(item, n) for n, item in enumerate(data["s"], 1))
    return check(Sequence(_text(data.get("t", ""), "title", MAX_TITLE), views), pages)


# ---------------------------------------------------------------------------------------------
# Ready sequences that walk the course
# ---------------------------------------------------------------------------------------------
ARITHMETIC = "Conv & pool arithmetic"


def _lab(note: str, **settings: object) -> View:
    return View("layer_lab", {"ll_sec": ARITHMETIC, **{k: str(v) for k, v in settings.items()}}, note)


def _net(model: str, note: str, **settings: object) -> View:
    return View("explorer", {"ex_model": model, **{k: str(v) for k, v in settings.items()}}, note)


READY: dict[str, Sequence] = {
    "lenet-to-resnet": Sequence("From LeNet to ResNet", (
        View("home", {}, "ImageNet's winners year by year: the error fell from 28% to 3.6% as the networks got "
                         "deeper. The next views open each of them."),
        _net("lenet5", "LeNet-5 (1998): CONV-POOL-CONV-POOL-FC-FC on 32x32 digits, about 60K parameters."),
        _net("alexnet_paper", "AlexNet (2012): 227x227x3 in, 96 filters 11x11 at stride 4, ReLU, dropout, two "
                              "GPUs. 61M parameters, most of them in the fully connected layers."),
        _net("zfnet", "ZFNet (2013): AlexNet with a 7x7 stride-2 CONV1 and more filters."),
        _net("vgg16", "VGG-16 (2014): only 3x3 convolutions, 138M parameters, 15.5G MACs.", ex_tab="Layer table"),
        _lab("Why 3x3: three stacked 3x3 layers see 7x7 like one 7x7 layer, with fewer weights.",
             ll_sec="1x1 & bottlenecks"),
        _net("googlenet", "GoogLeNet (2014): Inception modules with 1x1 bottlenecks, no FC layers, about 7M "
                          "parameters."),
        _net("plain34", "A plain 34-layer network: deeper, yet it trains worse than a shallower one."),
        _net("resnet34", "ResNet-34 (2015): the same network with skip connections."),
        _net("resnet50", "ResNet-50: bottleneck blocks (1x1 down, 3x3, 1x1 up) keep 50 layers cheap."),
    )),
    "convolution-cost": Sequence("What a convolution costs", (
        _lab("The course notes' exercise: 32x32x3, ten 5x5 filters, stride 1, pad 2. Output size and parameters?",
             ll_kind="conv", ll_h=32, ll_w=32, ll_c=3, ll_f=5, ll_k=10, ll_s=1, ll_pad="number", ll_p=2),
        _lab("No padding: the output shrinks by F - 1 = 4.", ll_kind="conv", ll_h=32, ll_w=32, ll_c=3, ll_f=5,
             ll_k=10, ll_s=1, ll_pad="valid"),
        _lab("AlexNet CONV1: (227 - 11)/4 + 1 = 55, 96 filters of 11x11x3 + 1 = 34,944 parameters.",
             ll_kind="conv", ll_h=227, ll_w=227, ll_c=3, ll_f=11, ll_k=96, ll_s=4, ll_pad="valid"),
        _lab("AlexNet POOL1: 3x3 at stride 2, 55 -> 27, and no parameters at all.", ll_kind="max", ll_h=55,
             ll_w=55, ll_c=96, ll_f=3, ll_s=2, ll_pad="valid"),
        _lab("VGG's 3x3 convolution on 224x224x64: 36,928 parameters but 1.85G MACs, one per weight per "
             "output position.", ll_kind="conv", ll_h=224, ll_w=224, ll_c=64, ll_f=3, ll_k=64, ll_s=1,
             ll_pad="same"),
        _lab("A 1x1 convolution changes the depth only: 28x28x192 -> 28x28x32.", ll_kind="conv", ll_h=28,
             ll_w=28, ll_c=192, ll_f=1, ll_k=32, ll_s=1, ll_pad="valid"),
        _lab("The bottleneck trick: a 1x1 convolution first makes the 5x5 one ten times cheaper.",
             ll_sec="1x1 & bottlenecks"),
        _lab("Depthwise 3x3 (MobileNet): each filter sees one channel, groups = depth.", ll_kind="conv",
             ll_h=112, ll_w=112, ll_c=32, ll_f=3, ll_k=32, ll_s=1, ll_pad="same", ll_g=32, ll_bias=0),
        _net("vgg16", "Where a whole network's cost sits: VGG-16's MACs are in the early convolutions, its "
                      "parameters in the fully connected layers.", ex_tab="Charts"),
    )),
}
