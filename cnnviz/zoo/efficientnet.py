"""EfficientNet (B0) and EfficientNetV2 (S), built by torchvision's own builders.

The modules are torchvision's (``models/efficientnet.py``): MBConv blocks (1x1 expansion,
depthwise conv, squeeze-and-excitation, linear 1x1 projection, stochastic depth on the
shortcut) and, in V2, Fused-MBConv blocks (one 3x3 conv instead of expansion + depthwise).
The same ``state_dict`` as torchvision's, so its ImageNet weights load unchanged.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from cnnviz.zoo.base import AFTER_RESNET, ZooModel, adopt, set_in_channels
from cnnviz.zoo.registry import PaperFacts, Setting, register


class EfficientNet(ZooModel):
    """torchvision's ``EfficientNet``: ``features`` (stem, 7 or 6 stages, 1x1 head conv), pool, dropout, FC."""

    head_name = "classifier.1"

    def __init__(self, variant: str, *, in_channels: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        from torchvision.models import efficientnet  # torchvision is imported only when a model is built

        adopt(self, getattr(efficientnet, variant)(weights=None, num_classes=num_classes, dropout=dropout))
        set_in_channels(self, "features.0.0", in_channels)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(x), 1))


_DROPOUT = Setting("dropout", 0.2, "Dropout before the FC layer (torchvision: 0.2)", min=0.0, max=1.0)


@register(
    "efficientnet_b0",
    family=AFTER_RESNET,
    description=(
        "EfficientNet-B0 (Tan & Le 2019), torchvision's efficientnet_b0(): 5,288,548 parameters, 0.39G MACs at "
        "224x224. Its body was found by neural architecture search (as MnasNet's): a 3x3 stride-2 stem, 16 MBConv "
        "blocks in 7 stages (1x1 expansion by 1 or 6, 3x3 or 5x5 depthwise conv, squeeze-and-excitation, linear 1x1 "
        "projection), a 1x1 conv to 1280 channels, global average pool, dropout, FC. SiLU (swish) activations."
    ),
    settings=(_DROPOUT,),
    facts=PaperFacts(
        paper="Tan & Le, 2019. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
        year=2019,
        ilsvrc="After the ILSVRC years; torchvision's weights: 77.692% top-1, 93.532% top-5 on ImageNet",
        new_ideas=(
            "Compound scaling: grow depth, width and input resolution together by fixed ratios (B0 -> B7)",
            "A base network (B0) found by architecture search that optimises accuracy and FLOPs",
            "MBConv blocks (MobileNet v2's inverted residual) with squeeze-and-excitation and SiLU",
        ),
        notes_numbers="Not in the course notes; the paper: 5.3M parameters, 0.39B FLOPs (mult-adds), 77.1% top-1",
    ),
    torchvision="efficientnet_b0",
)
def efficientnet_b0(*, in_channels: int, input_size: int, num_classes: int, dropout: float) -> EfficientNet:
    return EfficientNet("efficientnet_b0", in_channels=in_channels, num_classes=num_classes, dropout=dropout)


@register(
    "efficientnet_v2_s",
    family=AFTER_RESNET,
    description=(
        "EfficientNetV2-S (Tan & Le 2021), torchvision's efficientnet_v2_s(): 21,458,488 parameters, 8.37G MACs "
        "at 384x384, the size torchvision evaluates it at (2.85G at 224). The early stages use Fused-MBConv "
        "blocks (one full 3x3 conv instead of 1x1 expansion + depthwise conv: faster on accelerators at high "
        "resolution), the later ones MBConv with squeeze-and-excitation; a 1x1 conv to 1280 channels, pool, FC."
    ),
    default_input=(3, 384, 384),
    settings=(_DROPOUT,),
    facts=PaperFacts(
        paper="Tan & Le, 2021. EfficientNetV2: Smaller Models and Faster Training",
        year=2021,
        ilsvrc="After the ILSVRC years; torchvision's weights: 84.228% top-1, 96.878% top-5 on ImageNet (at 384x384)",
        new_ideas=(
            "Fused-MBConv in the early stages, where depthwise convs are slow on accelerators",
            "Architecture search that also optimises training speed",
            "Progressive learning: train on small images first, larger ones (with more regularisation) later",
        ),
        notes_numbers="Not in the course notes; the paper: 22M parameters, 8.8B FLOPs, 83.9% top-1",
    ),
    torchvision="efficientnet_v2_s",
    min_input=33,
)
def efficientnet_v2_s(*, in_channels: int, input_size: int, num_classes: int, dropout: float) -> EfficientNet:
    return EfficientNet("efficientnet_v2_s", in_channels=in_channels, num_classes=num_classes, dropout=dropout)
