"""Compact networks for phones: MobileNet v1 / v2, ShuffleNet v2 and SqueezeNet.

MobileNet v2, ShuffleNet v2 and SqueezeNet are twins of torchvision's
``models/mobilenetv2.py``, ``models/shufflenetv2.py`` and ``models/squeezenet.py``
(same module names and ``state_dict``, same forward computation). MobileNet v1 is
not in torchvision; it follows Table 1 of the paper. Global average pooling is an
``nn.AdaptiveAvgPool2d`` module where torchvision calls ``adaptive_avg_pool2d`` /
``mean``: the same numbers, and it shows up as a layer.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from cnnviz.errors import ConfigError
from cnnviz.zoo.base import ACTIVATIONS, ZooModel, make_activation
from cnnviz.zoo.registry import PaperFacts, Setting, register

MOBILE_ACTIVATIONS = ("relu6", *ACTIVATIONS)


def _activation(name: str) -> nn.Module:
    """``make_activation`` plus ReLU6 (``min(max(x, 0), 6)``, MobileNet v2's activation)."""
    return nn.ReLU6(inplace=True) if name == "relu6" else make_activation(name)


def _bn(channels: int, batch_norm: bool) -> list[nn.Module]:
    """``[BatchNorm2d]`` or nothing: spliced into an ``nn.Sequential``."""
    return [nn.BatchNorm2d(channels)] if batch_norm else []


def _make_divisible(v: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor`` (torchvision's / TF's rule):
    to the nearest one, at least ``divisor``, and never more than 10% down."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNAct(nn.Sequential):
    """Conv -> BatchNorm -> activation as ``nn.Sequential`` (torchvision's ``Conv2dNormActivation``).

    'Same' padding; without batch norm the conv gets a bias.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        batch_norm: bool = True,
        activation: str = "relu",
    ) -> None:
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=not batch_norm),
            *_bn(out_channels, batch_norm),
            _activation(activation),
        )


def _init_mobilenet(model: nn.Module) -> None:
    """torchvision's MobileNet v2 initialisation (also used for v1)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


_WIDTH_HELP = "Width multiplier (alpha): scales the channels of every layer"

# --------------------------------------------------------------------------- MobileNet v1


class DepthwiseSeparable(nn.Module):
    """A 3x3 (or ``kernel_size``) depthwise conv (one filter per channel) then a 1x1 pointwise conv,
    each with BN and activation."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, batch_norm: bool, activation: str,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        self.dw = ConvBNAct(
            in_channels, in_channels, kernel_size, stride, groups=in_channels, batch_norm=batch_norm,
            activation=activation,
        )
        self.pw = ConvBNAct(in_channels, out_channels, 1, batch_norm=batch_norm, activation=activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.pw(self.dw(x))


# Paper Table 1: (output channels, stride) of the 13 depthwise separable blocks. The table
# prints stride 2 for the last one, but its output stays 7x7: it is stride 1.
_MOBILENET_V1_CFG = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)  # fmt: skip


class MobileNetV1(ZooModel):
    """MobileNet v1: a 3x3 stride-2 conv, 13 depthwise separable blocks, global average pool, FC."""

    head_name = "fc"

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1000,
        width_mult: float = 1.0,
        depthwise: bool = True,
        batch_norm: bool = True,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()

        def width(c: int) -> int:
            return max(1, int(c * width_mult))

        channels = width(32)
        layers: list[nn.Module] = [ConvBNAct(in_channels, channels, 3, 2, batch_norm=batch_norm, activation=activation)]
        for out, stride in _MOBILENET_V1_CFG:
            if depthwise:
                layers.append(DepthwiseSeparable(channels, width(out), stride, batch_norm, activation))
            else:
                # The paper's "Conv MobileNet" (Table 4): a full 3x3 conv in place of each separable block.
                layers.append(ConvBNAct(channels, width(out), 3, stride, batch_norm=batch_norm, activation=activation))
            channels = width(out)
        self.features = nn.Sequential(*layers)
        # The paper's 7x7 average pool, made adaptive so that any input size works.
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        # The paper uses no dropout (small models overfit little); 0.0 keeps it a no-op.
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(channels, num_classes)
        _init_mobilenet(self)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, x: Tensor) -> Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(self.dropout(x))


@register(
    "mobilenet_v1",
    family="mobile",
    description=(
        "MobileNet v1 (Howard et al. 2017), not in torchvision; built from the paper's Table 1: a 3x3 stride-2 "
        "conv with 32 filters, 13 depthwise separable blocks (3x3 depthwise conv + BN + ReLU, 1x1 pointwise conv "
        "+ BN + ReLU), global average pool, FC: 4,231,976 parameters at width 1.0 (paper: 4.2M, 569M mult-adds). "
        "width_mult is the paper's width multiplier alpha (1.0, 0.75, 0.5, 0.25: 4.2M, 2.6M, 1.3M, 0.5M "
        "parameters); the resolution multiplier rho is just input_size (224, 192, 160, 128). depthwise=False "
        "swaps every separable block for a full 3x3 conv (the paper's 'Conv MobileNet': 29.3M parameters, "
        "4866M mult-adds, for 1.1% more accuracy) to show what the factorisation saves."
    ),
    settings=(
        Setting("width_mult", 1.0, _WIDTH_HELP + " (paper: 1.0, 0.75, 0.5, 0.25)", min=0.01, max=4.0),
        Setting("depthwise", True, "Depthwise separable blocks; off = full 3x3 convs (the paper's Conv MobileNet)"),
        Setting("batch_norm", True, "Batch norm after every conv; off = conv with bias"),
        Setting("activation", "relu", "Activation after every conv (the paper: ReLU)", choices=MOBILE_ACTIVATIONS),
        Setting("dropout", 0.0, "Dropout before the FC layer (the paper uses none)", min=0.0, max=1.0),
    ),
    facts=PaperFacts(
        paper="Howard et al., 2017. MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
        year=2017,
        ilsvrc="Not a competition entry; 70.6% top-1 on ImageNet (VGG-16: 71.5% with 32x the parameters)",
        new_ideas=(
            "Depthwise separable convolution: a 3x3 depthwise conv filters each channel on its own, "
            "a 1x1 pointwise conv mixes channels; cost ratio 1/N + 1/9, 8-9x fewer mult-adds than a 3x3 conv",
            "Width multiplier alpha thins every layer (cost ~ alpha^2)",
            "Resolution multiplier rho shrinks the input (cost ~ rho^2)",
            "95% of the compute and 75% of the parameters sit in the 1x1 convs (fast matrix multiplies)",
        ),
        notes_numbers="The course notes list 'MobileNet (Depthwise Separable Convolutions)'; the paper: "
        "4.2M parameters, 569M mult-adds, 70.6% top-1 (Conv MobileNet: 29.3M, 4866M, 71.7%)",
    ),
)
def mobilenet_v1(*, in_channels: int, input_size: int, num_classes: int, **settings: Any) -> MobileNetV1:
    return MobileNetV1(in_channels=in_channels, num_classes=num_classes, **settings)


# --------------------------------------------------------------------------- MobileNet v2


class InvertedResidual(nn.Module):
    """MobileNet v2 block: 1x1 expand (x t), 3x3 depthwise, 1x1 linear projection (no activation);
    a residual connection when the shape is unchanged."""

    def __init__(
        self, inp: int, oup: int, stride: int, expand_ratio: int, batch_norm: bool, activation: str
    ) -> None:
        super().__init__()
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNAct(inp, hidden_dim, 1, batch_norm=batch_norm, activation=activation))
        layers.append(  # depthwise
            ConvBNAct(hidden_dim, hidden_dim, 3, stride, hidden_dim, batch_norm=batch_norm, activation=activation)
        )
        # Linear bottleneck: the projection has no activation (a ReLU would destroy information).
        layers += [nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=not batch_norm), *_bn(oup, batch_norm)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x: Tensor) -> Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


# Paper Table 2: expansion t, output channels c, repeats n, first stride s.
_MOBILENET_V2_CFG = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class MobileNetV2(ZooModel):
    """MobileNet v2 as torchvision builds it."""

    head_name = "classifier.1"

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1000,
        width_mult: float = 1.0,
        batch_norm: bool = True,
        activation: str = "relu6",
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        input_channel = _make_divisible(32 * width_mult)
        # The last conv is never thinned below 1280 channels (as in the paper and torchvision).
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult))
        features: list[nn.Module] = [
            ConvBNAct(in_channels, input_channel, 3, 2, batch_norm=batch_norm, activation=activation)
        ]
        for t, c, n, s in _MOBILENET_V2_CFG:
            output_channel = _make_divisible(c * width_mult)
            for i in range(n):
                features.append(
                    InvertedResidual(input_channel, output_channel, s if i == 0 else 1, t, batch_norm, activation)
                )
                input_channel = output_channel
        features.append(ConvBNAct(input_channel, self.last_channel, 1, batch_norm=batch_norm, activation=activation))
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        _init_mobilenet(self)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(x), 1))


@register(
    "mobilenet_v2",
    family="mobile",
    description=(
        "MobileNet v2 (Sandler et al. 2018), exactly torchvision's mobilenet_v2(): 3,504,872 parameters "
        "(the paper rounds to 3.4M, 300M mult-adds). A 3x3 stride-2 conv, 17 inverted residual blocks "
        "(1x1 expansion by 6, 3x3 depthwise, linear 1x1 projection, residual when the shape allows), a 1x1 conv "
        "to 1280 channels, global average pool, dropout, FC. Channels are rounded to multiples of 8 when "
        "width_mult is not 1 (torchvision's rule, from the TensorFlow release)."
    ),
    settings=(
        Setting("width_mult", 1.0, _WIDTH_HELP + " (rounded to multiples of 8)", min=0.01, max=4.0),
        Setting("batch_norm", True, "Batch norm after every conv; off = conv with bias"),
        Setting(
            "activation",
            "relu6",
            "Activation after the expansion and depthwise convs (the projection stays linear)",
            choices=MOBILE_ACTIVATIONS,
        ),
        Setting("dropout", 0.2, "Dropout before the FC layer (torchvision 0.2)", min=0.0, max=1.0),
    ),
    facts=PaperFacts(
        paper="Sandler, Howard, Zhu, Zhmoginov & Chen, 2018. MobileNetV2: Inverted Residuals and Linear Bottlenecks",
        year=2018,
        ilsvrc="Not a competition entry; 72.0% top-1 on ImageNet (MobileNet v1: 70.6%)",
        new_ideas=(
            "Inverted residual block: thin bottlenecks at the block ends, expanded 6x inside for the depthwise conv",
            "Linear bottleneck: no activation after the 1x1 projection, which would destroy information "
            "in a low-dimensional space",
            "Residual connections between the thin bottlenecks",
            "ReLU6, robust in low-precision arithmetic",
        ),
        notes_numbers="Not in the course notes (they list MobileNet v1); the paper: 3.4M parameters, 300M mult-adds",
    ),
    torchvision="mobilenet_v2",
)
def mobilenet_v2(*, in_channels: int, input_size: int, num_classes: int, **settings: Any) -> MobileNetV2:
    return MobileNetV2(in_channels=in_channels, num_classes=num_classes, **settings)


# --------------------------------------------------------------------------- ShuffleNet v2


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` groups: (g, c/g) -> (c/g, g), via view and transpose."""
    batchsize, num_channels, height, width = x.size()
    x = x.view(batchsize, groups, num_channels // groups, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batchsize, num_channels, height, width)


class ShuffleV2Block(nn.Module):
    """ShuffleNet v2 unit (torchvision's ``InvertedResidual``).

    Stride 1: split the channels in two; one half passes untouched, the other goes
    1x1 conv -> 3x3 depthwise -> 1x1 conv; concatenate; shuffle. Stride 2: both
    branches see the whole input and downsample, doubling the channels.
    """

    def __init__(
        self, inp: int, oup: int, stride: int, batch_norm: bool, activation: str, shuffle: bool
    ) -> None:
        super().__init__()
        self.stride = stride
        self.shuffle = shuffle
        branch_features = oup // 2
        if stride == 1 and inp != branch_features * 2:
            raise ConfigError(f"a stride-1 ShuffleNet v2 unit needs input channels ({inp}) == output channels ({oup})")

        def bn(c: int) -> list[nn.Module]:
            return _bn(c, batch_norm)

        def dwconv(c: int) -> nn.Conv2d:
            return nn.Conv2d(c, c, 3, stride, 1, bias=not batch_norm, groups=c)

        def pwconv(i: int, o: int) -> nn.Conv2d:
            return nn.Conv2d(i, o, 1, 1, 0, bias=not batch_norm)

        # torchvision registers an empty branch1 for stride 1 (it has no parameters); here there is none.
        if stride > 1:
            self.branch1 = nn.Sequential(
                dwconv(inp), *bn(inp), pwconv(inp, branch_features), *bn(branch_features), _activation(activation)
            )
        self.branch2 = nn.Sequential(
            pwconv(inp if stride > 1 else branch_features, branch_features),
            *bn(branch_features),
            _activation(activation),
            dwconv(branch_features),
            *bn(branch_features),
            pwconv(branch_features, branch_features),
            *bn(branch_features),
            _activation(activation),
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2) if self.shuffle else out


class ShuffleNetV2(ZooModel):
    """ShuffleNet v2: conv, max pool, three stages of shuffle units, 1x1 conv, global pool, FC."""

    head_name = "fc"

    def __init__(
        self,
        stages_out_channels: tuple[int, int, int, int, int],
        stages_repeats: tuple[int, int, int] = (4, 8, 4),
        in_channels: int = 3,
        num_classes: int = 1000,
        batch_norm: bool = True,
        activation: str = "relu",
        channel_shuffle: bool = True,
    ) -> None:
        super().__init__()
        output_channels = stages_out_channels[0]
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_channels, output_channels, 3, 2, 1, bias=not batch_norm),
            *_bn(output_channels, batch_norm),
            _activation(activation),
        )
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        input_channels = output_channels
        self.stage2: nn.Sequential
        self.stage3: nn.Sequential
        self.stage4: nn.Sequential
        for i, (repeats, output_channels) in enumerate(zip(stages_repeats, stages_out_channels[1:4])):
            units = [ShuffleV2Block(input_channels, output_channels, 2, batch_norm, activation, channel_shuffle)]
            units += [
                ShuffleV2Block(output_channels, output_channels, 1, batch_norm, activation, channel_shuffle)
                for _ in range(repeats - 1)
            ]
            setattr(self, f"stage{i + 2}", nn.Sequential(*units))
            input_channels = output_channels
        output_channels = stages_out_channels[-1]
        self.conv5 = nn.Sequential(
            nn.Conv2d(input_channels, output_channels, 1, 1, 0, bias=not batch_norm),
            *_bn(output_channels, batch_norm),
            _activation(activation),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(output_channels, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        return self.conv5(x)

    def forward_head(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.avgpool(x), 1))


_SHUFFLENET_DESCRIPTION = (
    "ShuffleNet v2 {width} (Ma et al. 2018), exactly torchvision's {name}(): {params} parameters "
    "(paper: {paper_params}, {mflops} MFLOPs, i.e. multiply-adds). The course notes' 'ShuffleNet (Grouped Convolutions)' "
    "is v1 (Zhang et al. 2017): ResNet-style bottleneck units with 1x1 group convolutions and a channel shuffle "
    "between them so that information crosses the groups. torchvision ships v2, which drops the group "
    "convolutions (they cost memory access time): each unit splits the channels in two, passes one half "
    "through, sends the other through 1x1 conv, 3x3 depthwise conv, 1x1 conv, concatenates (instead of adding) "
    "and shuffles the two halves. channel_shuffle=False removes the shuffle: the untouched halves then never "
    "meet a convolution inside a stage."
)

_SHUFFLENET_SETTINGS = (
    Setting("batch_norm", True, "Batch norm after every conv; off = conv with bias"),
    Setting("activation", "relu", "Activation in the units and the first and last convs", choices=ACTIVATIONS),
    Setting("channel_shuffle", True, "Shuffle the two branches' channels after each unit"),
)


def _shufflenet_facts(width: str, top1_error: str, mflops: int, paper_params: str) -> PaperFacts:
    return PaperFacts(
        paper="Ma, Zhang, Zheng & Sun, 2018. ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
        year=2018,
        ilsvrc=f"Not a competition entry; ShuffleNet v2 {width}: {top1_error} top-1 error on ImageNet",
        new_ideas=(
            "Four guidelines: equal channel widths, few group convolutions, little fragmentation, "
            "few element-wise operations; measure speed, not just FLOPs",
            "Channel split: half the channels pass through a unit untouched (feature reuse)",
            "Concatenation instead of addition, then channel shuffle to mix the two halves",
            "(v1, Zhang et al. 2017: pointwise group convolutions plus channel shuffle)",
        ),
        notes_numbers=f"The course notes list 'ShuffleNet (Grouped Convolutions)' (v1); the v2 paper: {paper_params} "
        f"parameters, {mflops} MFLOPs (multiply-adds) for {width}",
    )


def _register_shufflenet(
    name: str, width: str, channels: tuple[int, int, int, int, int], params: str, paper: tuple[str, int, str]
) -> None:
    top1_error, mflops, paper_params = paper

    def factory(*, in_channels: int, input_size: int, num_classes: int, **settings: Any) -> ShuffleNetV2:
        return ShuffleNetV2(channels, in_channels=in_channels, num_classes=num_classes, **settings)

    factory.__name__ = name
    register(
        name,
        family="mobile",
        description=_SHUFFLENET_DESCRIPTION.format(
            name=name, width=width, params=params, paper_params=paper_params, mflops=mflops
        ),
        settings=_SHUFFLENET_SETTINGS,
        facts=_shufflenet_facts(width, top1_error, mflops, paper_params),
        torchvision=name,
    )(factory)


# Stage output channels from the paper's Table 5 (the first is the stem conv, the last conv5).
_register_shufflenet("shufflenet_v2_x0_5", "0.5x", (24, 48, 96, 192, 1024), "1,366,792", ("39.7%", 41, "1.4M"))
_register_shufflenet("shufflenet_v2_x1_0", "1x", (24, 116, 232, 464, 1024), "2,278,604", ("30.6%", 146, "2.3M"))
_register_shufflenet("shufflenet_v2_x1_5", "1.5x", (24, 176, 352, 704, 1024), "3,503,624", ("27.4%", 299, "3.5M"))
_register_shufflenet("shufflenet_v2_x2_0", "2x", (24, 244, 488, 976, 2048), "7,393,996", ("25.1%", 591, "7.4M"))


# --------------------------------------------------------------------------- SqueezeNet


class Fire(nn.Module):
    """Fire module: a 1x1 'squeeze' conv to few channels, then 1x1 and 3x3 'expand' convs side by side."""

    def __init__(
        self,
        inplanes: int,
        squeeze_planes: int,
        expand1x1_planes: int,
        expand3x3_planes: int,
        activation: str,
        bypass: bool,
    ) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = make_activation(activation)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = make_activation(activation)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = make_activation(activation)
        # The paper's 'simple bypass' (Sec. 6): a residual connection where the channels match.
        self.bypass = bypass and inplanes == expand1x1_planes + expand3x3_planes

    def forward(self, x: Tensor) -> Tensor:
        s = self.squeeze_activation(self.squeeze(x))
        e1 = self.expand1x1_activation(self.expand1x1(s))
        e3 = self.expand3x3_activation(self.expand3x3(s))
        out = torch.cat([e1, e3], 1)
        return x + out if self.bypass else out


class SqueezeNet(ZooModel):
    """SqueezeNet 1.0 (the paper) or 1.1 (the authors' cheaper revision), as torchvision builds them."""

    head_name = "classifier.1"

    def __init__(
        self,
        version: str = "1_0",
        in_channels: int = 3,
        num_classes: int = 1000,
        activation: str = "relu",
        dropout: float = 0.5,
        bypass: bool = False,
    ) -> None:
        super().__init__()

        def fire(*planes: int) -> Fire:
            return Fire(*planes, activation=activation, bypass=bypass)

        def pool() -> nn.MaxPool2d:
            return nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)

        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 96, kernel_size=7, stride=2),
                make_activation(activation),
                pool(),
                fire(96, 16, 64, 64),
                fire(128, 16, 64, 64),
                fire(128, 32, 128, 128),
                pool(),
                fire(256, 32, 128, 128),
                fire(256, 48, 192, 192),
                fire(384, 48, 192, 192),
                fire(384, 64, 256, 256),
                pool(),
                fire(512, 64, 256, 256),
            )
        else:
            # 1.1: a 3x3 stem conv with 64 filters and the pools moved earlier: 2.4x less compute.
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 64, kernel_size=3, stride=2),
                make_activation(activation),
                pool(),
                fire(64, 16, 64, 64),
                fire(128, 16, 64, 64),
                pool(),
                fire(128, 32, 128, 128),
                fire(256, 32, 128, 128),
                pool(),
                fire(256, 48, 192, 192),
                fire(384, 48, 192, 192),
                fire(384, 64, 256, 256),
                fire(512, 64, 256, 256),
            )
        # No FC layers: a 1x1 conv gives one map per class, then global average pooling.
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), final_conv, make_activation(activation), nn.AdaptiveAvgPool2d((1, 1))
        )
        # torchvision's initialisation.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, x: Tensor) -> Tensor:
        return torch.flatten(self.classifier(x), 1)


_SQUEEZENET_SETTINGS = (
    Setting("activation", "relu", "Activation after every conv, the final class conv included", choices=ACTIVATIONS),
    Setting("dropout", 0.5, "Dropout before the final 1x1 conv (the paper: 50% after fire9)", min=0.0, max=1.0),
    Setting(
        "bypass",
        False,
        "The paper's simple bypass: residual connections around the Fire modules whose input and output "
        "channels match (fire3, 5, 7, 9)",
    ),
)

_SQUEEZENET_FACTS = PaperFacts(
    paper="Iandola, Han, Moskewicz, Ashraf, Dally & Keutzer, 2016. SqueezeNet: AlexNet-level accuracy "
    "with 50x fewer parameters and <0.5MB model size",
    year=2016,
    ilsvrc="Not a competition entry; 57.5% top-1 / 80.3% top-5 on ImageNet, AlexNet's accuracy",
    new_ideas=(
        "Fire module: a 1x1 'squeeze' layer feeds a mix of 1x1 and 3x3 'expand' filters",
        "Replace most 3x3 filters by 1x1 filters (9x fewer parameters each)",
        "Squeeze the channels going into the 3x3 filters",
        "Downsample late so that the conv layers have large activation maps",
        "No fully connected layers: a 1x1 conv to the classes, then global average pooling",
    ),
    notes_numbers="SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size "
    "(1.25M parameters = 4.8MB in float32; 0.47MB after Deep Compression)",
)


@register(
    "squeezenet1_0",
    family="mobile",
    description=(
        "SqueezeNet 1.0 (Iandola et al. 2016), exactly torchvision's squeezenet1_0(): 1,248,424 parameters. "
        "A 7x7 conv with 96 filters, 8 Fire modules with 3 max pools in between, then the classifier: dropout, "
        "1x1 conv to the classes, ReLU, global average pool. The paper's figure places the pools after conv1, "
        "fire4 and fire8; bypass=True adds its 'simple bypass' residuals."
    ),
    settings=_SQUEEZENET_SETTINGS,
    facts=_SQUEEZENET_FACTS,
    torchvision="squeezenet1_0",
    min_input=21,
)
def squeezenet1_0(*, in_channels: int, input_size: int, num_classes: int, **settings: Any) -> SqueezeNet:
    return SqueezeNet("1_0", in_channels=in_channels, num_classes=num_classes, **settings)


@register(
    "squeezenet1_1",
    family="mobile",
    description=(
        "SqueezeNet 1.1, exactly torchvision's squeezenet1_1(): 1,235,496 parameters. Not in the paper: the "
        "authors' revision in their GitHub release (DeepScale/SqueezeNet), with a 3x3 stem conv of 64 filters "
        "and the max pools moved earlier, 2.4x less computation than 1.0 for the same accuracy."
    ),
    settings=_SQUEEZENET_SETTINGS,
    facts=_SQUEEZENET_FACTS,
    torchvision="squeezenet1_1",
    min_input=17,
)
def squeezenet1_1(*, in_channels: int, input_size: int, num_classes: int, **settings: Any) -> SqueezeNet:
    return SqueezeNet("1_1", in_channels=in_channels, num_classes=num_classes, **settings)
