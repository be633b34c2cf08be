"""Lecture sequences: the link round-trips, and a damaged or hostile link gets a clear message."""
from __future__ import annotations

import base64
import json
import zlib

import pytest

from cnnviz import sequences as sq
from cnnviz.errors import ConfigError

PAGES = {"home", "layer_lab", "explorer", "compare", "builder"}


def _token(data: object) -> str:
    raw = json.dumps(data).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


@pytest.mark.parametrize("name", list(sq.READY))
def test_ready_sequences_round_trip(name: str) -> None:
    seq = sq.READY[name]
    token = sq.encode(seq)
    assert len(token) < 2_000, "a ready sequence's link stays short"
    assert sq.decode(token, PAGES) == seq


def test_round_trip_keeps_unicode_markup_and_order() -> None:
    seq = sq.Sequence("Mein Vortrag: 3×3 <b>", (
        sq.View("explorer", {"ex_model": "vgg16"}, "Größe & Kosten: **fett** <script>x</script>"),
        sq.View("layer_lab", {"ll_f": "3", "ll_sec": "Conv & pool arithmetic"}, ""),
        sq.View("home"),
    ))
    again = sq.decode(sq.encode(seq))
    assert again == seq
    assert [v.page for v in again.views] == ["explorer", "layer_lab", "home"]


@pytest.mark.parametrize("token, message", [
    ("", "no sequence"),
    ("!!!not base64!!!", "damaged"),
    (base64.urlsafe_b64encode(b"plain text, not zlib").decode(), "damaged"),
    (_token({"v": 1, "t": "x", "s": []}), "no views"),
    (_token({"v": 99, "t": "x", "s": [{"p": "home"}]}), "can read"),
    (_token([1, 2, 3]), "can read"),
    (_token({"v": 1, "t": "x", "s": [{"p": "../../etc/passwd"}]}), "page"),
    (_token({"v": 1, "t": "x", "s": [{"p": "secret_admin"}]}), "page"),
    (_token({"v": 1, "t": "x", "s": [{"p": "home", "q": {"a": 1}}]}), "must be text"),
    (_token({"v": 1, "t": "x", "s": [{"p": "home", "q": ["a"]}]}), "settings"),
    (_token({"v": 1, "t": "x", "s": [{"p": "home", "q": {"<img src=x>": "1"}}]}), "not a name"),
    (_token({"v": 1, "t": "x", "s": [{"p": "home", "n": "x" * 5000}]}), "longer than"),
    (_token({"v": 1, "t": "x", "s": [{"p": "home", "evil": 1}]}), "not a view"),
    (_token({"v": 1, "t": "x", "s": [{"p": "home"}] * 1000}), "at most"),
    ("A" * (sq.MAX_TOKEN + 1), "too long"),
])
def test_hostile_links_get_a_clear_message(token: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sq.decode(token, PAGES)


def test_a_zip_bomb_stops_at_the_bound() -> None:
    bomb = zlib.compress(b'{"v":1,"t":"' + b"a" * 3_000_000 + b'"}', 9)
    token = base64.urlsafe_b64encode(bomb).decode().rstrip("=")
    assert len(token) <= sq.MAX_TOKEN
    with pytest.raises(ConfigError, match="more than"):
        sq.decode(token)


def test_a_cut_off_link_is_damaged() -> None:
    token = sq.encode(sq.READY["lenet-to-resnet"])
    with pytest.raises(ConfigError):
        sq.decode(token[: len(token) // 2])


def test_too_long_a_sequence_does_not_encode() -> None:
    import secrets
    views = tuple(sq.View("home", {}, secrets.token_hex(250)) for _ in range(sq.MAX_VIEWS))
    with pytest.raises(ConfigError, match="too long for a link"):
        sq.encode(sq.Sequence("big", views))
