"""Small teaching networks: the Keras MNIST MLP and the "(Conv x n + MaxPool) x m" pattern.

* ``mlp``: the course notes' Keras example: Flatten -> Dense 512 ReLU -> Dropout 0.2 -> Dense 10.
* ``convpool``: the course notes' "typical modern CNN": ``(Conv x n + MaxPool) x m`` with same
  padding, channels doubling at every block, then a fully connected output layer.
* ``tinyvgg``: the same builder as a small VGG (two 3x3 convs per block), quick to train
  on MNIST on a CPU.

The softmax of the Keras examples is not a layer here: the models output logits and
``nn.CrossEntropyLoss`` applies the (log-)softmax.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from cnnviz.errors import ConfigError
from cnnviz.zoo.base import ACTIVATIONS, ZooModel, make_activation
from cnnviz.zoo.registry import PaperFacts, Setting, register


class MLP(ZooModel):
    """Flatten -> (Linear -> activation -> Dropout) x depth -> Linear."""

    head_name = "fc"

    def __init__(
        self,
        *,
        in_features: int,
        num_classes: int,
        hidden: int = 512,
        depth: int = 1,
        activation: str = "relu",
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
        width = in_features
        for i in range(1, depth + 1):
            layers[f"fc{i}"] = nn.Linear(width, hidden)
            layers[f"act{i}"] = make_activation(activation)
            if dropout > 0:
                layers[f"drop{i}"] = nn.Dropout(dropout)
            width = hidden
        self.features = nn.Sequential(layers)
        self.fc = nn.Linear(width, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class ConvPoolNet(ZooModel):
    """``(Conv x n + Pool) x m`` then a head: flatten + fc, or global average pooling + fc.

    Block ``i`` (from 0) has ``base_channels * 2**i`` channels (``growth="double"``) or
    ``base_channels`` (``growth="constant"``); every conv keeps the size (same padding) and
    every 2x2 pool halves it.
    """

    head_name = "head.fc"

    def __init__(
        self,
        *,
        in_channels: int = 1,
        input_size: int = 28,
        num_classes: int = 10,
        convs_per_block: int = 1,
        blocks: int = 2,
        base_channels: int = 32,
        growth: str = "double",
        kernel_size: int = 3,
        activation: str = "relu",
        batch_norm: bool = False,
        pooling: str = "max",
        head: str = "flatten_fc",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size must be odd for 'same' padding; got {kernel_size}")
        if input_size < 2**blocks:
            raise ConfigError(
                f"input {input_size}x{input_size} is too small for {blocks} 2x2 poolings "
                f"(each halves the size): it needs at least {2**blocks}x{2**blocks}"
            )
        pool_cls = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        channels = in_channels
        for i in range(blocks):
            out = base_channels * 2**i if growth == "double" else base_channels
            block: OrderedDict[str, nn.Module] = OrderedDict()
            for j in range(1, convs_per_block + 1):
                block[f"conv{j}"] = nn.Conv2d(channels, out, kernel_size, padding=kernel_size // 2, bias=not batch_norm)
                if batch_norm:
                    block[f"bn{j}"] = nn.BatchNorm2d(out)
                block[f"act{j}"] = make_activation(activation)
                channels = out
            block["pool"] = pool_cls(2, 2)
            stages[f"block{i + 1}"] = nn.Sequential(block)
        self.features = nn.Sequential(stages)

        head_layers: OrderedDict[str, nn.Module] = OrderedDict()
        if head == "global_avg":
            head_layers["pool"] = nn.AdaptiveAvgPool2d(1)
            flat = channels
        else:
            side = input_size // 2**blocks
            flat = channels * side * side
        head_layers["flatten"] = nn.Flatten()
        if dropout > 0:
            head_layers["dropout"] = nn.Dropout(dropout)
        head_layers["fc"] = nn.Linear(flat, num_classes)
        self.head = nn.Sequential(head_layers)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)


_KERAS_FACTS = PaperFacts(
    paper="Chollet et al., 2015. Keras (the TensorFlow/Keras MNIST beginner example)",
    year=2015,
    new_ideas=("A fully connected baseline: every pixel is an input, no weight sharing",),
    notes_numbers="Flatten 28x28 -> Dense 512 ReLU -> Dropout 0.2 -> Dense 10 softmax, 5 epochs of Adam",
)

_CONVPOOL_FACTS = PaperFacts(
    paper="Course notes: the typical modern CNN structure, (Conv x n + MaxPool) x m",
    year=2015,
    new_ideas=(
        "Halve height/width while doubling channels",
        "Convolutions as a feature extractor feeding a softmax (logistic regression) layer",
    ),
    notes_numbers="28x28x1 -> conv 3x3 32 -> max-pool 14x14x32 -> conv 3x3 64 -> max-pool 7x7x64 -> softmax; VGG: n = 2-4, m = 5",
)

_COMMON = (
    Setting("activation", "relu", "Non-linearity after each convolution", choices=ACTIVATIONS),
    Setting("batch_norm", False, "BatchNorm after each convolution"),
    Setting("pooling", "max", "Kind of 2x2 pooling after each block", choices=("max", "avg")),
)
_HEAD = (
    Setting("head", "flatten_fc", "Flatten + fc, or global average pooling + fc", choices=("flatten_fc", "global_avg")),
    Setting("dropout", 0.0, "Dropout before the final fully connected layer", min=0.0, max=0.9),
)


@register(
    "mlp",
    family="simple",
    description=(
        "The Keras MNIST example from the course: Flatten -> Dense 512 ReLU -> Dropout 0.2 -> "
        "Dense 10 (407,050 parameters). No convolutions: the baseline that CNNs beat with far "
        "fewer weights. The softmax is left to the loss."
    ),
    default_input=(1, 28, 28),
    num_classes=10,
    settings=(
        Setting("hidden", 512, "Units in each hidden layer", min=1, max=16384),
        Setting("depth", 1, "Number of hidden layers", min=1, max=16),
        Setting("activation", "relu", "Non-linearity of the hidden layers", choices=ACTIVATIONS),
        Setting("dropout", 0.2, "Dropout after each hidden layer", min=0.0, max=0.9),
    ),
    facts=_KERAS_FACTS,
)
def mlp(
    *, in_channels: int, input_size: int, num_classes: int, hidden: int, depth: int, activation: str, dropout: float
) -> MLP:
    return MLP(
        in_features=in_channels * input_size * input_size,
        num_classes=num_classes,
        hidden=hidden,
        depth=depth,
        activation=activation,
        dropout=dropout,
    )


@register(
    "tinyvgg",
    family="simple",
    description=(
        "A tiny VGG-style network for 28-64 px images: (3x3 conv -> act -> 3x3 conv -> act -> "
        "2x2 max-pool) x blocks, channels width x 2^i, then flatten (or global average pooling) "
        "and one fully connected layer. About 32K parameters by default: trains on MNIST on a "
        "CPU in a minute."
    ),
    default_input=(1, 28, 28),
    num_classes=10,
    min_input=4,
    settings=(
        Setting("width", 16, "Channels of the first block (doubled at each block)", min=1, max=512),
        Setting("blocks", 2, "Number of conv-conv-pool blocks", min=1, max=6),
        *_COMMON,
        *_HEAD,
    ),
    facts=PaperFacts(
        paper="Simonyan & Zisserman, 2014 (VGG), scaled down for small images",
        year=2014,
        new_ideas=("Stacks of 3x3 convolutions instead of one large kernel",),
        notes_numbers="(Conv x n + MaxPool) x m with 3x3 kernels, here n = 2",
    ),
)
def tinyvgg(*, width: int, blocks: int, **settings: Any) -> ConvPoolNet:
    return ConvPoolNet(convs_per_block=2, blocks=blocks, base_channels=width, growth="double", kernel_size=3, **settings)


@register(
    "convpool",
    family="simple",
    description=(
        "The course's (Conv x n + MaxPool) x m pattern: n same-padded convolutions then a 2x2 "
        "pool, repeated m times, channels doubling at each block, then a fully connected output. "
        "Default: the notes' example 28x28x1 -> conv 3x3 32 -> pool -> conv 3x3 64 -> pool -> fc 10."
    ),
    default_input=(1, 28, 28),
    num_classes=10,
    min_input=4,
    settings=(
        Setting("n", 1, "Convolutions per block", min=1, max=8),
        Setting("m", 2, "Blocks (each ends with a 2x2 pool)", min=1, max=8),
        Setting("base_channels", 32, "Channels of the first block", min=1, max=1024),
        Setting("growth", "double", "Channels per block: double each block or keep constant", choices=("double", "constant")),
        Setting("kernel_size", 3, "Convolution kernel size (odd, same padding)", min=1, max=11),
        *_COMMON,
        *_HEAD,
    ),
    facts=_CONVPOOL_FACTS,
)
def convpool(*, n: int, m: int, **settings: Any) -> ConvPoolNet:
    return ConvPoolNet(convs_per_block=n, blocks=m, **settings)
