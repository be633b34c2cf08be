"""The one error type for an impossible configuration."""
from __future__ import annotations


class ConfigError(ValueError):
    """An impossible setting: the message names the layer (when there is one) and the rule.

    Example: ``features.6 (Conv2d 5x5, stride 1, padding 0): input 3x3 is smaller than the kernel``.
    """

    def __init__(self, message: str, *, layer: str | None = None) -> None:
        super().__init__(message)
        self.layer = layer
