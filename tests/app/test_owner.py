"""The owner key: valid keys are accepted from the cookie, anything else is replaced by a fresh key."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from cnnviz.ui.owner import is_owner_key, new_owner_key


def test_new_keys_are_valid_and_distinct() -> None:
    keys = {new_owner_key() for _ in range(100)}
    assert len(keys) == 100 and all(is_owner_key(k) for k in keys)


def test_hostile_cookie_values_are_not_keys() -> None:
    for value in (None, "", "short", "a" * 23, "<script>alert(1)</script>xxxxxx", "x; path=/; y=zzzzzzzzzzzzz", 5):
        assert not is_owner_key(value)


def _show_key() -> None:
    import streamlit as st

    from cnnviz.ui.owner import owner_key

    st.write(owner_key())
    st.write(owner_key())


def test_one_key_per_session() -> None:
    at = AppTest.from_function(_show_key).run()
    first, second = [m.value for m in at.markdown][-2:]
    assert first == second and is_owner_key(first)
    at.run()
    assert [m.value for m in at.markdown][-1] == first
