"""The Vision Transformer ViT-B/16, built by torchvision's own builder (``models/vision_transformer.py``).

The same modules and ``state_dict`` as torchvision's, so its ImageNet weights load unchanged;
the forward below is torchvision's, split into features and head.
"""
from __future__ import annotations

import torch
from torch import Tensor

from cnnviz.errors import ConfigError
from cnnviz.zoo.base import AFTER_RESNET, ZooModel, adopt, set_in_channels
from cnnviz.zoo.registry import PaperFacts, register


class VisionTransformer(ZooModel):
    """torchvision's ``VisionTransformer``: a patch embedding (``conv_proj``), a class token, the
    transformer ``encoder`` (position embedding, blocks of self-attention and MLP) and ``heads``."""

    head_name = "heads.head"

    def __init__(self, variant: str, *, in_channels: int, image_size: int, num_classes: int) -> None:
        super().__init__()
        from torchvision.models import vision_transformer

        patch = int(variant.rsplit("_", 1)[1])
        if image_size % patch:
            raise ConfigError(f"{variant}: the input size must be a multiple of the {patch}-pixel patch, "
                              f"got {image_size}")
        built = getattr(vision_transformer, variant)(weights=None, image_size=image_size, num_classes=num_classes)
        adopt(self, built)
        self.image_size, self.patch_size, self.hidden_dim = built.image_size, built.patch_size, built.hidden_dim
        set_in_channels(self, "conv_proj", in_channels)

    def forward_features(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        if h != self.image_size or w != self.image_size:  # the position embedding is learnt for one size
            # a plain ValueError (not cnnviz's ConfigError) keeps this forward torch-only, so the exported
            # source runs without cnnviz; the analysis turns any error into a message naming the layer
            raise ValueError(f"this ViT was built for {self.image_size}x{self.image_size} inputs, got {h}x{w}")
        x = self.conv_proj(x)  # one 768-d vector per 16x16 patch
        x = x.reshape(n, self.hidden_dim, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return self.encoder(x)[:, 0]  # the class token's output

    def forward_head(self, x: Tensor) -> Tensor:
        return self.heads(x)


@register(
    "vit_b_16",
    family=AFTER_RESNET,
    description=(
        "ViT-B/16 (Dosovitskiy et al. 2021), torchvision's vit_b_16(): 86,567,656 parameters, 17.56G MACs. No "
        "convolutions but the first: the image is cut into 16x16 patches (a 16x16 stride-16 conv to 768 "
        "channels), a class token and learnt position embeddings are added, and 12 transformer blocks "
        "(LayerNorm, 12-head self-attention over all 197 tokens, LayerNorm, MLP 768 -> 3072 -> 768, residuals) "
        "follow; the class token's output goes to the classifier. Every token sees the whole image from the "
        "first block on: the receptive field is global."
    ),
    facts=PaperFacts(
        paper="Dosovitskiy et al., 2021. An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
        year=2021,
        ilsvrc="After the ILSVRC years; torchvision's weights: 81.072% top-1, 95.318% top-5 on ImageNet",
        new_ideas=(
            "A standard NLP transformer on a sequence of image patches, with almost no image-specific design",
            "Self-attention: every patch looks at every other one in every layer",
            "Needs much more data (or strong augmentation) than a CNN: few built-in assumptions",
        ),
        notes_numbers="Not in the course notes; the paper: 86M parameters, 77.9% top-1 trained on ImageNet "
                      "alone, 84.2% after pre-training on JFT-300M",
    ),
    torchvision="vit_b_16",
    min_input=16,
)
def vit_b_16(*, in_channels: int, input_size: int, num_classes: int) -> VisionTransformer:
    return VisionTransformer("vit_b_16", in_channels=in_channels, image_size=input_size, num_classes=num_classes)
