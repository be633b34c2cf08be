"""Convolution filters as pictures: the first layer's as RGB or grey patches, deeper ones per channel."""
from __future__ import annotations

import numpy as np
from torch import nn

from cnnviz.errors import ConfigError


def conv_layers(model: nn.Module) -> list[str]:
    """Dotted names of the model's ``nn.Conv2d`` layers in definition order."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def _conv(model: nn.Module, name: str) -> nn.Conv2d:
    try:
        module = model.get_submodule(name)
    except AttributeError:
        raise ConfigError(f"the model has no layer {name!r}") from None
    if not isinstance(module, nn.Conv2d):
        raise ConfigError(f"{name!r} is a {type(module).__name__}, not a convolution")
    if module.weight.is_meta:
        raise ConfigError("the model has no weights yet (built on the meta device)")
    return module


def first_layer_patches(model: nn.Module, name: str | None = None) -> np.ndarray:
    """The first conv layer's filters as (N, kh, kw, 3) RGB or (N, kh, kw) grey patches in [0, 1].

    Each filter is scaled by the largest absolute weight of the whole layer, around mid-grey
    (0.5 = weight 0), so filters can be compared with each other. A first layer with other
    than 1 or 3 input channels is shown channel by channel (:func:`channel_kernels`).
    """
    names = conv_layers(model)
    if not names:
        raise ConfigError("the model has no convolution layer")
    conv = _conv(model, name or names[0])
    w = conv.weight.detach().float().cpu().numpy()
    if w.shape[1] not in (1, 3):
        raise ConfigError(f"{name or names[0]} has {w.shape[1]} input channels per filter: show it per channel")
    scale = float(np.abs(w).max()) or 1.0
    patches = 0.5 + 0.5 * w / scale
    return patches[:, 0] if w.shape[1] == 1 else patches.transpose(0, 2, 3, 1)


def channel_kernels(model: nn.Module, name: str, out_channel: int) -> np.ndarray:
    """The (in_channels_per_group, kh, kw) weights of filter ``out_channel`` of conv layer ``name``."""
    conv = _conv(model, name)
    if not 0 <= out_channel < conv.out_channels:
        raise ConfigError(f"{name} has filters 0 to {conv.out_channels - 1}, not {out_channel}")
    return conv.weight[out_channel].detach().float().cpu().numpy()

