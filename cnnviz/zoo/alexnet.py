"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012) and ZFNet (Zeiler & Fergus, 2013).

One configurable class, :class:`AlexNet`, builds:

* ``alexnet``: torchvision's AlexNet, exactly (weights load with ``strict=True``). It is the
  single-GPU variant of Krizhevsky's "One weird trick" paper (2014): 64/192/384/256/256
  filters, no LRN, no grouped convs, adaptive average pooling to 6x6 and dropout before fc6/fc7.
* ``alexnet_paper``: the 2012 paper: 96/256/384/384/256 filters on a 227x227 input, LRN after
  conv1/conv2, conv2/4/5 split over the two GPUs (``groups=2``), dropout on fc6/fc7's outputs.
* ``zfnet``: Zeiler & Fergus's model: 7x7 stride-2 conv1, 5x5 stride-2 conv2, dense convs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Sequence

import torch
from torch import nn

from cnnviz.errors import ConfigError
from cnnviz.zoo.base import ACTIVATIONS, ZooModel, fc_classifier, make_activation
from cnnviz.zoo.registry import PaperFacts, Setting, register


@dataclass(frozen=True)
class ConvCfg:
    """One convolution of the feature extractor and what follows it."""

    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    groups: int = 1
    norm: bool = False  # a LocalResponseNorm after this conv (if the network uses LRN)
    pool: bool = False  # a 3x3 stride-2 pooling after this conv


# Krizhevsky et al. 2012, section 3.3: k = 2, n = 5, alpha = 1e-4, beta = 0.75 with
# b = a / (k + alpha * sum a^2)^beta. PyTorch's LocalResponseNorm divides alpha by the
# size n, so the paper's alpha = 1e-4 per term is alpha = 5 * 1e-4 here.
LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K = 5, 5e-4, 0.75, 2.0


def _pooled(size: int, ceil_mode: bool) -> int:
    return (math.ceil if ceil_mode else math.floor)((size - 3) / 2) + 1


class AlexNet(ZooModel):
    """Convs (each + activation, optional LRN and 3x3/2 pooling) -> fc -> fc -> fc.

    ``adaptive_pool=True`` (torchvision) average-pools the last map to 6x6 and puts dropout
    before fc6 and fc7; otherwise (the papers) the flatten size follows from ``input_size``
    and dropout acts on the outputs of fc6 and fc7.
    """

    head_name = "classifier.6"

    def __init__(
        self,
        convs: Sequence[ConvCfg],
        *,
        in_channels: int = 3,
        input_size: int = 224,
        num_classes: int = 1000,
        hidden: int = 4096,
        activation: str = "relu",
        pooling: str = "max",
        lrn: bool = False,
        norm_after_pool: bool = False,
        ceil_mode: bool = False,
        adaptive_pool: bool = True,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        pool_cls = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
        layers: list[nn.Module] = []
        channels, size = in_channels, input_size
        for i, cfg in enumerate(convs, start=1):
            if channels % cfg.groups or cfg.out_channels % cfg.groups:
                raise ConfigError(f"conv{i}: {channels} -> {cfg.out_channels} channels are not divisible by groups={cfg.groups}")
            layers += [
                nn.Conv2d(channels, cfg.out_channels, cfg.kernel_size, cfg.stride, cfg.padding, groups=cfg.groups),
                make_activation(activation),
            ]
            channels = cfg.out_channels
            size = (size + 2 * cfg.padding - cfg.kernel_size) // cfg.stride + 1
            if size < 1:
                raise ConfigError(f"conv{i} ({cfg.kernel_size}x{cfg.kernel_size}): input {input_size}x{input_size} is too small")
            norm = [nn.LocalResponseNorm(LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K)] if lrn and cfg.norm else []
            if cfg.pool:
                size = _pooled(size, ceil_mode)
                if size < 1:
                    raise ConfigError(f"pooling after conv{i} (3x3): input {input_size}x{input_size} is too small")
                pool = [pool_cls(kernel_size=3, stride=2, ceil_mode=ceil_mode)]
                layers += pool + norm if norm_after_pool else norm + pool
            else:
                layers += norm
        self.features = nn.Sequential(*layers)
        if adaptive_pool:
            self.avgpool: nn.Module | None = nn.AdaptiveAvgPool2d((6, 6))
            size = 6
            # torchvision: dropout on the inputs of fc6 and fc7.
            self.classifier = nn.Sequential(
                nn.Dropout(p=dropout),
                nn.Linear(channels * size * size, hidden),
                make_activation(activation),
                nn.Dropout(p=dropout),
                nn.Linear(hidden, hidden),
                make_activation(activation),
                nn.Linear(hidden, num_classes),
            )
        else:
            self.avgpool = None
            # The papers: "dropout in the first two fully-connected layers" (on their outputs).
            self.classifier = fc_classifier(channels * size * size, hidden, num_classes, activation, dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if self.avgpool is not None:
            x = self.avgpool(x)
        return x

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(x, 1))


def _width(channels: int, width_mult: float, divisor: int = 1) -> int:
    """``channels * width_mult`` rounded to a multiple of ``divisor`` (at least ``divisor``)."""
    return max(divisor, int(round(channels * width_mult / divisor)) * divisor)


_ACTIVATION = Setting("activation", "relu", "Non-linearity after each conv and hidden fc layer", choices=ACTIVATIONS)
_DROPOUT = Setting("dropout", 0.5, "Dropout probability in fc6 and fc7", min=0.0, max=0.9)
_WIDTH = Setting("width_mult", 1.0, "Width multiplier: scales every conv's filters and the fc layers' 4096 units", min=0.05, max=4.0)
_POOLING = Setting("pooling", "max", "Kind of the 3x3 stride-2 (overlapping) pooling", choices=("max", "avg"))

_ALEXNET_FACTS = PaperFacts(
    paper="Krizhevsky, Sutskever & Hinton, 2012. ImageNet classification with deep convolutional neural networks",
    year=2012,
    ilsvrc="ILSVRC 2012 classification winner: 15.3% top-5 test error vs 26.2% for the next best entry",
    new_ideas=(
        "ReLU instead of tanh/sigmoid: several times faster training",
        "Dropout in the fully connected layers",
        "Local response normalization (LRN)",
        "Overlapping 3x3 stride-2 max pooling",
        "Training on two GPUs (conv2, conv4, conv5 only see their own GPU's maps)",
        "Heavy data augmentation (random crops, flips, PCA colour noise)",
    ),
    notes_numbers=(
        "60M parameters (61M weights), 724M floating point operations; 227x227x3 -> 55x55x96 -> "
        "27x27x96 -> 27x27x256 -> 13x13x256 -> 13x13x384 -> 13x13x384 -> 13x13x256 -> 6x6x256 -> "
        "9216 -> 4096 -> 4096 -> 1000"
    ),
)


@register(
    "alexnet",
    family="alexnet",
    description=(
        "AlexNet as in torchvision: the single-GPU version from Krizhevsky's 'One weird trick' "
        "(2014), not the 2012 paper: 64/192/384/256/256 filters (the paper: 96/256/384/384/256), "
        "no local response normalization, no two-GPU grouped convolutions, an adaptive average "
        "pool to 6x6 and dropout before fc6 and fc7. See alexnet_paper for the 2012 network."
    ),
    default_input=(3, 224, 224),
    num_classes=1000,
    min_input=63,
    torchvision="alexnet",
    settings=(_ACTIVATION, _DROPOUT, _WIDTH, _POOLING),
    facts=_ALEXNET_FACTS,
)
def alexnet(*, width_mult: float, **settings: Any) -> AlexNet:
    w = partial(_width, width_mult=width_mult)
    convs = [
        ConvCfg(w(64), 11, stride=4, padding=2, pool=True),
        ConvCfg(w(192), 5, padding=2, pool=True),
        ConvCfg(w(384), 3, padding=1),
        ConvCfg(w(256), 3, padding=1),
        ConvCfg(w(256), 3, padding=1, pool=True),
    ]
    return AlexNet(convs, hidden=w(4096), **settings)


def _paper_alexnet(convs: Sequence[ConvCfg], width_mult: float, **settings: Any) -> AlexNet:
    """An AlexNet as the 2012 and 2013 papers built it: no adaptive pooling (the flatten size
    follows from the input size) and fc layers of 4096 units times ``width_mult``."""
    return AlexNet(convs, hidden=_width(4096, width_mult), adaptive_pool=False, **settings)


_PAPER_SETTINGS = (
    Setting("lrn", True, "Local response normalization after conv1 and conv2"),
    _ACTIVATION,
    _DROPOUT,
    _WIDTH,
    _POOLING,
)


@register(
    "alexnet_paper",
    family="alexnet",
    description=(
        "AlexNet as in the 2012 paper (Krizhevsky, Sutskever & Hinton): 227x227x3 input, conv1 96 "
        "11x11 stride 4 -> ReLU -> LRN -> 3x3/2 max-pool -> conv2 256 5x5 (2 groups) -> ReLU -> "
        "LRN -> max-pool -> conv3 384 3x3 -> conv4 384 3x3 (2 groups) -> conv5 256 3x3 (2 groups) "
        "-> max-pool -> fc 4096 -> fc 4096 -> fc 1000, dropout 0.5 on fc6 and fc7. The paper "
        "normalizes before pooling (the course slides list MAXPOOL before NORM). groups=2 models "
        "the two GPUs: conv2, conv4 and conv5 only see the maps on their own GPU; conv3 and the "
        "fc layers cross. 60,965,224 parameters (62,378,344 without the split)."
    ),
    default_input=(3, 227, 227),
    num_classes=1000,
    min_input=67,
    settings=(Setting("two_gpu_split", True, "groups=2 on conv2, conv4 and conv5, as the paper's two-GPU model"), *_PAPER_SETTINGS),
    facts=_ALEXNET_FACTS,
)
def alexnet_paper(*, two_gpu_split: bool, width_mult: float, **settings: Any) -> AlexNet:
    g = 2 if two_gpu_split else 1
    w = partial(_width, width_mult=width_mult, divisor=g)
    # The paper says 224x224 inputs, but 11x11 stride 4 gives 55x55 only from 227x227.
    convs = [
        ConvCfg(w(96), 11, stride=4, norm=True, pool=True),
        ConvCfg(w(256), 5, padding=2, groups=g, norm=True, pool=True),
        ConvCfg(w(384), 3, padding=1),
        ConvCfg(w(384), 3, padding=1, groups=g),
        ConvCfg(w(256), 3, padding=1, groups=g, pool=True),
    ]
    return _paper_alexnet(convs, width_mult, **settings)


CONV345 = {"512-1024-512": (512, 1024, 512), "384-384-256": (384, 384, 256)}


@register(
    "zfnet",
    family="alexnet",
    description=(
        "ZFNet (Zeiler & Fergus, 2013), AlexNet tuned by looking at its features: 224x224x3 input, "
        "conv1 96 7x7 stride 2 (AlexNet: 11x11 stride 4) -> 110x110, 3x3/2 max-pool -> 55x55, "
        "contrast normalization; conv2 256 5x5 stride 2 -> 26x26, pool -> 13x13, normalization; "
        "conv3, conv4, conv5 3x3 with 512, 1024, 512 filters (the paper's larger model (b), as in "
        "the course; its Fig. 3 model has 384, 384, 256) -> pool -> 6x6 -> fc 4096 -> fc 4096 -> "
        "fc 1000. Dense connections (one GPU, no groups). Follows the paper's Fig. 3 sizes: conv1 "
        "padding 1 and ceil-mode pooling (as in Caffe); the contrast normalization is an LRN with "
        "AlexNet's constants, after the pooling."
    ),
    default_input=(3, 224, 224),
    num_classes=1000,
    min_input=47,
    settings=(
        Setting("conv345", "512-1024-512", "Filters of conv3, conv4, conv5: model (b) of the paper or its Fig. 3 model", choices=tuple(CONV345)),
        Setting("two_gpu_split", False, "groups=2 on conv2, conv4 and conv5 as in AlexNet (ZFNet used one GPU)"),
        *_PAPER_SETTINGS,
    ),
    facts=PaperFacts(
        paper="Zeiler & Fergus, 2013. Visualizing and understanding convolutional networks",
        year=2013,
        ilsvrc="ILSVRC 2013 classification winner (Clarifai): 11.7% top-5 error vs AlexNet's 16.4%",
        new_ideas=(
            "Deconvnet visualization of what each layer's filters respond to",
            "Smaller first-layer filters and stride (7x7 stride 2) keep more information",
            "Wider middle layers (512, 1024, 512 filters in conv3-5)",
        ),
        notes_numbers="AlexNet but CONV1 7x7 stride 2 and CONV3,4,5 with 512, 1024, 512 filters; ImageNet top-5 error 16.4% -> 11.7%",
    ),
)
def zfnet(*, conv345: str, two_gpu_split: bool, width_mult: float, **settings: Any) -> AlexNet:
    g = 2 if two_gpu_split else 1
    w = partial(_width, width_mult=width_mult, divisor=g)
    c3, c4, c5 = CONV345[conv345]
    convs = [
        ConvCfg(w(96), 7, stride=2, padding=1, norm=True, pool=True),
        ConvCfg(w(256), 5, stride=2, groups=g, norm=True, pool=True),
        ConvCfg(w(c3), 3, padding=1),
        ConvCfg(w(c4), 3, padding=1, groups=g),
        ConvCfg(w(c5), 3, padding=1, groups=g, pool=True),
    ]
    return _paper_alexnet(convs, width_mult, norm_after_pool=True, ceil_mode=True, **settings)
