"""AppTest: the Lecture sequences page lists the ready sequences with their links, opens a shared one, shows every
note and title as text, and answers a damaged link with a message."""
from __future__ import annotations

from pathlib import Path

import pytest

from cnnviz import sequences
from tests.app.pages import open_page

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "sequence.py")


def test_ready_sequences_each_with_a_link() -> None:
    at = open_page(PAGE, 60)
    labels = [e.label for e in at.expander]
    for ready in sequences.READY.values():
        assert f"{ready.title} ({len(ready)} views)" in labels
        assert any(c.value.endswith("sequence?seq=" + sequences.encode(ready)) for c in at.code)
    assert any("No views yet" in i.value for i in at.info)


def test_a_shared_sequence_opens_with_its_notes_as_text() -> None:
    seq = sequences.Sequence("Week 3 <b>bold</b>", (
        sequences.View("explorer", {"ex_model": "vgg16"}, "**not bold** [a link](http://example.com)"),
        sequences.View("layer_lab", {"ll_f": "3"}, ""),
    ))
    token = sequences.encode(seq)
    at = open_page(PAGE, 60, seq=token)
    assert at.header[0].value == "Week 3 \\<b\\>bold\\</b\\>"  # escaped: shown exactly as written
    text = " ".join(m.value for m in at.markdown)
    assert "\\*\\*not bold\\*\\* \\[a link\\]" in text and "(no note)" in text
    assert at.code[0].value.endswith("sequence?seq=" + token)


def test_a_damaged_or_hostile_link_gets_a_message() -> None:
    for token in ("not-a-sequence", sequences.encode(sequences.READY["lenet-to-resnet"])[:-30]):
        at = open_page(PAGE, 60, seq=token)
        assert at.error and "cannot be opened" in at.error[0].value


READY_VIEWS = [(name, n, view) for name, seq in sequences.READY.items() for n, view in enumerate(seq.views, 1)]


@pytest.mark.parametrize("name, number, view", READY_VIEWS, ids=[f"{name}-{n}" for name, n, _ in READY_VIEWS])
def test_every_ready_view_opens_its_page_with_every_setting_taken(name: str, number: int,
                                                                  view: sequences.View) -> None:
    at = open_page(str(ROOT / "pages" / f"{view.page}.py"), 120, **view.query)
    assert not [w.value for w in at.warning if "Ignored" in w.value], "a setting the page does not take"
    assert not at.error
    unused = [key for key in view.query if key not in at.session_state]  # no widget of the page reads it
    assert not unused
