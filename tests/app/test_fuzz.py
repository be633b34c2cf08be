"""Fuzz every page through its URL: hostile query-parameter values never raise, never show a traceback."""
from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.ui import board

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))
# link parameters a page reads without a widget bound to them (the class board's student and lecturer links)
LINK_PARAMS = {"pages/board.py": [board.JOIN_PARAM, board.CLASS_PARAM, board.SECRET_PARAM]}
HOSTILE = ["-1", "0", "-0", "1e309", "99999999999999999999", "nan", "inf", "abc", "", "1,2,3", "💥🧠",
           "<script>alert(1)</script>", "x" * 5000, "None", "true", "0x10", "3.5", " 7 ", "\u202e12"]


def widget_keys(at: AppTest) -> list[str]:
    keys = []
    for kind in ("number_input", "slider", "selectbox", "radio", "toggle", "checkbox", "text_input",
                 "multiselect", "select_slider", "text_area"):
        for w in getattr(at, kind, []):
            if w.key and not w.key.startswith("$$"):
                keys.append(w.key)
    return sorted(set(keys))


def run_page(path: str, params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / path), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    return at


def assert_clean(at: AppTest, context: str) -> None:
    assert not at.exception, f"{context}: {[e.message for e in at.exception]}"
    for err in at.error:
        assert "Traceback" not in str(err.value), context


@pytest.mark.parametrize("path", PAGES)
def test_hostile_query_params(path):
    first = run_page(path, {})
    assert_clean(first, path)
    keys = widget_keys(first) + LINK_PARAMS.get(path, [])
    assert keys or path.endswith("home.py"), f"{path} binds no widget to the URL"
    rng = random.Random(path)
    for round_ in range(5):
        params = {k: rng.choice(HOSTILE) for k in keys}
        at = run_page(path, params)
        assert_clean(at, f"{path} with {params}")
    at = run_page(path, {"unknown_param": "1", **{k: "x" * 5000 for k in keys}})
    assert_clean(at, f"{path} with long values")


# -- injection: every value from a link is shown as text, and every ignored one is named --------------
EVIL = ["[log in](http://evil.example/login)", "![i](http://evil.example/a.png)",
        "<img src=http://evil.example/b.png>", "www.evil.example", ":red[evil] :material/home:"]
RENDERED = ["](http://evil", "<img src=http:", "http://evil", "www.evil", ":red[evil", ":material/home:"]
"""What a Markdown body would hold if a value had been rendered (escaped, each has a backslash inside)."""
TABS = {"pages/inside.py": ("in_tab", ["Activation maps", "Filters", "Receptive field", "Grad-CAM"]),
        "pages/explorer.py": ("ex_tab", ["Network", "Layer table", "Charts", "Export"]),
        "pages/compare.py": ("cmp_tab", ["Cumulative MACs", "Parameters per stage", "Receptive field growth"])}
LINKED_TEXT = ("text_input", "text_area")  # any short text is a valid value: shown in its box, not as Markdown


def markdown_bodies(at: AppTest) -> list[str]:
    """The text of every element that renders Markdown, image captions included."""
    out = [e.value for kind in ("markdown", "caption", "warning", "error", "info", "success", "title", "header",
                                "subheader") for e in getattr(at, kind)]
    return out + [str(im.proto) for im in at.get("image")]


def shown(markdown: str) -> str:
    """What Markdown with backslash escapes shows."""
    return re.sub(r"\\(.)", r"\1", markdown)


def assert_shown_as_text(at: AppTest, context: str) -> None:
    for body in markdown_bodies(at):
        for mark in RENDERED:
            assert mark not in body, f"{context}: a link value rendered as Markdown: {body[:300]}"


def warned_keys(at: AppTest) -> dict[str, str]:
    out = {}
    for w in at.warning:
        m = re.match(r"Ignored the link's setting (\w+)=", w.value)
        if m:
            out[m.group(1)] = shown(w.value)
    return out


def run_with(path: str, params: dict[str, str], lecture: bool = False) -> AppTest:
    at = AppTest.from_file(str(ROOT / path), default_timeout=180)
    if lecture:
        at.session_state["lecture"] = True
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    return at


def text_keys(at: AppTest) -> set[str]:
    return {w.key for kind in LINKED_TEXT for w in getattr(at, kind, []) if w.key}


@pytest.mark.parametrize("lecture", [False, True], ids=["normal", "lecture"])
@pytest.mark.parametrize("path", PAGES)
def test_link_values_are_warned_about_and_shown_as_text(path: str, lecture: bool) -> None:
    first = run_with(path, {}, lecture)
    keys = {k for k in widget_keys(first) if k in first.query_params}  # the widgets bound to the URL
    tab = TABS.get(path)
    for i, evil in enumerate(EVIL):
        params = {k: evil for k in keys}
        if tab:
            params[tab[0]] = evil
        at = run_with(path, params, lecture)
        context = f"{path} ({'lecture' if lecture else 'normal'}) with every key = {evil!r}"
        assert_clean(at, context)
        assert_shown_as_text(at, context)
        warned = warned_keys(at)
        expected = (set(widget_keys(at)) & keys) - text_keys(at) | ({tab[0]} if tab else set())
        assert expected <= set(warned), f"{context}: no warning for {sorted(expected - set(warned))}"
        for key in expected:
            shown = warned[key].replace("\u2060", "")  # the invisible joiner that stops auto-links
            assert repr(evil[:40]) in shown, (context, warned[key])  # the value, literally


@pytest.mark.parametrize("path, query", [
    ("pages/explorer.py", {"ex_model": "vgg16", "ex_in_channels": "1000000", "ex_input_size": "200000",
                           "ex_tab": "Layer table"}),
    ("pages/explorer.py", {"ex_model": "vgg16", "ex_in_channels": "1000000", "ex_input_size": "200000",
                           "ex_tab": "Charts"}),
])
def test_absurd_sizes_from_a_link(path: str, query: dict[str, str]) -> None:
    at = run_with(path, query)
    assert_clean(at, f"{path} {query}")
    assert not at.warning, [w.value for w in at.warning]  # legal values: analysed, nothing ignored


@pytest.mark.parametrize("tab", TABS["pages/inside.py"][1])
def test_seeing_inside_warns_for_every_bad_key_of_each_tab(tab: str) -> None:
    query = {"in_tab": tab, "in_weights": "mnist", "in_layer": "nosuch", "in_sort": "x", "in_per": "7",
             "in_page": "999", "in_fl": "nosuch", "in_fi": "99999", "in_rf_layer": "nosuch", "in_uy": "-3",
             "in_ux": "1e9", "in_uc": "77", "in_cam_k": "9", "in_cam_layer": "nosuch"}
    at = run_with("pages/inside.py", query)
    assert_clean(at, f"inside {tab}")
    rendered = set(widget_keys(at))
    bad = {k for k in query if k not in ("in_tab", "in_weights")} & rendered
    assert bad, f"the {tab} tab draws none of the keys"
    assert bad <= set(warned_keys(at)), f"{tab}: no warning for {sorted(bad - set(warned_keys(at)))}"


def test_lecture_mode_checks_hidden_training_values() -> None:
    at = run_with("pages/training.py", {"tr_subset": "-5", "tr_maxs": "nan", "tr_seed": "1e12", "tr_sched": "x"},
                  lecture=True)
    assert_clean(at, "training, lecture")
    assert {"tr_subset", "tr_maxs", "tr_seed", "tr_sched"} <= set(warned_keys(at))
