"""MobileNet v3 (large), built by torchvision's own builder (``models/mobilenetv3.py``).

The same modules and ``state_dict`` as torchvision's, so its ImageNet weights load unchanged.
"""
from __future__ import annotations

import torch
from torch import Tensor

from cnnviz.zoo.base import AFTER_RESNET, ZooModel, adopt, set_in_channels
from cnnviz.zoo.registry import PaperFacts, Setting, register


class MobileNetV3(ZooModel):
    """torchvision's ``MobileNetV3``: ``features``, pool, then FC 960 -> 1280, hardswish, dropout, FC."""

    head_name = "classifier.3"

    def __init__(self, variant: str, *, in_channels: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        from torchvision.models import mobilenetv3

        adopt(self, getattr(mobilenetv3, variant)(weights=None, num_classes=num_classes, dropout=dropout))
        set_in_channels(self, "features.0.0", in_channels)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(x), 1))


@register(
    "mobilenet_v3_large",
    family=AFTER_RESNET,
    description=(
        "MobileNet v3 large (Howard et al. 2019), torchvision's mobilenet_v3_large(): 5,483,032 parameters, "
        "0.22G MACs. MobileNet v2's inverted residual blocks, found again by architecture search (as MnasNet's) "
        "and refined by hand: squeeze-and-excitation in some blocks, hard-swish activations in the later half, "
        "3x3 and 5x5 depthwise convs; a 1x1 conv to 960 channels, pool, FC 1280, hard-swish, dropout, FC."
    ),
    settings=(Setting("dropout", 0.2, "Dropout before the last FC layer (torchvision: 0.2)", min=0.0, max=1.0),),
    facts=PaperFacts(
        paper="Howard et al., 2019. Searching for MobileNetV3",
        year=2019,
        ilsvrc="After the ILSVRC years; torchvision's weights: 75.274% top-1, 92.566% top-5 on ImageNet",
        new_ideas=(
            "Platform-aware architecture search (MnasNet) plus NetAdapt to trim each layer",
            "Hard-swish, x * ReLU6(x + 3) / 6: swish made cheap for phones",
            "Squeeze-and-excitation with a hard-sigmoid gate in the inverted residual blocks",
            "A cheaper last stage: pool before the wide 1x1 layer",
        ),
        notes_numbers="Not in the course notes; the paper: 5.4M parameters, 219M mult-adds, 75.2% top-1",
    ),
    torchvision="mobilenet_v3_large",
)
def mobilenet_v3_large(*, in_channels: int, input_size: int, num_classes: int, dropout: float) -> MobileNetV3:
    return MobileNetV3("mobilenet_v3_large", in_channels=in_channels, num_classes=num_classes, dropout=dropout)
