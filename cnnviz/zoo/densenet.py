"""DenseNet-BC (Huang et al. 2017): every layer sees the feature maps of all layers before it.

One configurable :class:`DenseNet`, in the style of torchvision's ``models/densenet.py``
(same module names and ``state_dict``, same forward) without its memory-efficient
checkpointing. Activation modules keep torchvision's names (``relu0``, ``relu1``, ...)
whatever the ``activation`` setting says.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.errors import ConfigError
from cnnviz.zoo.base import ACTIVATIONS, ZooModel, make_activation
from cnnviz.zoo.registry import PaperFacts, Setting, register

# The activation after the final batch norm, applied functionally as torchvision does.
_FUNCTIONAL_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": partial(F.relu, inplace=True),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def _norm(channels: int, batch_norm: bool) -> nn.Module:
    """BatchNorm2d, or nn.Identity when batch norm is switched off."""
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


class _DenseLayer(nn.Module):
    """BN-ReLU-Conv1x1 (to bn_size * k channels) then BN-ReLU-Conv3x3 (to k = growth_rate channels)."""

    def __init__(
        self, num_input_features: int, growth_rate: int, bn_size: int, drop_rate: float, activation: str,
        batch_norm: bool,
    ) -> None:
        super().__init__()
        bias = not batch_norm  # without BN the convolutions need their own bias
        self.norm1 = _norm(num_input_features, batch_norm)
        self.relu1 = make_activation(activation)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=bias)
        self.norm2 = _norm(bn_size * growth_rate, batch_norm)
        self.relu2 = make_activation(activation)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=bias)
        # torchvision calls F.dropout in forward; a module shows up in the layer list.
        self.dropout = nn.Dropout(drop_rate) if drop_rate > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu1(self.norm1(x)))
        out = self.conv2(self.relu2(self.norm2(out)))
        if self.dropout is not None:
            out = self.dropout(out)
        return out


class _DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers; layer i gets the concatenation of the block input and layers 1..i-1."""

    def __init__(
        self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int, drop_rate: float,
        activation: str, batch_norm: bool,
    ) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(
                num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate, activation, batch_norm
            )
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features: torch.Tensor) -> torch.Tensor:
        # torchvision passes the list and concatenates inside the layer; same computation.
        features = [init_features]
        for layer in self.values():
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    """BN-ReLU-Conv1x1 (compressing the channels) and 2x2 average pooling between dense blocks."""

    def __init__(self, num_input_features: int, num_output_features: int, activation: str, batch_norm: bool) -> None:
        super().__init__()
        self.norm = _norm(num_input_features, batch_norm)
        self.relu = make_activation(activation)
        self.conv = nn.Conv2d(
            num_input_features, num_output_features, kernel_size=1, stride=1, bias=not batch_norm
        )
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(ZooModel):
    """DenseNet-BC: a 7x7/2 conv and 3x3/2 max pool, 4 dense blocks joined by transitions, BN, GAP, FC."""

    head_name = "classifier"

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: tuple[int, ...] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        compression: float = 0.5,
        drop_rate: float = 0.0,
        activation: str = "relu",
        batch_norm: bool = True,
        in_channels: int = 3,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        if not 0 < compression <= 1:
            raise ConfigError(f"compression must be in (0, 1], got {compression}")
        if not 0 <= drop_rate < 1:
            raise ConfigError(f"drop_rate must be in [0, 1), got {drop_rate}")
        self.activation = activation

        self.features = nn.Sequential(
            OrderedDict(
                [
                    (
                        "conv0",
                        nn.Conv2d(
                            in_channels, num_init_features, kernel_size=7, stride=2, padding=3, bias=not batch_norm
                        ),
                    ),
                    ("norm0", _norm(num_init_features, batch_norm)),
                    ("relu0", make_activation(activation)),
                    ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
                ]
            )
        )

        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size, growth_rate, drop_rate, activation, batch_norm)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                # theta = compression; torchvision's num_features // 2 is theta = 0.5.
                out_features = max(1, math.floor(num_features * compression))
                transition = _Transition(num_features, out_features, activation, batch_norm)
                self.features.add_module(f"transition{i + 1}", transition)
                num_features = out_features

        self.features.add_module("norm5", _norm(num_features, batch_norm))
        self.classifier = nn.Linear(num_features, num_classes)
        if not self.classifier.weight.is_meta:  # meta tensors hold no values: nothing to initialise
            self._init_weights()

    def _init_weights(self) -> None:
        """torchvision's initialisation."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return _FUNCTIONAL_ACTIVATIONS[self.activation](self.features(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        out = F.adaptive_avg_pool2d(x, (1, 1))
        out = torch.flatten(out, 1)
        return self.classifier(out)


DENSENET_FACTS = PaperFacts(
    paper="Gao Huang, Zhuang Liu, Laurens van der Maaten, Kilian Q. Weinberger, 2017. "
    "Densely Connected Convolutional Networks",
    year=2017,
    new_ideas=(
        "Dense connectivity: inside a block each layer gets the concatenation of all earlier feature maps "
        "(L(L+1)/2 connections), so features are reused and gradients reach early layers directly",
        "Growth rate k: each layer adds only k new channels (32 for DenseNet-121/169/201, 48 for 161)",
        "Bottleneck (B): a 1x1 conv to 4k channels before each 3x3 conv; compression (C): transitions halve "
        "the channels (theta = 0.5) before 2x2 average pooling",
        "Pre-activation order BN-ReLU-Conv; far fewer parameters than a ResNet of similar accuracy",
    ),
    notes_numbers="Listed among the networks after ResNet (DenseNets)",
)


def _settings(growth_rate: int) -> tuple[Setting, ...]:
    return (
        Setting("growth_rate", growth_rate, "k: channels each dense layer adds", min=1, max=256),
        Setting("bn_size", 4, "The bottleneck 1x1 conv outputs bn_size * k channels", min=1, max=16),
        Setting("compression", 0.5, "theta: a transition keeps this fraction of the channels", min=0.05, max=1.0),
        Setting(
            "drop_rate", 0.0, "Dropout after each dense layer (the paper: 0.2 on CIFAR without augmentation)",
            min=0.0, max=0.9,
        ),
        Setting("activation", "relu", "Activation inside the BN-act-conv units", choices=ACTIVATIONS),
        Setting("batch_norm", True, "Batch norm before every conv and at the end (off: the convs get a bias)"),
    )


def _factory(block_config: tuple[int, int, int, int], num_init_features: int) -> Callable[..., DenseNet]:
    def factory(*, in_channels: int, input_size: int, num_classes: int, **settings: Any) -> DenseNet:
        # The global average pool makes the net independent of input_size (at least 29 pixels).
        return DenseNet(
            block_config=block_config, num_init_features=num_init_features, in_channels=in_channels,
            num_classes=num_classes, **settings,
        )

    return factory


for _depth, _growth, _blocks, _init, _params in (
    (121, 32, (6, 12, 24, 16), 64, "8.0M"),
    (161, 48, (6, 12, 36, 24), 96, "28.7M"),
    (169, 32, (6, 12, 32, 32), 64, "14.1M"),
    (201, 32, (6, 12, 48, 32), 64, "20.0M"),
):
    register(
        f"densenet{_depth}",
        family="densenet",
        description=(
            f"DenseNet-{_depth} (DenseNet-BC, Huang et al. 2017), torchvision's densenet{_depth}: 7x7 conv "
            f"{_init}, 4 dense blocks of {'/'.join(map(str, _blocks))} layers with growth rate {_growth}, "
            f"transitions with compression 0.5, {_params} parameters."
        ),
        settings=_settings(_growth),
        facts=DENSENET_FACTS,
        torchvision=f"densenet{_depth}",
        min_input=29,
    )(_factory(_blocks, _init))
