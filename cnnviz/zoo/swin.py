"""The Swin Transformer Swin-T, built by torchvision's own builder (``models/swin_transformer.py``).

The same modules and ``state_dict`` as torchvision's, so its ImageNet weights load unchanged.
"""
from __future__ import annotations

from torch import Tensor

from cnnviz.zoo.base import AFTER_RESNET, ZooModel, adopt, set_in_channels
from cnnviz.zoo.registry import PaperFacts, register


class SwinTransformer(ZooModel):
    """torchvision's ``SwinTransformer``: ``features`` (4x4 patch embedding, 4 stages of window-attention
    blocks with patch merging between them), LayerNorm, pool, FC."""

    head_name = "head"

    def __init__(self, variant: str, *, in_channels: int, num_classes: int) -> None:
        super().__init__()
        from torchvision.models import swin_transformer

        adopt(self, getattr(swin_transformer, variant)(weights=None, num_classes=num_classes))
        set_in_channels(self, "features.0.0", in_channels)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.permute(self.norm(self.features(x)))  # channels last inside, channels first out

    def forward_head(self, x: Tensor) -> Tensor:
        return self.head(self.flatten(self.avgpool(x)))


@register(
    "swin_t",
    family=AFTER_RESNET,
    description=(
        "Swin-T (Liu et al. 2021), torchvision's swin_t(): 28,288,354 parameters, 4.49G MACs. A transformer "
        "built like a CNN: 4x4 patches (a 4x4 stride-4 conv to 96 channels), then 4 stages of 2/2/6/2 blocks in "
        "which self-attention stays inside 7x7-patch windows, shifted by half a window every other block so "
        "that neighbouring windows talk; patch merging halves the resolution and doubles the channels "
        "between stages (as a CNN's strided stages do); LayerNorm, pool, FC."
    ),
    facts=PaperFacts(
        paper="Liu, Lin, Cao, Hu, Wei, Zhang, Lin & Guo, 2021. Swin Transformer: Hierarchical Vision Transformer "
              "using Shifted Windows",
        year=2021,
        ilsvrc="After the ILSVRC years; torchvision's weights: 81.474% top-1, 95.776% top-5 on ImageNet",
        new_ideas=(
            "Attention inside local windows: cost linear in the image size, not quadratic as in ViT",
            "Shifted windows in alternate blocks connect the windows",
            "A hierarchy of stages (stride 4, 8, 16, 32) like a CNN, usable for detection and segmentation",
        ),
        notes_numbers="Not in the course notes; the paper: 28M parameters, 4.5G FLOPs (mult-adds), 81.3% top-1",
    ),
    torchvision="swin_t",
    min_input=32,
)
def swin_t(*, in_channels: int, input_size: int, num_classes: int) -> SwinTransformer:
    return SwinTransformer("swin_t", in_channels=in_channels, num_classes=num_classes)
