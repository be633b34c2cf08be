"""RegNetY-400MF, built from torchvision's ``RegNet`` and ``BlockParams`` (``models/regnet.py``).

The modules and ``state_dict`` are torchvision's. The block widths come from the paper's
quantised linear rule, evaluated here on the CPU (a few numbers) so that the network
itself can be built on the meta device.
"""
from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

from cnnviz.zoo.base import AFTER_RESNET, ZooModel, adopt, set_in_channels
from cnnviz.zoo.registry import PaperFacts, register


class RegNet(ZooModel):
    """torchvision's ``RegNet``: a stem, four stages of X/Y blocks (``trunk_output``), pool, FC."""

    head_name = "fc"

    def __init__(self, *, depth: int, w_0: int, w_a: float, w_m: float, group_width: int, se_ratio: float | None,
                 in_channels: int, num_classes: int) -> None:
        super().__init__()
        from torchvision.models.regnet import BlockParams, RegNet as TorchvisionRegNet

        with torch.device("cpu"):  # the width rule is tensor arithmetic that must not run on the meta device
            params = BlockParams.from_init_params(depth=depth, w_0=w_0, w_a=w_a, w_m=w_m, group_width=group_width,
                                                  se_ratio=se_ratio)
        # torchvision's _regnet passes this norm layer (PyTorch's defaults, written out)
        adopt(self, TorchvisionRegNet(params, num_classes=num_classes,
                                      norm_layer=partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1)))
        set_in_channels(self, "stem.0", in_channels)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.trunk_output(self.stem(x))

    def forward_head(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.avgpool(x), 1))


@register(
    "regnet_y_400mf",
    family=AFTER_RESNET,
    description=(
        "RegNetY-400MF (Radosavovic et al. 2020), torchvision's regnet_y_400mf(): 4,344,144 parameters, 0.40G MACs. "
        "Not one searched network but a design space: stage widths follow a quantised linear rule "
        "(initial width 48, slope 27.89, multiplier 2.09), depth 16 blocks in 4 stages; each Y block is a ResNeXt "
        "bottleneck (1x1, 3x3 grouped conv with groups of 8 channels, 1x1) with squeeze-and-excitation."
    ),
    facts=PaperFacts(
        paper="Radosavovic, Kosaraju, Girshick, He & Dollar, 2020. Designing Network Design Spaces",
        year=2020,
        ilsvrc="After the ILSVRC years; torchvision's weights: 75.804% top-1, 92.742% top-5 on ImageNet",
        new_ideas=(
            "Design a space of networks, not one network: simple rules that good networks share",
            "Stage widths grow by a quantised linear rule; a bottleneck ratio of 1 and a shared group width",
            "RegNetY adds squeeze-and-excitation to every block",
        ),
        notes_numbers="Not in the course notes; the paper: 4.3M parameters, 0.4G FLOPs (mult-adds)",
    ),
    torchvision="regnet_y_400mf",
)
def regnet_y_400mf(*, in_channels: int, input_size: int, num_classes: int) -> RegNet:
    return RegNet(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8, se_ratio=0.25, in_channels=in_channels,
                  num_classes=num_classes)
