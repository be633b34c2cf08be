"""The browser's owner key: who a run, a checkpoint or a class-board entry belongs to.

Every browser gets a random key (128 bits, so it cannot be guessed) kept in a cookie, so a reload, a
reconnect or a second tab of the same browser is the same owner, and a link shared with a classmate
is not: links carry settings and job ids, never the key. No personal data is involved.
"""
from __future__ import annotations

import re
import secrets

import streamlit as st

COOKIE = "cnnviz_owner"
KEY = "owner_key"
MAX_AGE_S = 180 * 24 * 3600  # a term and a half: a student keeps their runs through a course
_VALID = re.compile(r"[A-Za-z0-9_-]{22}")


def is_owner_key(text: object) -> bool:
    """Whether ``text`` looks like a key this module made (a cookie is user-supplied: check it)."""
    return isinstance(text, str) and _VALID.fullmatch(text) is not None


def new_owner_key() -> str:
    """A fresh key: 16 random bytes, URL-safe base64 (22 characters)."""
    return secrets.token_urlsafe(16)


def owner_key() -> str:
    """This browser's key: the cookie's when it holds a valid one, else a new one written to the cookie."""
    if KEY not in st.session_state:
        cookie = st.context.cookies.get(COOKIE)
        st.session_state[KEY] = cookie if is_owner_key(cookie) else new_owner_key()
    key = st.session_state[KEY]
    if st.context.cookies.get(COOKIE) != key and not st.session_state.get(f"{KEY}_written"):
        # The cookie is read by the server on the next page load (st.context.cookies), so it is written
        # from the page itself, once per session; the key is URL-safe, so it needs no quoting.
        st.html(f"<script>document.cookie = '{COOKIE}={key}; path=/; max-age={MAX_AGE_S}; SameSite=Lax';</script>",
                unsafe_allow_javascript=True)
        st.session_state[f"{KEY}_written"] = True
    return key
