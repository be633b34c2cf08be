"""The resource limits in force, read from the server's environment (see :mod:`cnnviz.guard`, which checks
them against a model's analysis), and :func:`env_whole` for the server's other whole-number settings. Apart
from the guard, so that the zoo, below the analysis, can read them."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from cnnviz.errors import ConfigError


@dataclass(frozen=True)
class Budget:
    max_params: int
    max_activation_bytes: int
    max_training_bytes: int
    max_macs: int


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"the server setting {name}={raw[:40]!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"the server setting {name}={raw[:40]!r} must be a positive finite number")
    return value


def budget() -> Budget:
    """The limits in force (read from the environment each time)."""
    return Budget(
        max_params=int(_env_number("CNNVIZ_MAX_PARAMS", 200e6)),
        max_activation_bytes=int(_env_number("CNNVIZ_MAX_ACTIVATION_MB", 1024) * 2**20),
        max_training_bytes=int(_env_number("CNNVIZ_MAX_TRAIN_MB", 4096) * 2**20),
        max_macs=int(_env_number("CNNVIZ_MAX_GMACS", 60) * 1e9),
    )


def env_whole(name: str, default: int) -> int:
    """A whole-number server setting of at least 1 (ConfigError naming the setting for anything else)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"the server setting {name}={raw[:20]!r} must be a whole number of at least 1")
    return value
