"""AppTest: hostile uploads on Seeing inside and the augmentation studio: a clear message, names shown as text."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz.inspect import images, weights
from tests.app.pages import open_page

ROOT = Path(__file__).resolve().parents[2]
EVIL_NAME = "[log in](http://evil.example) ![x](http://evil.example/a.png).png"


def png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 128).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(autouse=True)
def quick_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "DEMO_EPOCHS", 1)


def _upload(page: str, key: str, name: str, data: bytes, **query: str) -> AppTest:
    at = open_page(str(ROOT / "pages" / page), 180, **query)
    at.file_uploader(key=key).set_value((name, data, "image/png")).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _markdown_texts(at: AppTest) -> list[str]:
    texts = [e.value for kind in ("error", "warning", "info", "caption", "markdown") for e in getattr(at, kind)]
    texts += [str(im.proto) for im in at.get("image")]
    return texts


@pytest.mark.parametrize("page, key, query", [("inside.py", "in_upload", {"in_src": "upload"}),
                                              ("augment.py", "ag_up", {"ag_src": "upload"})])
@pytest.mark.parametrize("size", [(10000, 2), (60000, 1), (10, 10000)])
def test_thin_strip_is_refused_with_the_numbers(page: str, key: str, query: dict[str, str], size: tuple) -> None:
    at = _upload(page, key, "strip.png", png(size, "L"), **query)
    errors = [e.value for e in at.error]
    assert any(f"the limit is {images.MAX_ASPECT}\\:1" in e or f"the limit is {images.MAX_ASPECT}:1" in e
               for e in errors), errors
    assert not any("something went wrong" in e for e in errors), errors


@pytest.mark.parametrize("page, key, query", [("inside.py", "in_upload", {"in_src": "upload"}),
                                              ("augment.py", "ag_up", {"ag_src": "upload"})])
def test_upload_name_is_shown_as_text(page: str, key: str, query: dict[str, str]) -> None:
    at = _upload(page, key, EVIL_NAME, png((300, 200)), **query)
    assert not at.error, [e.value for e in at.error]
    joined = "\n".join(_markdown_texts(at))
    assert "log in" in joined  # the name is shown ...
    assert "[log in](" not in joined and "![x](" not in joined  # ... but never as a link or an image


# -- crafted checkpoints: every page still works and names the unusable files -----------------------
@pytest.mark.parametrize("page, query", [
    ("inside.py", {"in_model": "lenet5", "in_weights": "random"}),
    ("inside.py", {"in_model": "vgg16", "in_weights": "random", "in_src": "photo"}),
    ("training.py", {}),
])
def test_crafted_checkpoints_do_not_break_a_page(page: str, query: dict[str, str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from cnnviz import paths
    from tests.test_checkpoints_hostile import MARKER, crafted

    monkeypatch.setenv("CNNVIZ_HOME", str(tmp_path))
    MARKER.unlink(missing_ok=True)
    reasons = crafted(paths.checkpoint_dir())
    at = open_page(str(ROOT / "pages" / page), 180, **query)
    assert not at.error, [e.value for e in at.error]
    assert not MARKER.exists()
    if page == "inside.py":
        listed = " ".join(m.value for m in at.markdown)
        unreadable = {"truncated", "malicious", "not-torch"}
        expected = unreadable | ({"huge-head"} if query["in_model"] == "vgg16" else set(reasons) - {"huge-head"})
        for stem in expected:
            assert f"**{stem}** (unusable)" in listed.replace("\\-", "-"), stem
        assert "**good** (unusable)" not in listed
