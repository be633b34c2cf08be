"""Where cnnviz keeps what it makes: datasets, checkpoints, caches.

Everything lives under ``$CNNVIZ_HOME`` (default ``~/.cache/cnnviz``), so tests and
servers can point it elsewhere.
"""
from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The cnnviz folder, created on first use."""
    path = Path(os.environ.get("CNNVIZ_HOME", Path.home() / ".cache" / "cnnviz")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def subdir(name: str) -> Path:
    """A folder under :func:`home`, created on first use."""
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Where torchvision datasets are downloaded (``$CNNVIZ_DATA`` overrides)."""
    env = os.environ.get("CNNVIZ_DATA")
    if env:
        path = Path(env).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return subdir("data")


def checkpoint_dir() -> Path:
    """Where trained models are saved."""
    return subdir("checkpoints")
