"""Network in Network: Lin, Chen & Yan, 2013 (ICLR 2014), the CIFAR-10 model.

Each "mlpconv" block is a spatial convolution followed by two 1x1 convolutions: a small
multi-layer perceptron slid over the image. The last 1x1 conv outputs one map per class and
global average pooling turns each map into a class score: no fully connected layer.
Layer sizes follow the authors' Caffe model for CIFAR-10 (``cifar10_nin``).
"""
from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import Any

import torch
from torch import nn

from cnnviz.zoo.base import ACTIVATIONS, ZooModel, make_activation
from cnnviz.zoo.registry import PaperFacts, Setting, register


def mlpconv(
    in_channels: int,
    widths: tuple[int, ...],
    kernel_size: int,
    pool: nn.Module | None = None,
    *,
    activation: str = "relu",
    batch_norm: bool = False,
    dropout: float = 0.0,
) -> nn.Sequential:
    """An mlpconv block: a ``kernel_size`` conv then 1x1 convs (each + activation), then pooling and dropout."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels = in_channels
    for i, out in enumerate(widths, start=1):
        k = kernel_size if i == 1 else 1
        layers[f"conv{i}"] = nn.Conv2d(channels, out, k, padding=k // 2)
        if batch_norm:
            # Not in the paper (batch norm came in 2015).
            layers[f"bn{i}"] = nn.BatchNorm2d(out)
        layers[f"act{i}"] = make_activation(activation)
        channels = out
    if pool is not None:
        layers["pool"] = pool
        if dropout > 0:
            layers["dropout"] = nn.Dropout(dropout)
    return nn.Sequential(layers)


class NiN(ZooModel):
    """Three mlpconv blocks, then a 1x1 conv to the classes and global average pooling."""

    head_name = "classifier.conv"

    def __init__(
        self,
        *,
        in_channels: int = 3,
        num_classes: int = 10,
        activation: str = "relu",
        batch_norm: bool = False,
        dropout: float = 0.5,
        width_mult: float = 1.0,
    ) -> None:
        super().__init__()
        c192, c160, c96 = (max(1, int(round(c * width_mult))) for c in (192, 160, 96))
        block = partial(mlpconv, activation=activation, batch_norm=batch_norm, dropout=dropout)
        # The pools are 3x3 stride 2 in ceil mode, as Caffe pools: 32 -> 16 -> 8.
        self.features = nn.Sequential(
            OrderedDict(
                block1=block(in_channels, (c192, c160, c96), 5, nn.MaxPool2d(3, 2, ceil_mode=True)),
                block2=block(c96, (c192, c192, c192), 5, nn.AvgPool2d(3, 2, ceil_mode=True)),
                block3=block(c192, (c192, c192), 3),
            )
        )
        # The third block's last 1x1 conv has one output map per class. As in the authors'
        # Caffe model, a ReLU follows it before the global average pooling.
        self.classifier = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(c192, num_classes, 1),
                act=make_activation(activation),
                pool=nn.AdaptiveAvgPool2d(1),
                flatten=nn.Flatten(),
            )
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x)


@register(
    "nin",
    family="nin",
    description=(
        "Network in Network (Lin, Chen & Yan, 2013), the CIFAR-10 model: three mlpconv blocks "
        "(a 5x5/5x5/3x3 conv followed by two 1x1 convs: 192-160-96, 192-192-192, 192-192-classes), "
        "3x3 stride-2 max- then average-pooling with dropout 0.5 after the first two blocks, and "
        "global average pooling of the last 1x1 conv's maps as the classifier: no fully connected "
        "layer. Sizes from the authors' Caffe model (ceil-mode pooling: 32 -> 16 -> 8); 966,986 "
        "parameters."
    ),
    default_input=(3, 32, 32),
    num_classes=10,
    min_input=4,
    settings=(
        Setting("activation", "relu", "Non-linearity after every conv", choices=ACTIVATIONS),
        Setting("batch_norm", False, "BatchNorm after every conv of the mlpconv blocks (not in the paper)"),
        Setting("dropout", 0.5, "Dropout after the first two blocks", min=0.0, max=0.9),
        Setting("width_mult", 1.0, "Width multiplier for the 192/160/96 channels", min=0.05, max=4.0),
    ),
    facts=PaperFacts(
        paper="Lin, Chen & Yan, 2013. Network in network (ICLR 2014)",
        year=2013,
        ilsvrc="Not an ILSVRC entry: CIFAR-10 test error 10.41%, 8.81% with data augmentation (state of the art then)",
        new_ideas=(
            "1x1 convolutions: a micro multi-layer perceptron (mlpconv) at every position",
            "1x1 convs change the number of channels cheaply (later used by GoogLeNet and ResNet)",
            "Global average pooling instead of fully connected layers",
        ),
        notes_numbers="1x1 convolutions: 28x28x192 -> CONV 1x1, 32 filters, ReLU -> 28x28x32",
    ),
)
def nin(*, in_channels: int, input_size: int, num_classes: int, **settings: Any) -> NiN:
    # Global average pooling makes the net independent of input_size.
    return NiN(in_channels=in_channels, num_classes=num_classes, **settings)
