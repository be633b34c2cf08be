"""The Inception family: GoogLeNet (Inception v1) and Inception v3.

Both are twins of torchvision's ``models/googlenet.py`` and ``models/inception.py``:
same module names, same ``state_dict``, same forward computation with the default
settings. Two departures from torchvision, both on purpose:

* ``forward`` always returns one tensor, the main logits. torchvision returns a
  namedtuple with the auxiliary logits in training mode; here the auxiliary
  classifiers (training-only helpers) run only in :meth:`forward_aux`.
* Activations and the branch pools are modules (``act``, ``pool``) instead of
  ``F.relu`` / ``F.avg_pool2d`` calls, so that every step shows up as a layer.
  They hold no parameters, so the ``state_dict`` is unchanged.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import torch
from torch import Tensor, nn

from cnnviz.errors import ConfigError
from cnnviz.zoo.base import ACTIVATIONS, ZooModel, make_activation
from cnnviz.zoo.registry import PaperFacts, Setting, register

ConvBlock = Callable[..., nn.Module]


class BasicConv2d(nn.Module):
    """Conv -> BatchNorm (eps 0.001) -> activation, as torchvision's ``BasicConv2d``.

    Without batch norm the conv gets a bias instead, as in the original GoogLeNet
    (which predates batch norm).
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, batch_norm: bool = True, activation: str = "relu", **kwargs: Any
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=not batch_norm, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001) if batch_norm else None
        self.act = make_activation(activation)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x)


def _transform_input(x: Tensor) -> Tensor:
    """Re-normalise an ImageNet-normalised image to [-1, 1] per channel, as torchvision does
    for the weights ported from TensorFlow / Caffe (``transform_input=True``)."""
    x_ch0 = torch.unsqueeze(x[:, 0], 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
    x_ch1 = torch.unsqueeze(x[:, 1], 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
    x_ch2 = torch.unsqueeze(x[:, 2], 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
    return torch.cat((x_ch0, x_ch1, x_ch2), 1)


def _check_transform_input(transform_input: bool, in_channels: int) -> None:
    if transform_input and in_channels != 3:
        raise ConfigError(f"transform_input re-normalises the 3 RGB channels; in_channels is {in_channels}")


class _InceptionNet(ZooModel):
    """What GoogLeNet and Inception v3 share: the optional input re-normalisation,
    torchvision's initialisation and a trunk that collects the auxiliary logits only
    for ``forward_aux``."""

    head_name = "fc"

    def __init__(self, in_channels: int, transform_input: bool) -> None:
        super().__init__()
        _check_transform_input(transform_input, in_channels)
        self.transform_input = transform_input

    def _init_weights(self, std: float, aux_fc: nn.Module | None = None) -> None:
        """torchvision's initialisation: truncated normal weights (std ``std``, 0.001 for ``aux_fc``)
        for the convs and linears, batch norms at the identity."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.001 if m is aux_fc else std, a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _trunk(self, x: Tensor, aux: list[Tensor] | None) -> Tensor:
        """Stem to last inception module; appends the auxiliary logits to ``aux`` when it is a list."""
        raise NotImplementedError

    def _features(self, x: Tensor, aux: list[Tensor] | None) -> Tensor:
        if self.transform_input:
            x = _transform_input(x)
        return self._trunk(x, aux)

    def forward_features(self, x: Tensor) -> Tensor:
        return self._features(x, None)

    def _logits_and_aux(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The main logits and the list of auxiliary logits (for the subclasses' ``forward_aux``)."""
        aux: list[Tensor] = []
        x = self._features(x, aux)
        return self.forward_head(x), aux


# --------------------------------------------------------------------------- GoogLeNet


class Inception(nn.Module):
    """The GoogLeNet inception module: four parallel branches concatenated on channels.

    ``bottleneck=True`` is the paper's "inception module with dimension reductions":
    1x1 convs shrink the channels before the 3x3 and 5x5 convs and after the max pool.
    ``bottleneck=False`` is the paper's naive module: the convs see all input channels
    and the pooled input is passed through, so the channels pile up from module to module.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        conv_block: ConvBlock,
        kernel_5x5: int = 3,
        bottleneck: bool = True,
    ) -> None:
        super().__init__()
        # torchvision uses a 3x3 conv in the "5x5" branch (a known bug kept for its weights,
        # pytorch/vision#906); kernel_5x5=5 gives the paper's 5x5 conv.
        pad = kernel_5x5 // 2
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        if bottleneck:
            self.branch2 = nn.Sequential(
                conv_block(in_channels, ch3x3red, kernel_size=1),
                conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1),
            )
            self.branch3 = nn.Sequential(
                conv_block(in_channels, ch5x5red, kernel_size=1),
                conv_block(ch5x5red, ch5x5, kernel_size=kernel_5x5, padding=pad),
            )
            self.branch4 = nn.Sequential(
                nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                conv_block(in_channels, pool_proj, kernel_size=1),
            )
            self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        else:
            self.branch2 = nn.Sequential(conv_block(in_channels, ch3x3, kernel_size=3, padding=1))
            self.branch3 = nn.Sequential(conv_block(in_channels, ch5x5, kernel_size=kernel_5x5, padding=pad))
            self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True))
            self.out_channels = ch1x1 + ch3x3 + ch5x5 + in_channels

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """GoogLeNet's auxiliary classifier (on 4a and 4d), used only to help training."""

    def __init__(
        self, in_channels: int, num_classes: int, conv_block: ConvBlock, activation: str, dropout: float = 0.7
    ) -> None:
        super().__init__()
        # torchvision pools adaptively to 4x4; the paper used a 5x5 / stride 3 average pool,
        # which is the same on the 14x14 maps of a 224x224 input.
        self.avgpool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = conv_block(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.act = make_activation(activation)
        self.dropout = nn.Dropout(p=dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(x)
        x = self.conv(x)
        x = torch.flatten(x, 1)
        x = self.act(self.fc1(x))
        x = self.dropout(x)
        return self.fc2(x)


class GoogLeNet(_InceptionNet):
    """GoogLeNet (Szegedy et al. 2014): stem, 9 inception modules, global average pool, one FC."""

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1000,
        aux_logits: bool = False,
        transform_input: bool = False,
        branch_5x5: str = "3x3",
        batch_norm: bool = True,
        lrn: bool = False,
        activation: str = "relu",
        dropout: float = 0.2,
        bottleneck: bool = True,
    ) -> None:
        super().__init__(in_channels, transform_input)
        conv = partial(BasicConv2d, batch_norm=batch_norm, activation=activation)
        block = partial(Inception, conv_block=conv, kernel_5x5=5 if branch_5x5 == "5x5" else 3, bottleneck=bottleneck)

        self.conv1 = conv(in_channels, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        # The paper has local response normalisation after pool1 and after conv3; torchvision
        # drops it. Sizes as in Caffe's bvlc_googlenet (5 channels, alpha 1e-4, beta 0.75).
        self.lrn1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75) if lrn else None
        self.conv2 = conv(64, 64, kernel_size=1)
        self.conv3 = conv(64, 192, kernel_size=3, padding=1)
        self.lrn2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75) if lrn else None
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        # Widths from the paper's Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
        self.inception3a = block(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = block(self.inception3a.out_channels, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception4a = block(self.inception3b.out_channels, 192, 96, 208, 16, 48, 64)
        self.inception4b = block(self.inception4a.out_channels, 160, 112, 224, 24, 64, 64)
        self.inception4c = block(self.inception4b.out_channels, 128, 128, 256, 24, 64, 64)
        self.inception4d = block(self.inception4c.out_channels, 112, 144, 288, 32, 64, 64)
        self.inception4e = block(self.inception4d.out_channels, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)

        self.inception5a = block(self.inception4e.out_channels, 256, 160, 320, 32, 128, 128)
        self.inception5b = block(self.inception5a.out_channels, 384, 192, 384, 48, 128, 128)

        if aux_logits:
            self.aux1 = InceptionAux(self.inception4a.out_channels, num_classes, conv, activation)
            self.aux2 = InceptionAux(self.inception4d.out_channels, num_classes, conv, activation)
        else:
            self.aux1 = None
            self.aux2 = None

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(self.inception5b.out_channels, num_classes)

        self._init_weights(std=0.01)

    def _trunk(self, x: Tensor, aux: list[Tensor] | None) -> Tensor:
        x = self.conv1(x)
        x = self.maxpool1(x)
        if self.lrn1 is not None:
            x = self.lrn1(x)
        x = self.conv2(x)
        x = self.conv3(x)
        if self.lrn2 is not None:
            x = self.lrn2(x)
        x = self.maxpool2(x)

        x = self.inception3a(x)
        x = self.inception3b(x)
        x = self.maxpool3(x)
        x = self.inception4a(x)
        if aux is not None:
            aux.append(self.aux1(x))
        x = self.inception4b(x)
        x = self.inception4c(x)
        x = self.inception4d(x)
        if aux is not None:
            aux.append(self.aux2(x))
        x = self.inception4e(x)
        x = self.maxpool4(x)
        x = self.inception5a(x)
        return self.inception5b(x)

    def forward_head(self, x: Tensor) -> Tensor:
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        x = self.dropout(x)
        return self.fc(x)

    def forward_aux(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Training-time outputs: ``(logits, [aux1 logits, aux2 logits])``.

        The paper adds the auxiliary losses with weight 0.3. (torchvision's training-mode
        forward returns them as ``(logits, aux2, aux1)``.)
        """
        if self.aux1 is None:
            raise RuntimeError("this GoogLeNet was built with aux_logits=False: it has no auxiliary classifiers")
        return self._logits_and_aux(x)


_GOOGLENET_FACTS = PaperFacts(
    paper="Szegedy et al., 2014. Going Deeper with Convolutions (CVPR 2015)",
    year=2014,
    ilsvrc="ILSVRC 2014 classification winner, 6.7% top-5 error",
    new_ideas=(
        "Inception module: 1x1, 3x3 and 5x5 convolutions and a 3x3 max pool side by side, "
        "outputs concatenated on channels (a network within a network)",
        "1x1 'bottleneck' convolutions cut the cost: a 5x5 conv from 28x28x192 to 28x28x32 costs "
        "120M multiplies; a 1x1 conv to 16 channels first brings it to 2.4M + 10.0M = 12.4M",
        "The naive module (no 1x1 reductions) lets channels pile up: 28x28x(128+192+96+256) = 28x28x672",
        "Global average pooling instead of large fully connected layers (one FC layer only)",
        "Two auxiliary classifiers on intermediate layers to help gradients reach the early layers",
    ),
    notes_numbers="22 layers deep (21 conv layers deep, 57 in total; 27 layers with pooling), 9 inception modules, "
    "7.0M weights (the paper says 6.8M; a slide says 'only 5 million', 12x fewer than AlexNet) "
    "and 1.43G FLOPs (these are multiply-adds); ILSVRC'14 winner with 6.7% top-5 error",
)


@register(
    "googlenet",
    family="inception",
    description=(
        "GoogLeNet / Inception v1 (Szegedy et al. 2014), exactly torchvision's googlenet() with "
        "aux_logits=False, transform_input=False (6,624,904 parameters; torchvision's count leaves out the "
        "auxiliary classifiers). torchvision differs from the paper: batch norm after every conv "
        "(batch_norm=False gives the paper's conv with bias), 3x3 instead of 5x5 convs in the '5x5' branch "
        "(a known torchvision bug kept for its weights; branch_5x5='5x5' gives the paper's), no local response "
        "normalisation (lrn=True adds it after pool1 and conv3), dropout 0.2 before the FC (the paper used 0.4). "
        "The auxiliary classifiers (aux_logits=True) are training-only: forward returns the main logits, "
        "the auxiliary forward also returns theirs. bottleneck=False swaps in the naive inception module."
    ),
    default_input=(3, 224, 224),
    settings=(
        Setting("aux_logits", False, "Add the two auxiliary classifiers (training only; the auxiliary forward returns their logits)"),
        Setting(
            "branch_5x5",
            "3x3",
            "Kernel of the '5x5' branch: 3x3 = torchvision (its known quirk), 5x5 = the paper",
            choices=("3x3", "5x5"),
        ),
        Setting("batch_norm", True, "Batch norm after each conv (torchvision); off = the paper's conv with bias"),
        Setting("lrn", False, "The paper's local response normalisation after pool1 and after conv3"),
        Setting(
            "bottleneck",
            True,
            "1x1 reductions before the 3x3/5x5 convs and after the pool; off = the naive inception module",
        ),
        Setting("activation", "relu", "Activation after every conv", choices=ACTIVATIONS),
        Setting("dropout", 0.2, "Dropout before the FC layer (torchvision 0.2; the paper used 0.4)", min=0.0, max=1.0),
        Setting("transform_input", False, "Re-normalise ImageNet-normalised RGB to [-1, 1] (torchvision's port)"),
    ),
    facts=_GOOGLENET_FACTS,
    torchvision="googlenet",
    min_input=15,
)
def googlenet(*, in_channels: int, input_size: int, num_classes: int, **settings: Any) -> GoogLeNet:
    return GoogLeNet(in_channels=in_channels, num_classes=num_classes, **settings)


# --------------------------------------------------------------------------- Inception v3


class InceptionA(nn.Module):
    """35x35 module (paper Fig. 5): the 5x5 conv of v1 factorised into two 3x3 convs."""

    def __init__(self, in_channels: int, pool_features: int, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch1x1 = conv_block(in_channels, 64, kernel_size=1)

        # The released model keeps this 5x5 branch beside the two-3x3 branch below; the paper's
        # Fig. 5 has only the factorised one.
        self.branch5x5_1 = conv_block(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = conv_block(48, 64, kernel_size=5, padding=2)

        self.branch3x3dbl_1 = conv_block(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = conv_block(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = conv_block(96, 96, kernel_size=3, padding=1)

        self.pool = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = conv_block(in_channels, pool_features, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        branch1x1 = self.branch1x1(x)
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branch_pool = self.branch_pool(self.pool(x))
        return torch.cat([branch1x1, branch5x5, branch3x3dbl, branch_pool], 1)


class InceptionB(nn.Module):
    """Grid reduction 35x35 -> 17x17 (paper Fig. 10): stride-2 convs and a max pool side by side."""

    def __init__(self, in_channels: int, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch3x3 = conv_block(in_channels, 384, kernel_size=3, stride=2)

        self.branch3x3dbl_1 = conv_block(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = conv_block(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = conv_block(96, 96, kernel_size=3, stride=2)

        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        branch3x3 = self.branch3x3(x)
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([branch3x3, branch3x3dbl, self.pool(x)], 1)


class InceptionC(nn.Module):
    """17x17 module (paper Fig. 6): 7x7 convs factorised into 1x7 and 7x1."""

    def __init__(self, in_channels: int, channels_7x7: int, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch1x1 = conv_block(in_channels, 192, kernel_size=1)

        c7 = channels_7x7
        self.branch7x7_1 = conv_block(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = conv_block(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = conv_block(c7, 192, kernel_size=(7, 1), padding=(3, 0))

        self.branch7x7dbl_1 = conv_block(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = conv_block(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = conv_block(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = conv_block(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = conv_block(c7, 192, kernel_size=(1, 7), padding=(0, 3))

        self.pool = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = conv_block(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        branch1x1 = self.branch1x1(x)
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = self.branch7x7dbl_1(x)
        branch7x7dbl = self.branch7x7dbl_3(self.branch7x7dbl_2(branch7x7dbl))
        branch7x7dbl = self.branch7x7dbl_5(self.branch7x7dbl_4(branch7x7dbl))
        branch_pool = self.branch_pool(self.pool(x))
        return torch.cat([branch1x1, branch7x7, branch7x7dbl, branch_pool], 1)


class InceptionD(nn.Module):
    """Grid reduction 17x17 -> 8x8."""

    def __init__(self, in_channels: int, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch3x3_1 = conv_block(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = conv_block(192, 320, kernel_size=3, stride=2)

        self.branch7x7x3_1 = conv_block(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = conv_block(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = conv_block(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = conv_block(192, 192, kernel_size=3, stride=2)

        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        branch3x3 = self.branch3x3_2(self.branch3x3_1(x))
        branch7x7x3 = self.branch7x7x3_2(self.branch7x7x3_1(x))
        branch7x7x3 = self.branch7x7x3_4(self.branch7x7x3_3(branch7x7x3))
        return torch.cat([branch3x3, branch7x7x3, self.pool(x)], 1)


class InceptionE(nn.Module):
    """8x8 module (paper Fig. 7): 3x3 convs split into parallel 1x3 and 3x1 for wider outputs."""

    def __init__(self, in_channels: int, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch1x1 = conv_block(in_channels, 320, kernel_size=1)

        self.branch3x3_1 = conv_block(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = conv_block(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = conv_block(384, 384, kernel_size=(3, 1), padding=(1, 0))

        self.branch3x3dbl_1 = conv_block(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = conv_block(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = conv_block(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = conv_block(384, 384, kernel_size=(3, 1), padding=(1, 0))

        self.pool = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = conv_block(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        branch1x1 = self.branch1x1(x)

        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)

        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = torch.cat([self.branch3x3dbl_3a(branch3x3dbl), self.branch3x3dbl_3b(branch3x3dbl)], 1)

        branch_pool = self.branch_pool(self.pool(x))
        return torch.cat([branch1x1, branch3x3, branch3x3dbl, branch_pool], 1)


class InceptionAuxV3(nn.Module):
    """Inception v3's auxiliary classifier on the last 17x17 map (with batch norm: 'BN-auxiliary')."""

    def __init__(self, in_channels: int, num_classes: int, conv_block: ConvBlock) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv0 = conv_block(in_channels, 128, kernel_size=1)
        self.conv1 = conv_block(128, 768, kernel_size=5)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(x)
        x = self.conv1(self.conv0(x))
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class Inception3(_InceptionNet):
    """Inception v3 (Szegedy et al. 2015), with torchvision's (TensorFlow's) module names."""

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1000,
        aux_logits: bool = True,
        transform_input: bool = False,
        batch_norm: bool = True,
        activation: str = "relu",
        dropout: float = 0.5,
    ) -> None:
        super().__init__(in_channels, transform_input)
        conv = partial(BasicConv2d, batch_norm=batch_norm, activation=activation)

        self.Conv2d_1a_3x3 = conv(in_channels, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = conv(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = conv(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = conv(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = conv(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32, conv_block=conv)
        self.Mixed_5c = InceptionA(256, pool_features=64, conv_block=conv)
        self.Mixed_5d = InceptionA(288, pool_features=64, conv_block=conv)
        self.Mixed_6a = InceptionB(288, conv_block=conv)
        self.Mixed_6b = InceptionC(768, channels_7x7=128, conv_block=conv)
        self.Mixed_6c = InceptionC(768, channels_7x7=160, conv_block=conv)
        self.Mixed_6d = InceptionC(768, channels_7x7=160, conv_block=conv)
        self.Mixed_6e = InceptionC(768, channels_7x7=192, conv_block=conv)
        self.AuxLogits = InceptionAuxV3(768, num_classes, conv_block=conv) if aux_logits else None
        self.Mixed_7a = InceptionD(768, conv_block=conv)
        self.Mixed_7b = InceptionE(1280, conv_block=conv)
        self.Mixed_7c = InceptionE(2048, conv_block=conv)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(2048, num_classes)

        self._init_weights(std=0.1, aux_fc=self.AuxLogits.fc if self.AuxLogits is not None else None)

    def _trunk(self, x: Tensor, aux: list[Tensor] | None) -> Tensor:
        x = self.Conv2d_1a_3x3(x)
        x = self.Conv2d_2a_3x3(x)
        x = self.Conv2d_2b_3x3(x)
        x = self.maxpool1(x)
        x = self.Conv2d_3b_1x1(x)
        x = self.Conv2d_4a_3x3(x)
        x = self.maxpool2(x)
        x = self.Mixed_5b(x)
        x = self.Mixed_5c(x)
        x = self.Mixed_5d(x)
        x = self.Mixed_6a(x)
        x = self.Mixed_6b(x)
        x = self.Mixed_6c(x)
        x = self.Mixed_6d(x)
        x = self.Mixed_6e(x)
        if aux is not None:
            aux.append(self.AuxLogits(x))
        x = self.Mixed_7a(x)
        x = self.Mixed_7b(x)
        return self.Mixed_7c(x)

    def forward_head(self, x: Tensor) -> Tensor:
        x = self.avgpool(x)
        x = self.dropout(x)
        x = torch.flatten(x, 1)
        return self.fc(x)

    def forward_aux(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Training-time outputs: ``(logits, [aux logits])`` (torchvision's training-mode
        forward returns them as the namedtuple ``InceptionOutputs(logits, aux_logits)``)."""
        if self.AuxLogits is None:
            raise RuntimeError("this Inception v3 was built with aux_logits=False: it has no auxiliary classifier")
        return self._logits_and_aux(x)


_INCEPTION_V3_FACTS = PaperFacts(
    paper="Szegedy, Vanhoucke, Ioffe, Shlens & Wojna, 2015. Rethinking the Inception Architecture for Computer Vision",
    year=2015,
    ilsvrc="Not a competition entry; on the ILSVRC 2012 validation set 21.2% top-1 / 5.6% top-5 error "
    "single-crop, 3.5% top-5 with an ensemble of 4 models",
    new_ideas=(
        "Factorised convolutions: a 5x5 conv becomes two 3x3 convs (28% cheaper), "
        "an n x n conv becomes a 1 x n conv followed by an n x 1 conv",
        "Grid reduction by parallel stride-2 conv and pooling branches instead of a plain pooling layer",
        "Batch-normalised auxiliary classifier, acting as a regulariser",
        "Label smoothing regularisation; 299x299 inputs",
    ),
    notes_numbers="The course notes only say GoogLeNet/Inception has grown into Inception v4 and leave it to look up; "
    "the paper: about 5 billion multiply-adds and under 25 million parameters "
    "(torchvision: 27.2M with the auxiliary classifier, 5.7 GMACs)",
)


@register(
    "inception_v3",
    family="inception",
    description=(
        "Inception v3 (Szegedy et al. 2015, 'Rethinking the Inception Architecture'), exactly torchvision's "
        "inception_v3() with transform_input=False: 27,161,264 parameters including the auxiliary classifier "
        "(on by default, as in torchvision). torchvision's model is a port of Google's TensorFlow release "
        "(module names Mixed_5b ... Mixed_7c from there): 3 x 35x35 modules, a grid reduction, 4 x 17x17, "
        "a grid reduction, 2 x 8x8 modules; the 35x35 modules keep a 5x5 branch beside the two-3x3 branch "
        "of the paper's Fig. 5. Unlike torchvision, forward returns only the main logits in training mode too; "
        "the auxiliary forward also returns the auxiliary logits."
    ),
    default_input=(3, 299, 299),
    settings=(
        Setting("aux_logits", True, "The auxiliary classifier on the 17x17 map (training only; the auxiliary forward returns its logits)"),
        Setting("batch_norm", True, "Batch norm after each conv; off = conv with bias"),
        Setting("activation", "relu", "Activation after every conv", choices=ACTIVATIONS),
        Setting("dropout", 0.5, "Dropout before the FC layer (torchvision 0.5)", min=0.0, max=1.0),
        Setting("transform_input", False, "Re-normalise ImageNet-normalised RGB to [-1, 1] (torchvision's port)"),
    ),
    facts=_INCEPTION_V3_FACTS,
    torchvision="inception_v3",
    min_input=75,
)
def inception_v3(*, in_channels: int, input_size: int, num_classes: int, **settings: Any) -> Inception3:
    return Inception3(in_channels=in_channels, num_classes=num_classes, **settings)
