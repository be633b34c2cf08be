"""Fuzz every page through its URL: hostile query-parameter values never raise, never show a traceback."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))
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
    keys = widget_keys(first)
    assert keys or path.endswith("home.py"), f"{path} binds no widget to the URL"
    rng = random.Random(path)
    for round_ in range(5):
        params = {k: rng.choice(HOSTILE) for k in keys}
        at = run_page(path, params)
        assert_clean(at, f"{path} with {params}")
    at = run_page(path, {"unknown_param": "1", **{k: "x" * 5000 for k in keys}})
    assert_clean(at, f"{path} with long values")
