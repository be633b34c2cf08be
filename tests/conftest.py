"""Fixtures shared by every test."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def cnnviz_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point ``$CNNVIZ_HOME`` at a fresh folder for the test session (never the user's cache)."""
    home = tmp_path_factory.mktemp("cnnviz_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNVIZ_HOME", str(home))
        yield home
