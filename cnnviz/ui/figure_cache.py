"""One cache for the pages' plotly figures, keyed by the figure builder's inputs.

``st.cache_data`` hands back a fresh copy of a cached value on every call: for a plotly figure that
is an unpickle that re-validates every trace and layout property, 20-40 ms for a ResNet's drawing,
more than building the page around it. A figure given to ``st.plotly_chart`` is only read (Streamlit
copies it into JSON), so the pages share one object per set of inputs with ``st.cache_resource``.
Whoever gets a figure from here must not change it.
"""
from __future__ import annotations

from typing import Callable, TypeVar

import streamlit as st

F = TypeVar("F", bound=Callable)


def figure_cache(max_entries: int = 64) -> Callable[[F], F]:
    """Decorate a pure figure builder: its figures are built once per set of arguments and shared."""
    return st.cache_resource(max_entries=max_entries, show_spinner=False)
