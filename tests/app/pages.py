"""Run a page of the app with Streamlit's AppTest."""
from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest


def open_page(path: str, timeout: float = 120, **query: Any) -> AppTest:
    """Run the script at ``path`` with ``query`` as its URL's query parameters; fail on an exception."""
    at = AppTest.from_file(path, default_timeout=timeout)
    for key, value in query.items():
        at.query_params[key] = str(value)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at
