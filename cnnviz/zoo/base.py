"""What every zoo model shares: the features / head split, the activation switch and the classic fc classifier."""
from __future__ import annotations

import torch
from torch import nn

from cnnviz.errors import ConfigError

ACTIVATIONS = ("relu", "tanh", "sigmoid")
AFTER_RESNET = "after_resnet"
"""The family of the networks that came after the course's (EfficientNet, RegNet, ConvNeXt, ViT, Swin, ...)."""


def make_activation(name: str, inplace: bool = True) -> nn.Module:
    """``relu`` (as torchvision, in place), ``tanh`` or ``sigmoid``."""
    if name == "relu":
        return nn.ReLU(inplace=inplace)
    if name == "tanh":
        return nn.Tanh()
    if name == "sigmoid":
        return nn.Sigmoid()
    raise ConfigError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


def fc_classifier(in_features: int, hidden: int, num_classes: int, activation: str, dropout: float) -> nn.Sequential:
    """fc6 -> act -> dropout -> fc7 -> act -> dropout -> fc8, the classifier of AlexNet's paper and VGG
    (dropout on the outputs of the two hidden layers)."""
    return nn.Sequential(
        nn.Linear(in_features, hidden),
        make_activation(activation),
        nn.Dropout(p=dropout),
        nn.Linear(hidden, hidden),
        make_activation(activation),
        nn.Dropout(p=dropout),
        nn.Linear(hidden, num_classes),
    )


class ZooModel(nn.Module):
    """Base class: ``forward(x) == forward_head(forward_features(x))`` (timm style).

    Subclasses set ``head_name``: the dotted name of the final classifier layer
    (an ``nn.Linear`` or a 1x1 ``nn.Conv2d``) that transfer learning replaces.
    """

    head_name: str = "fc"

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.get_submodule(self.head_name)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final classifier layer by a fresh one with ``num_classes`` outputs."""
        old = self.get_classifier()
        if isinstance(old, nn.Linear):
            new: nn.Module = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
        elif isinstance(old, nn.Conv2d):
            new = nn.Conv2d(old.in_channels, num_classes, old.kernel_size, old.stride, old.padding)
        else:
            raise TypeError(f"cannot reset a {type(old).__name__} classifier")
        new = new.to(next(old.parameters()).device)
        parent_name, _, child = self.head_name.rpartition(".")
        parent = self.get_submodule(parent_name) if parent_name else self
        setattr(parent, child, new)


def adopt(model: nn.Module, built: nn.Module) -> None:
    """Give ``model`` the modules and parameters of a network built by torchvision's own builder,
    under the same names: the same ``state_dict`` as torchvision's, so its weights load unchanged."""
    for name, param in built.named_parameters(recurse=False):
        model.register_parameter(name, param)
    for name, child in built.named_children():
        model.add_module(name, child)


def set_in_channels(model: nn.Module, path: str, in_channels: int) -> None:
    """Replace the first convolution at ``path`` by one that takes ``in_channels`` (1 = grey images)."""
    old = model.get_submodule(path)
    if not isinstance(old, nn.Conv2d) or old.in_channels == in_channels:
        return
    new = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride, old.padding, old.dilation,
                    old.groups, bias=old.bias is not None, device=old.weight.device)
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, new)
