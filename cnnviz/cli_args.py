"""Command-line text shared by the sub-commands: ``--set key=value`` lists."""
from __future__ import annotations

from typing import Sequence

from cnnviz.errors import ConfigError


def parse_settings(items: Sequence[str]) -> dict[str, str]:
    """``["width_mult=0.5", "batch_norm=true"]`` -> a dict (values converted later by the model's schema)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: write settings as key=value, e.g. --set width_mult=0.5")
        out[key.strip()] = value.strip()
    return out
