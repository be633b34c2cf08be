"""AppTest: the Class board page with a lecturer and two students (each an AppTest session with its own owner
key, as three browsers), on SQLite and on a real PostgreSQL server; and "Send to class board" in the builder."""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cnnviz.ui import board as b
from cnnviz.ui.owner import KEY
from tests.postgres import postgres_server

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "board.py")
BUILDER = str(ROOT / "pages" / "builder.py")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('board_page') / 'classroom.sqlite3'}"
    else:
        with postgres_server() as url:
            yield url


@pytest.fixture(autouse=True)
def use_database(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CNNVIZ_DATABASE_URL", database)
    yield
    st.cache_resource.clear()  # let go of the pooled connections before the server stops


def browser(path: str = PAGE, owner: str | None = None, **query: str) -> AppTest:
    """A session of the page as one browser (its owner key, as the cookie would give it)."""
    at = AppTest.from_file(path, default_timeout=120)
    at.session_state[KEY] = owner or secrets.token_urlsafe(16)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


def text_input(at: AppTest, label: str):  # noqa: ANN201 - an AppTest widget
    return next(t for t in at.text_input if t.label == label)


def button(at: AppTest, label: str):  # noqa: ANN201
    return next(x for x in at.button if x.label == label)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def open_class(title: str = "CNNs week 3") -> AppTest:
    lecturer = browser()
    text_input(lecturer, "Class title (optional)").set_value(title)
    button(lecturer, "Open a class").click().run()
    assert not lecturer.exception and not errors(lecturer)
    return lecturer


def join(code: str, name: str, owner: str | None = None) -> AppTest:
    student = browser(owner=owner, join=code)
    assert text_input(student, "Class code").value == code  # the students' link fills the code in
    text_input(student, "Display name").set_value(name)
    button(student, "Join").click().run()
    return student


def board_rows(at: AppTest) -> list[tuple[str, str]]:
    frames = [d.value for d in at.dataframe if "student" in d.value.columns]
    return [] if not frames else list(zip(frames[-1]["student"], frames[-1]["what"]))


def send(owner: str, title: str, params: int, accuracy: float) -> None:
    """What a page's "Send to class board" does for this browser (the component on its own)."""
    def page(title: str, params: int, accuracy: float) -> None:
        from cnnviz.ui.board import send_to_board
        send_to_board({"kind": "experiment", "title": title, "params": params, "accuracy": accuracy}, key="t")

    at = AppTest.from_function(page, args=(title, params, accuracy), default_timeout=60)
    at.session_state[KEY] = owner
    at.run()
    button(at, "Send to class board").click().run()
    assert not at.exception and [s.value for s in at.success][-1].startswith("Sent to the board")


def test_two_students_reach_the_lecturers_board_and_a_third_class_sees_none() -> None:
    lecturer = open_class()
    code, secret = lecturer.query_params[b.CLASS_PARAM], lecturer.query_params[b.SECRET_PARAM]
    assert any(code[:5] in h.value for h in lecturer.header)
    ada_key, bob_key = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    ada = join(code, "Ada", ada_key)
    assert not errors(ada) and any("as Ada" in s.value for s in ada.success)
    join(f"{code[:5]}-{code[5:]}".lower(), "Bob", bob_key)

    send(ada_key, "plain 20 vs 56 layers", 270_000, 0.91)
    send(bob_key, "residual 56 layers", 850_000, 0.93)
    lecturer.run()  # what the board's fragment does every second (the 2 s are timed in the browser test)
    assert sorted(board_rows(lecturer)) == [("Ada", "plain 20 vs 56 layers"), ("Bob", "residual 56 layers")]
    assert any(c.value.startswith("2 entries; 2 with both") for c in lecturer.caption)
    assert len(lecturer.get("plotly_chart")) == 1  # parameters against accuracy

    other = open_class("Another class")
    other_code = other.query_params[b.CLASS_PARAM]
    carol_key = secrets.token_urlsafe(16)
    join(other_code, "Carol", carol_key)
    assert board_rows(other.run()) == []
    assert board_rows(browser(owner=carol_key)) == []  # Carol's page shows her class's board: empty
    # Carol with the first class's lecturer link (a link seen on the projector) is refused
    stolen = browser(owner=carol_key, **{b.CLASS_PARAM: code, b.SECRET_PARAM: secret})
    assert board_rows(stolen) == [] and any("Only the lecturer" in e for e in errors(stolen))


def test_restarting_the_app_loses_nothing() -> None:
    lecturer = open_class()
    code = lecturer.query_params[b.CLASS_PARAM]
    ada_key = secrets.token_urlsafe(16)
    join(code, "Ada", ada_key)
    send(ada_key, "LeNet-5", 61_706, 0.98)
    lecturer_key = lecturer.session_state[KEY]
    query = {name: lecturer.query_params[name] for name in (b.CLASS_PARAM, b.SECRET_PARAM)}
    st.cache_resource.clear()  # a restarted server: a new store on the same database, no session left
    again = browser(owner=lecturer_key, **query)
    assert board_rows(again) == [("Ada", "LeNet-5")]
    ada_again = browser(owner=ada_key)  # the student's browser comes back still in class
    assert any("as Ada" in s.value for s in ada_again.success)
    assert any("LeNet-5" in t.value for t in ada_again.text)


@pytest.mark.parametrize("name, message", [
    ("A" * 10_000, "too long"),
    ("<img src=x onerror=alert(1)>", "may hold letters"),
    ("**bold** [link](http://x)", "may hold letters"),
])
def test_hostile_names_are_refused_with_a_clear_message(name: str, message: str) -> None:
    code = open_class().query_params[b.CLASS_PARAM]
    student = join(code, name)
    assert not student.exception
    assert any(message in e for e in errors(student))
    assert not any("as " in s.value for s in student.success)


def test_wrong_reused_and_malformed_codes_are_refused() -> None:
    lecturer = open_class()
    code = lecturer.query_params[b.CLASS_PARAM]
    lecturer.checkbox(key="board_confirm").check().run()
    button(lecturer, "Close the class").click().run()
    assert any("has ended" in i.value for i in lecturer.info)
    assert any("has ended" in e for e in errors(join(code, "Dan")))
    assert any("No class has the code" in e for e in errors(join("7K3QD-9XW2M", "Dan")))
    assert any("10 letters and digits" in e for e in errors(join("<script>", "Dan")))


def test_the_lecturer_hides_a_name_and_clears_the_board() -> None:
    lecturer = open_class()
    code = lecturer.query_params[b.CLASS_PARAM]
    ada_key = secrets.token_urlsafe(16)
    join(code, "Ada", ada_key)
    send(ada_key, "tiny net", 1_000, 0.5)
    lecturer.run()
    lecturer.selectbox(key="board_who").select("Ada")
    button(lecturer, "Hide the name").click().run()
    assert board_rows(lecturer) == [("(name hidden)", "tiny net")]
    lecturer.checkbox(key="board_confirm").check().run()
    button(lecturer, "Clear the board").click().run()
    assert board_rows(lecturer) == [] and any("No entries yet" in i.value for i in lecturer.info)


def test_the_builder_sends_its_network_once_the_session_has_joined() -> None:
    alone = browser(BUILDER, b_tab="Train, compare, export")
    assert not alone.exception and not any(x.label == "Send to class board" for x in alone.button)
    lecturer = open_class()
    ada_key = secrets.token_urlsafe(16)
    join(lecturer.query_params[b.CLASS_PARAM], "Ada", ada_key)
    builder = browser(BUILDER, owner=ada_key, b_tab="Train, compare, export")
    button(builder, "Send to class board").click().run()
    assert not builder.exception
    rows = board_rows(lecturer.run())
    assert len(rows) == 1 and rows[0][0] == "Ada" and rows[0][1].startswith("conv(6,5")


def test_a_checked_challenge_goes_to_the_board_with_its_result() -> None:
    lecturer = open_class()
    ada_key = secrets.token_urlsafe(16)
    join(lecturer.query_params[b.CLASS_PARAM], "Ada", ada_key)
    builder = browser(BUILDER, owner=ada_key, b_ch="exact-760", b_net="conv(10,5,padding=same)")
    builder.button(key="b_check").click().run()
    builder.button(key="board_send_challenge").click().run()
    assert not builder.exception
    entry = lecturer.run().dataframe[-1].value.iloc[0]
    assert (entry["student"], entry["kind"], entry["parameters"], entry["accuracy"], entry["result"]) == (
        "Ada", "Challenge", "760", "unknown", "target reached")


def test_an_unusable_database_is_reported_on_the_board_page_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_DATABASE_URL", "mysql://someone@localhost/board")
    page = browser()
    assert not page.exception and any("runs on PostgreSQL or SQLite" in e for e in errors(page))
    builder = browser(BUILDER, b_tab="Train, compare, export")
    assert not builder.exception and not errors(builder)


def test_a_practice_score_goes_to_the_board() -> None:
    from cnnviz import exercises

    lecturer = open_class()
    ada_key = secrets.token_urlsafe(16)
    join(lecturer.query_params[b.CLASS_PARAM], "Ada", ada_key)
    practice = browser(str(ROOT / "pages" / "practice.py"), owner=ada_key)
    assert not any(x.label == "Send to class board" for x in practice.button), "nothing answered: nothing to send"
    truth = exercises.EXERCISES["notes-output"].answers()["output"]
    boxes = [t for t in practice.text_input if t.label == exercises.KINDS["output"]]
    boxes[0].set_value("x".join(map(str, truth))).run()
    boxes = [t for t in practice.text_input if t.label == exercises.KINDS["output"]]
    boxes[1].set_value("1x1x1").run()
    button(practice, "Send to class board").click().run()
    assert not practice.exception
    entry = lecturer.run().dataframe[-1].value.iloc[0]
    assert (entry["student"], entry["kind"], entry["result"]) == ("Ada", "Practice", "1 of 2 right")
    assert entry["accuracy"] not in ("unknown", "")
