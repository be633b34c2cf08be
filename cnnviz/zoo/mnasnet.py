"""MnasNet 1.0, built by torchvision's own builder (``models/mnasnet.py``).

The same modules and ``state_dict`` as torchvision's, so its ImageNet weights load unchanged.
"""
from __future__ import annotations

from torch import Tensor

from cnnviz.zoo.base import AFTER_RESNET, ZooModel, adopt, set_in_channels
from cnnviz.zoo.registry import PaperFacts, Setting, register


class MNASNet(ZooModel):
    """torchvision's ``MNASNet``: ``layers`` (stem, 6 stacks of inverted residuals, 1x1 conv), mean, dropout, FC."""

    head_name = "classifier.1"

    def __init__(self, variant: str, *, in_channels: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        from torchvision.models import mnasnet

        adopt(self, getattr(mnasnet, variant)(weights=None, num_classes=num_classes, dropout=dropout))
        set_in_channels(self, "layers.0", in_channels)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.layers(x)

    def forward_head(self, x: Tensor) -> Tensor:
        return self.classifier(x.mean([2, 3]))  # global average pooling, as torchvision writes it


@register(
    "mnasnet1_0",
    family=AFTER_RESNET,
    description=(
        "MnasNet 1.0 (Tan et al. 2019), torchvision's mnasnet1_0(): 4,383,312 parameters, 0.31G MACs. The first "
        "network found by a search that measured real latency on a phone: a 3x3 stride-2 stem, a separable conv, "
        "6 stacks of MobileNet v2 inverted residual blocks with 3x3 or 5x5 depthwise convs and expansion 3 or 6, "
        "a 1x1 conv to 1280 channels, global average pool, dropout, FC."
    ),
    settings=(Setting("dropout", 0.2, "Dropout before the FC layer (torchvision: 0.2)", min=0.0, max=1.0),),
    facts=PaperFacts(
        paper="Tan, Chen, Pang, Vasudevan, Sandler, Howard & Le, 2019. MnasNet: Platform-Aware Neural "
              "Architecture Search for Mobile",
        year=2019,
        ilsvrc="After the ILSVRC years; torchvision's weights: 73.456% top-1, 91.51% top-5 on ImageNet",
        new_ideas=(
            "Architecture search with the latency measured on a real phone in the objective",
            "A factorised search space: each stage may pick its own block, kernel size and expansion",
        ),
        notes_numbers="Not in the course notes; the paper's MnasNet-A1: 3.9M parameters, 312M mult-adds, "
                      "75.2% top-1 (torchvision builds the B1 variant, without squeeze-and-excitation)",
    ),
    torchvision="mnasnet1_0",
)
def mnasnet1_0(*, in_channels: int, input_size: int, num_classes: int, dropout: float) -> MNASNet:
    return MNASNet("mnasnet1_0", in_channels=in_channels, num_classes=num_classes, dropout=dropout)
