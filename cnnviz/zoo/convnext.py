"""ConvNeXt-T, built by torchvision's own builder (``models/convnext.py``).

The same modules and ``state_dict`` as torchvision's, so its ImageNet weights load unchanged.
"""
from __future__ import annotations

from torch import Tensor

from cnnviz.zoo.base import AFTER_RESNET, ZooModel, adopt, set_in_channels
from cnnviz.zoo.registry import PaperFacts, register


class ConvNeXt(ZooModel):
    """torchvision's ``ConvNeXt``: ``features`` (4x4 patchify stem, 4 stages of ConvNeXt blocks with
    downsampling between them), pool, then LayerNorm, flatten, FC."""

    head_name = "classifier.2"

    def __init__(self, variant: str, *, in_channels: int, num_classes: int) -> None:
        super().__init__()
        from torchvision.models import convnext

        adopt(self, getattr(convnext, variant)(weights=None, num_classes=num_classes))
        set_in_channels(self, "features.0.0", in_channels)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(x))


@register(
    "convnext_tiny",
    family=AFTER_RESNET,
    description=(
        "ConvNeXt-T (Liu et al. 2022), torchvision's convnext_tiny(): 28,589,128 parameters, 4.46G MACs. A ResNet "
        "modernised step by step towards the vision transformers: a 4x4 stride-4 'patchify' stem, stages of "
        "3/3/9/3 blocks (7x7 depthwise conv, LayerNorm, 1x1 expansion by 4 as a Linear, GELU, 1x1 projection, "
        "learnt layer scale, residual), 2x2 stride-2 convs between stages, pool, LayerNorm, FC."
    ),
    facts=PaperFacts(
        paper="Liu, Mao, Wu, Feichtenhofer, Darrell & Xie, 2022. A ConvNet for the 2020s",
        year=2022,
        ilsvrc="After the ILSVRC years; torchvision's weights: 82.52% top-1, 96.146% top-5 on ImageNet",
        new_ideas=(
            "A plain convolutional network that matches Swin transformers, by borrowing their design choices",
            "Patchify stem, large 7x7 depthwise kernels, inverted bottlenecks, fewer activations and norms",
            "LayerNorm instead of BatchNorm, GELU instead of ReLU, separate downsampling layers",
        ),
        notes_numbers="Not in the course notes; the paper: 28M parameters, 4.5G FLOPs (mult-adds), 82.1% top-1",
    ),
    torchvision="convnext_tiny",
    min_input=32,
)
def convnext_tiny(*, in_channels: int, input_size: int, num_classes: int) -> ConvNeXt:
    return ConvNeXt("convnext_tiny", in_channels=in_channels, num_classes=num_classes)
