"""The class board's store, against SQLite and against a real PostgreSQL server (tests/postgres.py)."""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from cnnviz.classroom import ClassStore, read_code, show_code
from cnnviz.classroom.codes import ALPHABET, BITS, new_code, new_secret, secret_hash, secret_matches
from cnnviz.classroom.models import Base
from cnnviz.classroom.store import FAILED_JOINS_PER_BROWSER, HIDDEN_NAME, _engine
from cnnviz.errors import ConfigError
from tests.postgres import postgres_server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('board') / 'classroom.sqlite3'}"
    else:
        with postgres_server() as pg_url:
            yield pg_url


@pytest.fixture
def store(url: str) -> Iterator[ClassStore]:
    opened = ClassStore(url)
    yield opened
    opened.close_connections()


def key() -> str:
    """A browser's owner key, as cnnviz/ui/owner.py makes them."""
    return secrets.token_urlsafe(16)


def builder_entry(params: int, accuracy: float | None) -> dict:
    return {"kind": "builder", "title": "conv(6,5) relu maxpool(2) fc(10)", "params": params, "accuracy": accuracy}


def test_two_students_reach_the_board_and_a_third_class_sees_none_of_it(store: ClassStore, url: str) -> None:
    lecturer, ada, bob = key(), key(), key()
    opened = store.open_class(lecturer, "CNN basics")
    assert len(opened.code) == 10 and opened.shown_code == f"{opened.code[:5]}-{opened.code[5:]}"
    store.join(opened.shown_code.lower(), ada, "Ada")  # as typed off a projector
    store.join(opened.code, bob, "Bob")
    replica = ClassStore(url)  # a second server replica on the same database
    replica.submit(opened.code, ada, builder_entry(11_850, 0.97))
    store.submit(opened.code, bob, {"kind": "challenge", "title": "Under 10k parameters", "params": 9_000,
                                    "accuracy": None, "result": "target reached"})
    board = replica.board(opened.code, lecturer, opened.secret)
    assert [(e.name, e.kind, e.params, e.accuracy, e.result) for e in board.entries] == [
        ("Ada", "builder", 11_850, 0.97, ""), ("Bob", "challenge", 9_000, None, "target reached")]
    assert board.lecturer and [s.name for s in board.students] == ["Ada", "Bob"]
    # a student sees the board as projected, without the lecturer's list of students
    assert [e.name for e in store.board(opened.code, ada).entries] == ["Ada", "Bob"]
    assert store.board(opened.code, ada).students == ()
    assert [e.title for e in store.my_entries(opened.code, bob)] == ["Under 10k parameters"]

    other_lecturer, carol = key(), key()
    third = store.open_class(other_lecturer, "Another class")
    store.join(third.code, carol, "Carol")
    assert store.board(third.code, other_lecturer, third.secret).entries == ()
    assert store.board(third.code, carol).entries == ()
    with pytest.raises(ConfigError, match="not joined"):
        store.board(opened.code, carol)
    with pytest.raises(ConfigError, match="Only the lecturer"):
        store.board(opened.code, other_lecturer, third.secret)
    with pytest.raises(ConfigError, match="not joined"):
        store.submit(opened.code, carol, builder_entry(1, 0.5))
    replica.close_connections()


def test_restarting_loses_nothing(store: ClassStore, url: str) -> None:
    lecturer, ada = key(), key()
    opened = store.open_class(lecturer)
    store.join(opened.code, ada, "Ada")
    store.submit(opened.code, ada, builder_entry(61_706, 0.98))
    store.close_connections()
    restarted = ClassStore(url)  # migrations run again: a no-op on an up-to-date database
    assert [m.code for m in restarted.memberships(ada)] == [opened.code]
    assert [e.params for e in restarted.board(opened.code, lecturer, opened.secret).entries] == [61_706]
    restarted.close_connections()


def test_students_cannot_change_each_others_entries(store: ClassStore) -> None:
    lecturer, ada, bob = key(), key(), key()
    opened = store.open_class(lecturer)
    store.join(opened.code, ada, "Ada")
    store.join(opened.code, bob, "Bob")
    ada_entry = store.submit(opened.code, ada, builder_entry(100, 0.5))
    with pytest.raises(ConfigError, match="not yours"):
        store.withdraw(opened.code, bob, ada_entry)
    for who, secret in ((bob, opened.secret), (ada, opened.secret), (lecturer, new_secret()), (lecturer, "x")):
        with pytest.raises(ConfigError, match="Only the lecturer"):
            store.clear(opened.code, who, secret)
    store.withdraw(opened.code, ada, ada_entry)
    assert store.board(opened.code, lecturer, opened.secret).entries == ()


def test_the_lecturer_hides_a_name_clears_the_board_and_closes_the_class(store: ClassStore) -> None:
    lecturer, ada, bob = key(), key(), key()
    opened = store.open_class(lecturer)
    store.join(opened.code, ada, "Ada")
    store.join(opened.code, bob, "Bob")
    store.submit(opened.code, ada, builder_entry(100, 0.5))
    store.submit(opened.code, bob, builder_entry(200, 0.6))
    store.hide(opened.code, lecturer, opened.secret, "ada")
    board = store.board(opened.code, lecturer, opened.secret)
    assert [e.name for e in board.entries] == [HIDDEN_NAME, "Bob"]
    assert [(s.name, s.hidden) for s in board.students] == [("Ada", True), ("Bob", False)]
    assert [e.name for e in store.board(opened.code, bob).entries] == [HIDDEN_NAME, "Bob"]
    store.hide(opened.code, lecturer, opened.secret, "Ada", hidden=False)
    assert store.board(opened.code, bob).entries[0].name == "Ada"

    assert store.clear(opened.code, lecturer, opened.secret) == 2
    assert store.board(opened.code, lecturer, opened.secret).entries == ()
    store.close(opened.code, lecturer, opened.secret)
    assert store.board(opened.code, lecturer, opened.secret).closed
    with pytest.raises(ConfigError, match="has ended"):
        store.submit(opened.code, ada, builder_entry(1, 0.1))
    with pytest.raises(ConfigError, match="has ended"):  # a reused code
        store.join(opened.code, key(), "Dan")
    assert store.memberships(ada) == []


@pytest.mark.parametrize("name, message", [
    ("A" * 10_000, "too long"),
    ("x" * 33, "too long"),
    ("<b>bold</b>", "not '/' '<' '>'"),
    ("**Ada**", "not '\\*'"),
    ("[me](http://evil)", "not"),
    ("<script>alert(1)</script>", "not"),
    ("Ada\u0000", "U\\+0000"),
    ("   ", "Enter a display name"),
])
def test_hostile_names_are_refused_with_a_clear_message(store: ClassStore, name: str, message: str) -> None:
    opened = store.open_class(key())
    with pytest.raises(ConfigError, match=message):
        store.join(opened.code, key(), name)


def test_names_are_unique_in_a_class_and_a_rejoin_renames(store: ClassStore) -> None:
    lecturer, ada = key(), key()
    opened = store.open_class(lecturer)
    store.join(opened.code, ada, "Ada")
    with pytest.raises(ConfigError, match="already called"):
        store.join(opened.code, key(), "ADA")
    store.join(opened.code, ada, "Ada L.")
    assert [s.name for s in store.board(opened.code, lecturer, opened.secret).students] == ["Ada L."]


@pytest.mark.parametrize("raw, message", [
    ({"kind": "essay", "title": "x"}, "kind is one of"),
    ({"kind": "builder", "title": ""}, "needs a title"),
    ({"kind": "builder", "title": "x" * 301}, "at most 300"),
    ({"kind": "builder", "title": "x", "params": -1}, "whole number"),
    ({"kind": "builder", "title": "x", "params": 1.5}, "whole number"),
    ({"kind": "builder", "title": "x", "accuracy": 97}, "fraction from 0 to 1"),
    ({"kind": "builder", "title": "x", "accuracy": float("nan")}, "fraction from 0 to 1"),
    ({"kind": "builder", "title": "x", "owner": "someone else"}, "no field owner"),
    ({"kind": "practice", "title": "x", "result": "a\nb"}, "one line"),
])
def test_bad_submissions_are_refused(store: ClassStore, raw: dict, message: str) -> None:
    lecturer, ada = key(), key()
    opened = store.open_class(lecturer)
    store.join(opened.code, ada, "Ada")
    with pytest.raises(ConfigError, match=message):
        store.submit(opened.code, ada, raw)
    assert store.board(opened.code, lecturer, opened.secret).entries == ()


@pytest.mark.parametrize("code", ["", "123", "ABCDE-FGHJ!", "A" * 10_000, "ABCDEFGHJKM"])
def test_malformed_codes_are_refused(store: ClassStore, code: str) -> None:
    with pytest.raises(ConfigError, match="class code"):
        store.join(code, key(), "Ada")


def test_guessing_codes_is_rate_limited_per_browser(store: ClassStore) -> None:
    opened = store.open_class(key())
    guesser = key()
    for _ in range(FAILED_JOINS_PER_BROWSER):
        wrong = new_code()
        with pytest.raises(ConfigError, match=f"No class has the code {show_code(wrong)}"):
            store.join(wrong, guesser, "Eve")
    with pytest.raises(ConfigError, match="Too many wrong class codes from this browser"):
        store.join(opened.code, guesser, "Eve")  # even the right code, until the window passes
    store.join(opened.code, key(), "Ada")  # other browsers are not held up


def test_class_codes_are_readable_and_hard_to_guess() -> None:
    codes = {new_code() for _ in range(2_000)}
    assert len(codes) == 2_000 and BITS >= 50
    assert set("".join(codes)) == set(ALPHABET)  # every symbol used: the entropy is really 5 bits each
    assert read_code(" 7k3qd-9xw2m ") == "7K3QD9XW2M"
    assert read_code("OIL00-11111") == "01100" + "11111"  # O read as 0, I and L as 1
    secret = new_secret()
    assert secret_matches(secret, secret_hash(secret))
    assert not secret_matches(secret[:-1] + ("A" if secret[-1] != "A" else "B"), secret_hash(secret))
    assert not secret_matches(None, secret_hash(secret))


def test_the_migrations_make_exactly_the_models_schema(store: ClassStore) -> None:
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


@pytest.mark.parametrize("bad, message", [
    ("not a url", "not a database URL"),
    ("mysql://u@localhost/db", "runs on PostgreSQL or SQLite"),
])
def test_a_bad_database_url_gets_a_clear_message(bad: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _engine(bad)


def test_an_unreachable_database_gets_a_clear_message_without_the_password(tmp_path: Path) -> None:
    from tests.browser.server import free_port
    with pytest.raises(ConfigError, match="cannot be used") as caught:
        ClassStore(f"postgresql://ada:hunter2@127.0.0.1:{free_port()}/db")
    assert "hunter2" not in str(caught.value)
