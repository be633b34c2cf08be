"""VGG: Simonyan & Zisserman, 2014. Very deep convolutional networks for large-scale image recognition.

:class:`VGG` builds configurations A (VGG-11), B (VGG-13), D (VGG-16) and E (VGG-19) of the
paper's Table 1 as torchvision does, with or without batch norm (which the paper predates).
With default settings every model is torchvision's exactly (weights load with ``strict=True``).
"""
from __future__ import annotations

from typing import Sequence, Union

import torch
from torch import nn

from cnnviz.zoo.base import ACTIVATIONS, ZooModel, fc_classifier, make_activation
from cnnviz.zoo.registry import PaperFacts, Setting, register

# Table 1 of the paper: conv widths, "M" = 2x2 stride-2 max pooling.
CFGS: dict[str, list[Union[int, str]]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(ZooModel):
    """Stacks of 3x3 stride-1 same convs and 2x2 pools, then fc 4096 -> fc 4096 -> fc classes."""

    head_name = "classifier.6"

    def __init__(
        self,
        cfg: Sequence[Union[int, str]],
        *,
        in_channels: int = 3,
        num_classes: int = 1000,
        batch_norm: bool = False,
        activation: str = "relu",
        pooling: str = "max",
        dropout: float = 0.5,
        width_mult: float = 1.0,
        hidden: int = 4096,
    ) -> None:
        super().__init__()
        pool_cls = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
        layers: list[nn.Module] = []
        channels = in_channels
        for v in cfg:
            if v == "M":
                layers.append(pool_cls(kernel_size=2, stride=2))
                continue
            out = max(1, int(round(int(v) * width_mult)))
            layers.append(nn.Conv2d(channels, out, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(make_activation(activation))
            channels = out
        self.features = nn.Sequential(*layers)
        # Not in the paper (which fixes 224x224 inputs, and at test time turns the fc layers
        # into convs): torchvision pools any input to 7x7 so the classifier always fits.
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        hidden = max(1, int(round(hidden * width_mult)))
        self.classifier = fc_classifier(channels * 7 * 7, hidden, num_classes, activation, dropout)
        # torchvision's initialization.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.avgpool(self.features(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(x, 1))


_FACTS = PaperFacts(
    paper="Simonyan & Zisserman, 2014. Very deep convolutional networks for large-scale image recognition (ICLR 2015)",
    year=2014,
    ilsvrc="ILSVRC 2014 classification runner-up: 7.3% top-5 error (GoogLeNet won with 6.7%)",
    new_ideas=(
        "Only 3x3 convolutions (stride 1, pad 1) and 2x2 max pooling (stride 2)",
        "Two stacked 3x3 convs see 5x5, three see 7x7, with fewer weights and more non-linearities",
        "Depth matters: 11 -> 19 weight layers, channels doubling as the size halves",
    ),
    notes_numbers=(
        "VGG-16: 138M parameters (about 120M of them in the three fc layers), 15.5G FLOPs "
        "(these are multiply-adds); 7.3% top-5 error in ILSVRC'14"
    ),
)

_VARIANTS = {
    # name: (config, paper's name, number of weight layers)
    "vgg11": ("A", "VGG-11", 11),
    "vgg13": ("B", "VGG-13", 13),
    "vgg16": ("D", "VGG-16", 16),
    "vgg19": ("E", "VGG-19", 19),
}


def _register_vgg(name: str, cfg: str, paper_name: str, depth: int, batch_norm: bool) -> None:
    convs = sum(v != "M" for v in CFGS[cfg])
    bn_text = (
        " with BatchNorm after every conv (torchvision's _bn variant; batch norm came in 2015, after the paper)"
        if batch_norm
        else ""
    )

    def factory(
        *,
        in_channels: int,
        input_size: int,
        num_classes: int,
        batch_norm: bool,
        activation: str,
        dropout: float,
        width_mult: float,
        pooling: str,
    ) -> VGG:
        return VGG(
            CFGS[cfg],
            in_channels=in_channels,
            num_classes=num_classes,
            batch_norm=batch_norm,
            activation=activation,
            pooling=pooling,
            dropout=dropout,
            width_mult=width_mult,
        )

    factory.__name__ = factory.__qualname__ = name
    register(
        name,
        family="vgg",
        description=(
            f"{paper_name} (configuration {cfg} of Simonyan & Zisserman's Table 1){bn_text}: {convs} "
            f"3x3 convs in 5 blocks, each block ending in a 2x2 max-pool, then fc 4096 -> fc 4096 -> "
            f"fc 1000: {depth} weight layers. As torchvision: an adaptive average pool to 7x7 before "
            "the classifier lets any input size through (the paper used fixed 224x224 crops)."
        ),
        default_input=(3, 224, 224),
        num_classes=1000,
        min_input=32,
        torchvision=name,
        settings=(
            Setting("batch_norm", batch_norm, "BatchNorm after every conv (torchvision's _bn models)"),
            Setting("activation", "relu", "Non-linearity after each conv and hidden fc layer", choices=ACTIVATIONS),
            Setting("dropout", 0.5, "Dropout after fc6 and fc7", min=0.0, max=0.9),
            Setting("width_mult", 1.0, "Width multiplier: scales every conv's filters and the fc layers' 4096 units", min=0.05, max=4.0),
            Setting("pooling", "max", "Kind of the 2x2 pooling closing each block", choices=("max", "avg")),
        ),
        facts=_FACTS,
    )(factory)


for _name, (_cfg, _paper_name, _depth) in _VARIANTS.items():
    _register_vgg(_name, _cfg, _paper_name, _depth, batch_norm=False)
    _register_vgg(f"{_name}_bn", _cfg, _paper_name, _depth, batch_norm=True)
