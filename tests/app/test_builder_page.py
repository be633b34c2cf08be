"""AppTest: the Network builder's two views stay in step, errors sit at their row, the link carries the network."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

import cnnviz
from cnnviz import jobs
from cnnviz.jobs import store
from cnnviz.ui import builder as b
from cnnviz.zoo.custom import LENET5_TEXT
from tests.app.pages import open_page

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "builder.py")


def _page(**query: str) -> AppTest:
    return open_page(PAGE, 120, **query)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _kinds(at: AppTest) -> list[str]:
    return [s.value for s in at.selectbox if s.label.startswith("layer ")]


def _text(at: AppTest) -> str:
    return at.text_area(key=b.NET).value


def _arg(at: AppTest, row: int, name: str):  # noqa: ANN202 - an AppTest widget
    return next(w for w in at.number_input if w.key.endswith(f"_{row}_{name}"))


def _button(at: AppTest, row: int, action: str):  # noqa: ANN202
    return next(w for w in at.button if w.key and w.key.endswith(f"_{row}_{action}"))


def test_opens_on_lenet5_with_the_course_numbers() -> None:
    at = _page()
    assert _text(at) == LENET5_TEXT
    assert _metric(at, "Parameters") == "61,706" and _metric(at, "Output") == "10"
    assert _kinds(at) == ["conv", "tanh", "avgpool", "conv", "tanh", "avgpool", "fc", "tanh", "fc", "tanh", "fc"]
    shapes = [m.value for m in at.markdown if m.value.startswith("→")]
    assert [s.split("**")[1] for s in shapes[:6]] == ["28x28x6", "28x28x6", "14x14x6", "10x10x16", "10x10x16",
                                                      "5x5x16"]
    assert "156 params" in shapes[0]


def test_text_edit_updates_table_and_totals() -> None:
    at = _page()
    at.text_area(key=b.NET).set_value("conv(8,3,padding=same) relu maxpool(2) fc(10)").run()
    assert not at.exception
    assert _kinds(at) == ["conv", "relu", "maxpool", "fc"]
    assert _metric(at, "Parameters") == f"{(9 + 1) * 8 + (16 * 16 * 8 + 1) * 10:,}"
    assert at.query_params[b.NET] == "conv(8,3,padding=same) relu maxpool(2) fc(10)"


def test_table_edit_updates_text() -> None:
    at = _page()
    _arg(at, 0, "C").set_value(8).run()
    assert _text(at).startswith("conv(8,5) tanh")
    assert _metric(at, "Parameters") == f"{61_706 - 156 + 208 - 2400 + 3200:,}"
    _button(at, 1, "delete").click().run()
    assert _text(at).startswith("conv(8,5) avgpool(2) conv(16,5)")
    _button(at, 0, "duplicate").click().run()
    assert _text(at).startswith("conv(8,5) conv(8,5) avgpool(2)")
    _button(at, 2, "up").click().run()
    assert _text(at).startswith("conv(8,5) avgpool(2) conv(8,5)")
    next(s for s in at.selectbox if s.label == "New layer").set_value("softmax").run()
    next(w for w in at.button if w.label == "Add layer").click().run()
    assert _text(at).endswith("fc(10) softmax")
    next(s for s in at.selectbox if s.label == "layer 1").set_value("maxpool").run()
    assert _text(at).startswith("maxpool(5) avgpool(2)")  # the kernel size carries over; C has no place
    assert not at.exception


def test_an_impossible_layer_shows_its_message_at_its_row() -> None:
    at = _page(**{b.NET: "conv(6,5) relu conv(16,40) fc(10)", b.C: "1", b.H: "32", b.W: "32"})
    errors = [e.value for e in at.error]
    assert any(e.startswith("Row 3: ") and "kernel 40 larger than the input 28x28" in e for e in errors), errors
    assert _metric(at, "Parameters") == "?"
    assert _kinds(at) == ["conv", "relu", "conv", "fc"]  # every row stays editable


def test_a_malformed_text_keeps_the_last_network_on_screen() -> None:
    at = _page()
    at.text_area(key=b.NET).set_value("conv(6,5) tanh avgpool(2 fc(10)").run()
    assert not at.exception
    assert any("expected" in e.value for e in at.error)
    assert any(c.value.endswith("^") for c in at.code)  # the caret under the token
    assert _metric(at, "Parameters") == "61,706"  # still LeNet-5 while the text is being fixed
    assert len(_kinds(at)) == 11


def test_the_link_carries_the_network_and_input() -> None:
    text = "conv(16,3,padding=1) relu 2*(conv(16,3,padding=1) relu) gap fc(10)"
    at = _page(**{b.NET: text, b.C: "3", b.H: "32", b.W: "32"})
    assert _text(at) == text and at.number_input(key=b.C).value == 3
    assert _kinds(at) == ["conv", "relu", "repeat", "gap", "fc"]
    assert at.query_params[b.NET] == text and at.query_params[b.C] == "3"
    assert _metric(at, "Parameters") == f"{(27 + 1) * 16 + 2 * (9 * 16 + 1) * 16 + (16 + 1) * 10:,}"


def test_a_new_input_size_keeps_the_rows_widgets() -> None:
    """The rows' widget keys follow the text, not the input size: new keys would make the browser build every
    row's widgets again on each click of the input size (seconds on a long network)."""
    at = _page()
    keys = sorted(w.key for w in at.selectbox if w.key and w.key.startswith("b_"))
    at.number_input(key=b.H).set_value(40).run()
    assert not at.exception and _metric(at, "Parameters") != "61,706"  # the numbers did change
    assert sorted(w.key for w in at.selectbox if w.key and w.key.startswith("b_")) == keys
    at.text_area(key=b.NET).set_value("conv(6,5) relu fc(10)").run()
    assert sorted(w.key for w in at.selectbox if w.key and w.key.startswith("b_")) != keys  # a new text: new rows


def test_hostile_link_text_is_shown_as_plain_text() -> None:
    hostile = "conv(6,5) [**click me**](http://example.com)"
    at = _page(**{b.NET: hostile})
    shown = " ".join(e.value for e in at.error)
    assert "'\\[" in shown and "'[" not in shown  # escaped: shown as written, never rendered
    assert any(hostile in c.value for c in at.code)  # the caret line is a code block: plain text
    assert not at.exception


def test_start_from_replaces_the_network() -> None:
    at = _page()
    at.selectbox(key="b_start").set_value("VGG-11").run()
    assert _text(at) == b.PRESETS["VGG-11"].text
    assert _metric(at, "Parameters") == "132,863,336" and at.number_input(key=b.H).value == 224


def test_train_it_opens_the_training_lab_on_this_network() -> None:
    query = b.train_query(LENET5_TEXT, (1, 32, 32))
    assert query == {"tr_part": "Train", "tr_model": "custom", "tr_m_custom_layers": LENET5_TEXT, "tr_ds": "mnist",
                     "tr_img": "32"}
    at = open_page(str(ROOT / "pages" / "training.py"), 120, **query)
    assert at.selectbox(key="tr_model").value == "custom"
    assert at.text_area(key="tr_m_custom_layers").value == LENET5_TEXT
    assert at.number_input(key="tr_img").value == 32


def test_compare_opens_this_network_as_model_1() -> None:
    text = "conv(6,5) relu maxpool(2) fc(10)"
    at = open_page(str(ROOT / "pages" / "compare.py"), 120, **b.compare_query(text, (1, 32, 32)))
    assert at.selectbox(key="c1_model").value == "custom"
    assert at.text_area(key="c1_layers").value == text
    assert any(f"{(25 + 1) * 6 + (14 * 14 * 6 + 1) * 10:,}" in str(t.value) for t in at.table)


def test_the_explorer_opens_writable_models_and_says_why_not_for_the_others() -> None:
    at = open_page(str(ROOT / "pages" / "explorer.py"), 120, ex_model="vgg11")
    shown = [str(p.proto) for p in at.get("page_link")] + [m.value for m in at.markdown]
    assert any("Open vgg11 in the network builder" in s for s in shown), shown
    at = open_page(str(ROOT / "pages" / "explorer.py"), 120, ex_model="densenet121")
    assert any("cannot be written in the network builder" in c.value for c in at.caption)


def _check(at: AppTest) -> AppTest:
    return at.button(key="b_check").click().run()


def test_a_challenge_link_loads_its_start_and_checks_it() -> None:
    from cnnviz.challenges import get_challenge

    challenge = get_challenge("exact-760")
    at = _page(**{b.CHALLENGE: "exact-760"})
    assert _text(at) == challenge.start and at.number_input(key=b.C).value == 3
    _check(at)
    table = at.dataframe[0].value
    assert list(table["condition"]) == ["output", "parameters"] and list(table["result"]) == ["met", "not met"]
    at.button(key="b_answer").click().run()
    assert _text(at) == challenge.solution
    _check(at)
    assert any("Target reached" in s.value for s in at.success)


def test_fix_the_broken_network_shows_the_impossible_row_then_passes() -> None:
    from cnnviz.challenges import get_challenge

    at = _page(**{b.CHALLENGE: "fix-broken"})
    assert any(e.value.startswith("Row 7: ") for e in at.error)
    _check(at)
    assert any(e.value.startswith("Not yet: ") for e in at.error)
    at.text_area(key=b.NET).set_value(get_challenge("fix-broken").solution).run()
    _check(at)
    assert any("Target reached" in s.value for s in at.success)


def test_a_training_challenge_trains_only_a_network_that_meets_the_other_conditions() -> None:
    at = _page(**{b.CHALLENGE: "small-mnist"})  # starts from LeNet-5: far more than 10,000 parameters
    _check(at)
    assert b.CH_RUN not in at.session_state
    at.text_area(key=b.NET).set_value("conv(8,5) bn relu maxpool(2) conv(16,5) bn relu maxpool(2) fc(10)").run()
    _check(at)
    _, _, job_id = at.session_state[b.CH_RUN]
    view = jobs.get(job_id)
    assert view.kind == "train" and not view.ended  # in a job worker, never in the server
    spec = store.load(job_id).params["config"]
    assert spec["model"] == "custom" and spec["dataset"] == "mnist"
    jobs.cancel(job_id, view.owner)
    assert jobs.wait(job_id, 120).state == "stopped"


def test_see_inside_asks_to_train_a_network_without_weights() -> None:
    text = "conv(4,3) relu maxpool(2) fc(10)"
    at = open_page(str(ROOT / "pages" / "inside.py"), 120, **b.inside_query(text, (1, 28, 28)))
    assert at.text_area(key="in_layers").value == text
    assert any("has no trained weights yet" in i.value for i in at.info)


def test_the_numbers_table_shows_every_row_of_lenet5(monkeypatch) -> None:  # noqa: ANN001 - pytest's fixture
    """LeNet-5's 11 rows all show, its output layer included, without an inner scroll (Streamlit's "auto"
    height stops at about ten rows)."""
    import streamlit as st

    from cnnviz.ui import state

    calls: list[dict] = []
    original = st.dataframe

    def recording(data, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append({"rows": len(data), **kwargs})
        return original(data, *args, **kwargs)

    monkeypatch.setattr(st, "dataframe", recording)
    _page(b_tab="Every layer's numbers")
    (call,) = [c for c in calls if c["rows"] == 11]
    shown = (call["height"] - 3) // call["row_height"] - 1  # the header takes one row, the frame 3 px
    assert shown == 11 and call["row_height"] == state.TABLE_ROW_PX
