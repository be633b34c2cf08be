"""Where cnnviz keeps what it makes: datasets, checkpoints, caches.

Everything lives under ``$CNNVIZ_HOME`` (default ``~/.cache/cnnviz``), so tests and
servers can point it elsewhere.
"""
from __future__ import annotations

import os
from pathlib import Path

from cnnviz.errors import ConfigError


def _folder(path: Path, what: str) -> Path:
    """``path`` created if needed and writable, else ConfigError (a file in the way, no permission, a full disk)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError("not writable")
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cnnviz cannot use its folder for {what} ({reason}); the server's CNNVIZ_HOME "
                          "must name a writable folder") from None
    return path


def home() -> Path:
    """The cnnviz folder, created on first use."""
    return _folder(Path(os.environ.get("CNNVIZ_HOME", Path.home() / ".cache" / "cnnviz")).expanduser(), "its files")


def subdir(name: str) -> Path:
    """A folder under :func:`home`, created on first use."""
    return _folder(home() / name, name)


def data_dir() -> Path:
    """Where torchvision datasets are downloaded (``$CNNVIZ_DATA`` overrides)."""
    env = os.environ.get("CNNVIZ_DATA")
    if env:
        return _folder(Path(env).expanduser(), "data")
    return subdir("data")


def checkpoint_dir() -> Path:
    """Where trained models are saved."""
    return subdir("checkpoints")
