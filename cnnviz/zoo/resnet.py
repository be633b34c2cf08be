"""Residual networks: ResNet, its plain baselines, the CIFAR nets, ResNeXt and Wide ResNet.

One configurable :class:`ResNet` builds them all, in the style of torchvision's
``models/resnet.py``. With default settings the ImageNet models are torchvision's
networks module for module (same ``state_dict``, same forward), so torchvision
weights load with ``strict=True``.

He et al. 2015, "Deep Residual Learning for Image Recognition": a block learns
the residual F(x) = H(x) - x and the skip connection adds x back. Where the
shortcut changes shape the paper offers option A (identity, subsample by 2 and
zero-pad the new channels, no parameters), option B (1x1 projection where the
shape changes, identity elsewhere; torchvision) and option C (projection on
every block).

Activation modules keep torchvision's names (``relu``) whatever the
``activation`` setting says, so the module tree is the same for every setting.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.errors import ConfigError
from cnnviz.zoo.base import ACTIVATIONS, ZooModel, make_activation
from cnnviz.zoo.registry import PaperFacts, Setting, register

SHORTCUTS = ("A", "B", "C")
STRIDE_PLACEMENTS = ("v1.5", "paper")


def _norm(channels: int, batch_norm: bool) -> nn.Module:
    """BatchNorm2d, or nn.Identity when batch norm is switched off."""
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, bias: bool = False) -> nn.Conv2d:
    """3x3 convolution with padding 1."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, groups=groups, bias=bias)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """1x1 convolution."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=bias)


class ZeroPadShortcut(nn.Module):
    """He et al.'s shortcut option A: identity that subsamples by ``stride`` and zero-pads channels.

    The course's "dotted lines: down-sample the input by 2 and pad zeros". No
    parameters; the forward only slices and pads (it depends on shapes, never on values).
    The new channels are appended after the existing ones.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ConfigError(
                f"shortcut option A can only add channels (zero-padding), not go from {in_channels} to {out_channels}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}, zero-padding"


class _ResidualBlock(nn.Module):
    """What both blocks share: the end of the forward, where the skip connection adds
    ``x`` (or its ``downsample``) to the residual branch before the last activation."""

    relu: nn.Module
    downsample: nn.Module | None
    skip: bool

    def _add_skip(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.skip:
            identity = x if self.downsample is None else self.downsample(x)
            out += identity
        return self.relu(out)


class BasicBlock(_ResidualBlock):
    """Two 3x3 convolutions (ResNet-18/34 and the CIFAR nets), plus the skip connection."""

    expansion: int = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        skip: bool = True,
        activation: str = "relu",
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        bias = not batch_norm  # without BN the convolutions need their own bias
        self.conv1 = conv3x3(inplanes, planes, stride, bias=bias)
        self.bn1 = _norm(planes, batch_norm)
        self.relu = make_activation(activation)
        self.conv2 = conv3x3(planes, planes, bias=bias)
        self.bn2 = _norm(planes, batch_norm)
        self.downsample = downsample
        self.stride = stride
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)

        out = self.conv2(out)
        out = self.bn2(out)
        return self._add_skip(out, x)


class Bottleneck(_ResidualBlock):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand by 4, plus the skip connection.

    ``stride_in_1x1=False`` is torchvision's ResNet v1.5 (stride in the 3x3 conv);
    ``True`` is the paper's placement (stride in the first 1x1 conv).
    """

    expansion: int = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        groups: int = 1,
        base_width: int = 64,
        stride_in_1x1: bool = False,
        skip: bool = True,
        activation: str = "relu",
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        if width == 0:
            raise ConfigError(
                f"bottleneck width int({planes} * width_per_group {base_width} / 64) * groups {groups} is 0 channels"
            )
        bias = not batch_norm
        stride1, stride2 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(inplanes, width, stride1, bias=bias)
        self.bn1 = _norm(width, batch_norm)
        self.conv2 = conv3x3(width, width, stride2, groups, bias=bias)
        self.bn2 = _norm(width, batch_norm)
        self.conv3 = conv1x1(width, planes * self.expansion, bias=bias)
        self.bn3 = _norm(planes * self.expansion, batch_norm)
        self.relu = make_activation(activation)
        self.downsample = downsample
        self.stride = stride
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)

        out = self.conv2(out)
        out = self.bn2(out)
        out = self.relu(out)

        out = self.conv3(out)
        out = self.bn3(out)
        return self._add_skip(out, x)


Block = type[BasicBlock] | type[Bottleneck]


class ResNet(ZooModel):
    """A stem, stages of residual blocks, global average pooling and one FC layer.

    ``stem="imagenet"``: 7x7/2 conv + 3x3/2 max pool, stages of 64/128/256/512 planes
    (torchvision). ``stem="cifar"``: one 3x3 conv, no pooling, stages of 16/32/64
    planes (He et al. 2015, section 4.2). Every stage after the first starts with stride 2.
    """

    head_name = "fc"

    def __init__(
        self,
        block: Block,
        layers: list[int],
        *,
        stem: str = "imagenet",
        in_channels: int = 3,
        num_classes: int = 1000,
        skip: bool = True,
        shortcut: str = "B",
        stride_placement: str = "v1.5",
        groups: int = 1,
        width_per_group: int = 64,
        width_mult: float = 1.0,
        activation: str = "relu",
        batch_norm: bool = True,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ConfigError(f"unknown shortcut option {shortcut!r}; choose one of {', '.join(SHORTCUTS)}")
        if stride_placement not in STRIDE_PLACEMENTS:
            raise ConfigError(f"unknown stride_placement {stride_placement!r}; choose v1.5 or paper")
        if block is BasicBlock and (groups != 1 or width_per_group != 64):
            raise ConfigError("basic blocks only support groups=1 and width_per_group=64")
        if zero_init_residual and not skip:
            raise ConfigError(
                "zero_init_residual needs skip connections: without them every block would output zeros"
            )
        if stem not in ("imagenet", "cifar"):
            raise ConfigError(f"unknown stem {stem!r}; choose imagenet or cifar")
        if width_mult <= 0:
            raise ConfigError(f"width_mult must be positive, got {width_mult}")
        base_planes = (64, 128, 256, 512) if stem == "imagenet" else (16, 32, 64)
        if len(layers) != len(base_planes):
            raise ConfigError(f"a {stem} ResNet has {len(base_planes)} stages, got {len(layers)} block counts")
        planes = [max(1, round(p * width_mult)) for p in base_planes]

        self.skip = skip
        self.shortcut = shortcut
        self.batch_norm = batch_norm
        self.block_kwargs: dict[str, Any] = dict(skip=skip, activation=activation, batch_norm=batch_norm)
        if block is Bottleneck:
            self.block_kwargs.update(
                groups=groups, base_width=width_per_group, stride_in_1x1=stride_placement == "paper"
            )

        self.inplanes = planes[0]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(
                in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=not batch_norm
            )
        else:
            self.conv1 = conv3x3(in_channels, self.inplanes, bias=not batch_norm)
        self.bn1 = _norm(self.inplanes, batch_norm)
        self.relu = make_activation(activation)
        # The CIFAR nets have no pooling before the first stage.
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if stem == "imagenet" else None
        self.stage_names: list[str] = []
        for i, (p, n) in enumerate(zip(planes, layers)):
            name = f"layer{i + 1}"
            self.add_module(name, self._make_layer(block, p, n, stride=1 if i == 0 else 2))
            self.stage_names.append(name)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, num_classes)
        if not self.fc.weight.is_meta:  # meta tensors hold no values: nothing to initialise
            self._init_weights(zero_init_residual)

    def _init_weights(self, zero_init_residual: bool) -> None:
        """torchvision's initialisation."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

        # Zero-initialise the last BN of each residual branch so every block starts as
        # the identity (Goyal et al. 2017); not in He et al. 2015.
        if zero_init_residual:
            for m in self.modules():
                last_bn = m.bn3 if isinstance(m, Bottleneck) else m.bn2 if isinstance(m, BasicBlock) else None
                if isinstance(last_bn, nn.BatchNorm2d):
                    nn.init.constant_(last_bn.weight, 0)

    def _shortcut(self, inplanes: int, outplanes: int, stride: int) -> nn.Module | None:
        """The module on the skip path of one block, or None for a plain identity (or no skip)."""
        if not self.skip:
            return None
        changes_shape = stride != 1 or inplanes != outplanes
        if self.shortcut == "C" or (self.shortcut == "B" and changes_shape):
            return nn.Sequential(
                conv1x1(inplanes, outplanes, stride, bias=not self.batch_norm),
                _norm(outplanes, self.batch_norm),
            )
        if self.shortcut == "A" and changes_shape:
            return ZeroPadShortcut(inplanes, outplanes, stride)
        return None

    def _make_layer(self, block: Block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        outplanes = planes * block.expansion
        layers = [
            block(self.inplanes, planes, stride, self._shortcut(self.inplanes, outplanes, stride), **self.block_kwargs)
        ]
        self.inplanes = outplanes
        for _ in range(1, blocks):
            layers.append(
                block(self.inplanes, planes, 1, self._shortcut(self.inplanes, outplanes, 1), **self.block_kwargs)
            )
        return nn.Sequential(*layers)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        if self.maxpool is not None:
            x = self.maxpool(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return x

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


# --------------------------------------------------------------------------- settings


def _settings(
    *,
    residual: bool,
    bottleneck: bool,
    shortcut: str = "B",
    groups: int = 1,
    width_per_group: int = 64,
) -> tuple[Setting, ...]:
    out: list[Setting] = []
    if residual:
        out += [
            Setting("skip", True, "Skip connections (off = the plain net with the same layers)"),
            Setting(
                "shortcut",
                shortcut,
                "Shortcut where the shape changes: A = subsample + zero-pad channels (no parameters), "
                "B = 1x1 projection conv + BN, C = projection on every block",
                choices=SHORTCUTS,
            ),
        ]
    if bottleneck:
        out += [
            Setting(
                "stride_placement",
                "v1.5",
                "Where a downsampling bottleneck puts its stride 2: v1.5 = in the 3x3 conv (torchvision), "
                "paper = in the first 1x1 conv (He et al. 2015)",
                choices=STRIDE_PLACEMENTS,
            ),
            Setting(
                "groups", groups, "Groups of the 3x3 conv in each bottleneck (ResNeXt's cardinality)", min=1, max=256
            ),
            Setting(
                "width_per_group",
                width_per_group,
                "Channels per group of the bottleneck's 3x3 conv at the first stage (64 = ResNet, 128 = Wide ResNet-2)",
                min=1,
                max=1024,
            ),
        ]
    out += [
        Setting("width_mult", 1.0, "Multiplies every stage's width", min=0.0625, max=4.0),
        Setting("activation", "relu", "Activation after each conv and after each addition", choices=ACTIVATIONS),
        Setting("batch_norm", True, "Batch norm after every conv (off: the convs get a bias)"),
    ]
    if residual:
        out.append(
            Setting(
                "zero_init_residual",
                False,
                "Start the last BN of every block at zero so each block starts as the identity (Goyal et al. 2017)",
            )
        )
    return tuple(out)


def _factory(block: Block, layers: list[int], **fixed: Any) -> Callable[..., ResNet]:
    """A registry factory: ``fixed`` constructor arguments plus the user's settings."""

    def factory(*, in_channels: int, input_size: int, num_classes: int, **settings: Any) -> ResNet:
        # The global average pool makes the net independent of input_size.
        return ResNet(block, layers, in_channels=in_channels, num_classes=num_classes, **fixed, **settings)

    return factory


def _cifar_blocks(depth: int) -> list[int]:
    """n blocks per stage for a CIFAR net of depth 6n + 2."""
    if depth < 8 or (depth - 2) % 6:
        raise ConfigError(
            f"depth {depth} is not 6n+2: a CIFAR ResNet has 1 conv + 3 stages of n blocks of 2 convs + 1 FC "
            f"(8, 14, 20, 32, 44, 56, 110, ...)"
        )
    n = (depth - 2) // 6
    return [n, n, n]


def _cifar_factory(depth: int | None, **fixed: Any) -> Callable[..., ResNet]:
    """Factory of a CIFAR net; ``depth=None`` takes the depth from the settings."""

    def factory(*, in_channels: int, input_size: int, num_classes: int, **settings: Any) -> ResNet:
        d = settings.pop("depth") if depth is None else depth
        return ResNet(
            BasicBlock, _cifar_blocks(d), stem="cifar", in_channels=in_channels, num_classes=num_classes,
            **fixed, **settings,
        )

    return factory


# --------------------------------------------------------------------------- facts

_RESNET_IDEAS = (
    "Skip (shortcut) connections: a block learns the residual F(x) = H(x) - x and adds x back, "
    "so identity is easy to learn and gradients flow through very deep nets",
    "Depth: 152 layers on ImageNet (1202 on CIFAR-10); deeper plain nets train worse (the degradation problem), "
    "deeper ResNets better",
    "Batch norm after every convolution, no dropout; stride-2 convs downsample, and widths double when "
    "height/width halve (as in VGG)",
    "1x1 bottleneck blocks (256-64-256) for the 50/101/152-layer nets: ~69K parameters against 589K for "
    "one 3x3 256->256 conv",
    "No big FC layers: global average pooling and a single FC layer to the classes",
    "Dimension changes on the shortcut: option A = subsample by 2 and zero-pad (the dotted lines), "
    "option B = 1x1 projection",
)
_RESNET_NOTES = (
    "ILSVRC'15 winner, 3.57% top-5 error; ResNet-152 4.49% top-5, beating the 5.1% human error; 152 layers "
    "but 60M parameters against VGG's 144M; bottleneck 64 1x1x256 + 64 3x3x64 + 256 1x1x64 kernels = 69K "
    "parameters vs 589K for 256 3x3x256 kernels; a 56-layer plain net has higher training and test error "
    "than a 20-layer one"
)
RESNET_FACTS = PaperFacts(
    paper="Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun, 2015. Deep Residual Learning for Image Recognition",
    year=2015,
    ilsvrc="ILSVRC 2015 classification winner, 3.57% top-5 error (ensemble); single ResNet-152 4.49% top-5",
    new_ideas=_RESNET_IDEAS,
    notes_numbers=_RESNET_NOTES,
)
RESNEXT_FACTS = PaperFacts(
    paper="Saining Xie, Ross Girshick, Piotr Dollar, Zhuowen Tu, Kaiming He, 2017. "
    "Aggregated Residual Transformations for Deep Neural Networks",
    year=2017,
    ilsvrc="ILSVRC 2016 classification, 2nd place (3.03% top-5 error)",
    new_ideas=(
        "Cardinality: a bottleneck split into many parallel paths of the same shape (split-transform-merge), "
        "built as one grouped 3x3 convolution",
        "More paths (higher cardinality) beat a deeper or wider ResNet at the same parameter count",
    ),
    notes_numbers="Listed among the networks after ResNet (Aggregated Residual Transformations, ResNeXt)",
)
WIDE_FACTS = PaperFacts(
    paper="Sergey Zagoruyko, Nikos Komodakis, 2016. Wide Residual Networks",
    year=2016,
    new_ideas=(
        "Wider, shallower residual nets: widening the blocks by a factor k trains faster and matches or "
        "beats very thin, very deep ResNets",
        "Dropout between the convolutions of a block (CIFAR WRNs)",
    ),
    notes_numbers="Listed among the networks after ResNet (Wide Residual Networks)",
)

_CIFAR_ERRORS = {20: "8.75%", 32: "7.51%", 44: "7.17%", 56: "6.97%", 110: "6.43%"}
_CIFAR_PARAMS = {20: "0.27M", 32: "0.46M", 44: "0.66M", 56: "0.85M", 110: "1.7M"}

# --------------------------------------------------------------------------- ImageNet ResNets and plain nets

# depth: (block, blocks per stage, the paper's FLOPs (multiply-adds, Table 1), torchvision's)
_IMAGENET = {
    18: (BasicBlock, [2, 2, 2, 2], "1.8G", "1.8G"),
    34: (BasicBlock, [3, 4, 6, 3], "3.6G", "3.7G"),
    50: (Bottleneck, [3, 4, 6, 3], "3.8G", "4.1G"),
    101: (Bottleneck, [3, 4, 23, 3], "7.6G", "7.8G"),
    152: (Bottleneck, [3, 8, 36, 3], "11.3G", "11.5G"),
}

for _depth, (_block, _layers, _paper_macs, _tv_macs) in _IMAGENET.items():
    _bottleneck = _block is Bottleneck
    _stages = f"4 stages of {'/'.join(map(str, _layers))}"
    if _bottleneck:
        _what = (
            f"{_stages} bottleneck blocks (1x1, 3x3, 1x1 convs). torchvision's ResNet v1.5: a downsampling "
            "bottleneck has its stride 2 in the 3x3 conv; He et al. put it in the first 1x1 conv "
            f"(stride_placement=paper), which gives the paper's {_paper_macs} multiply-adds instead of "
            f"{_tv_macs}. Shortcut option B, as in the paper."
        )
    else:
        _what = (
            f"{_stages} basic blocks (two 3x3 convs), {_paper_macs} multiply-adds. Shortcut option B "
            "(1x1 projection where the shape changes) as torchvision; the paper's ImageNet ResNet-18/34 used "
            "option A (shortcut=A)."
        )
    register(
        f"resnet{_depth}",
        family="resnet",
        description=f"ResNet-{_depth} (He et al. 2015), torchvision's resnet{_depth}: {_what}",
        settings=_settings(residual=True, bottleneck=_bottleneck),
        facts=RESNET_FACTS,
        torchvision=f"resnet{_depth}",
    )(_factory(_block, _layers))
    register(
        f"plain{_depth}",
        family="resnet",
        description=(
            f"Plain-{_depth}: He et al. 2015's plain baseline, ResNet-{_depth}'s layers without any skip "
            f"connection (no shortcut modules); same parameter count as ResNet-{_depth} with shortcut A."
            + (" The paper trained plain-18/34 only; this one is built the same way." if _bottleneck else "")
        ),
        settings=_settings(residual=False, bottleneck=_bottleneck),
        facts=RESNET_FACTS,
    )(_factory(_block, _layers, skip=False))

# --------------------------------------------------------------------------- CIFAR-10 nets (He et al. 2015, 4.2)

_CIFAR_WHAT = (
    "3x32x32 input: 3x3 conv 16, 3 stages of n basic blocks with 16/32/64 channels (stride 2 at the start "
    "of stages 2 and 3), global average pool, 10-way FC; depth = 6n+2"
)
for _depth in (20, 32, 44, 56, 110):
    register(
        f"resnet{_depth}",
        family="resnet",
        description=(
            f"ResNet-{_depth} for CIFAR-10 (He et al. 2015, section 4.2): {_CIFAR_WHAT}. Shortcut option A "
            f"(zero-padding) as in the paper: {_CIFAR_PARAMS[_depth]} parameters, "
            f"{_CIFAR_ERRORS[_depth]} test error in the paper."
        ),
        default_input=(3, 32, 32),
        num_classes=10,
        settings=_settings(residual=True, bottleneck=False, shortcut="A"),
        facts=RESNET_FACTS,
    )(_cifar_factory(_depth))
    register(
        f"plain{_depth}",
        family="resnet",
        description=(
            f"Plain-{_depth} for CIFAR-10 (He et al. 2015, section 4.2): ResNet-{_depth}'s layers without skip "
            f"connections, the degradation experiment's baseline (deeper plain nets have higher training error). "
            f"{_CIFAR_WHAT}."
        ),
        default_input=(3, 32, 32),
        num_classes=10,
        settings=_settings(residual=False, bottleneck=False),
        facts=RESNET_FACTS,
    )(_cifar_factory(_depth, skip=False))

_DEPTH = Setting("depth", 20, "Number of weight layers, 6n+2 (20, 32, 44, 56, 110, ...)", min=8, max=1202)
register(
    "resnet_cifar",
    family="resnet",
    description=f"A CIFAR-10 ResNet of any depth (He et al. 2015, section 4.2): {_CIFAR_WHAT}. Shortcut option A.",
    default_input=(3, 32, 32),
    num_classes=10,
    settings=(_DEPTH,) + _settings(residual=True, bottleneck=False, shortcut="A"),
    facts=RESNET_FACTS,
)(_cifar_factory(None))
register(
    "plain_cifar",
    family="resnet",
    description=(
        f"A CIFAR-10 plain net (no skip connections) of any depth (He et al. 2015, section 4.2): {_CIFAR_WHAT}."
    ),
    default_input=(3, 32, 32),
    num_classes=10,
    settings=(_DEPTH,) + _settings(residual=False, bottleneck=False),
    facts=RESNET_FACTS,
)(_cifar_factory(None, skip=False))

# --------------------------------------------------------------------------- ResNeXt and Wide ResNet

for _name, _layers, _groups, _wpg in (
    ("resnext50_32x4d", [3, 4, 6, 3], 32, 4),
    ("resnext101_32x8d", [3, 4, 23, 3], 32, 8),
    ("resnext101_64x4d", [3, 4, 23, 3], 64, 4),
):
    register(
        _name,
        family="resnet",
        description=(
            f"ResNeXt (Xie et al. 2017), torchvision's {_name}: ResNet-{50 if _layers[2] == 6 else 101}'s "
            f"bottlenecks with a grouped 3x3 conv of cardinality {_groups} and {_wpg} channels per group at the "
            "first stage. Stride in the 3x3 conv (v1.5), as in the ResNeXt paper."
        ),
        settings=_settings(residual=True, bottleneck=True, groups=_groups, width_per_group=_wpg),
        facts=RESNEXT_FACTS,
        torchvision=_name,
    )(_factory(Bottleneck, _layers))

for _name, _layers in (("wide_resnet50_2", [3, 4, 6, 3]), ("wide_resnet101_2", [3, 4, 23, 3])):
    register(
        _name,
        family="resnet",
        description=(
            f"Wide ResNet (Zagoruyko & Komodakis 2016), torchvision's {_name}: ResNet-{50 if _layers[2] == 6 else 101} "
            "with the bottleneck's inner 1x1/3x3 width doubled (width_per_group=128), the paper's ImageNet "
            "WRN-50-2-bottleneck variant; not the paper's CIFAR WRN-28-10 (basic blocks, dropout)."
        ),
        settings=_settings(residual=True, bottleneck=True, width_per_group=128),
        facts=WIDE_FACTS,
        torchvision=_name,
    )(_factory(Bottleneck, _layers))
