"""LeNet-5: LeCun, Bottou, Bengio & Haffner, 1998. Gradient-based learning applied to document recognition.

One configurable class, :class:`LeNet5`, builds three readings of the network:

* ``classic``: the textbook version (conv 5x5 6 -> avg pool -> conv 5x5 16 -> avg pool ->
  fc 120 -> fc 84 -> fc 10, tanh): 61,706 parameters.
* ``paper``: the 1998 paper as closely as standard PyTorch layers allow: C3's partial
  connection table, trainable subsampling in S2/S4, the scaled tanh ``1.7159 tanh(2/3 a)``
  after every layer and C5 as a 5x5 convolution. 60,000 trainable parameters up to F6,
  as the paper says; the RBF output layer is replaced by a Linear 84 -> 10.
* ``modern``: the classic layout with ReLU and max pooling.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from cnnviz.errors import ConfigError
from cnnviz.zoo.base import ACTIVATIONS, ZooModel, make_activation
from cnnviz.zoo.registry import PaperFacts, Setting, register

# Table I of the paper: the S2 maps (0-5) that each of C3's 16 maps (0-15) sees.
# Maps 0-5 see every 3 contiguous S2 maps, 6-11 every 4 contiguous, 12-14 three
# discontinuous sets of 4 and map 15 sees all 6: 60 of the 96 possible connections.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    *(tuple(sorted((j + i) % 6 for i in range(3))) for j in range(6)),
    *(tuple(sorted((j + i) % 6 for i in range(4))) for j in range(6)),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

VARIANTS = {
    # variant: (activation, pooling, partial C3 + C5 as a convolution)
    "classic": ("tanh", "avg", False),
    "paper": ("scaled_tanh", "subsample", True),
    "modern": ("relu", "max", False),
}


class ScaledTanh(nn.Module):
    """The paper's squashing function ``f(a) = A tanh(S a)`` with A = 1.7159, S = 2/3 (its Appendix A)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class ConnectionTableConv(nn.Module):
    """A convolution where output map ``j`` sees only the input maps ``table[j]``.

    Runs of consecutive output maps with the same number of inputs become one grouped
    ``nn.Conv2d`` over the gathered input maps, so unconnected weights do not exist
    (the parameter count is the paper's) and every piece is a standard layer.
    """

    def __init__(self, table: tuple[tuple[int, ...], ...], kernel_size: int) -> None:
        super().__init__()
        runs: list[list[tuple[int, ...]]] = []
        for inputs in table:
            if runs and len(runs[-1][0]) == len(inputs):
                runs[-1].append(inputs)
            else:
                runs.append([inputs])
        self.index = [[i for inputs in run for i in inputs] for run in runs]
        self.convs = nn.ModuleList(
            nn.Conv2d(len(idx), len(run), kernel_size, groups=len(run)) for idx, run in zip(self.index, runs)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([conv(x[:, idx]) for conv, idx in zip(self.convs, self.index)], dim=1)


def _activation(name: str) -> nn.Module:
    return ScaledTanh() if name == "scaled_tanh" else make_activation(name)


def _pool(kind: str, channels: int) -> nn.Module:
    if kind == "max":
        return nn.MaxPool2d(2, 2)
    if kind == "avg":
        return nn.AvgPool2d(2, 2)
    # The paper's subsampling: the 4 inputs of a 2x2 window are summed, multiplied by a
    # trainable coefficient and a trainable bias is added (one of each per map). Here:
    # average (= sum / 4, the 4 is absorbed into the coefficient), then a depthwise 1x1 conv.
    return nn.Sequential(
        OrderedDict(pool=nn.AvgPool2d(2, 2), scale=nn.Conv2d(channels, channels, 1, groups=channels))
    )


class LeNet5(ZooModel):
    """LeNet-5: C1 -> S2 -> C3 -> S4 -> C5 -> F6 -> output.

    ``paper=True`` uses C3's connection table and C5 as a 5x5 convolution (the paper's
    reading); otherwise C3 is fully connected and C5 is a Linear layer on the flattened
    16x5x5 maps (the same 48,120 weights on a 32x32 input).
    """

    head_name = "classifier.output"

    def __init__(
        self,
        *,
        in_channels: int = 1,
        input_size: int = 32,
        num_classes: int = 10,
        activation: str = "tanh",
        pooling: str = "avg",
        paper: bool = False,
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        s2 = (input_size - 4) // 2
        s4 = (s2 - 4) // 2
        if s2 < 5 or s4 < 1:
            raise ConfigError(f"LeNet-5 needs an input of at least 16x16 (two 5x5 convs and two 2x2 pools); got {input_size}x{input_size}")
        if paper and s4 < 5:
            raise ConfigError(f"LeNet-5 (paper): C5 is a 5x5 conv on S4's maps, which needs an input of at least 32x32; got {input_size}x{input_size}")
        # The paper squashes the output of every layer, subsampling layers included.
        squash_pools = pooling == "subsample"

        features: OrderedDict[str, nn.Module] = OrderedDict()

        def conv_layer(n: int, conv: nn.Module, channels: int) -> None:
            """Layer C<n>: the convolution, its optional batch norm and its activation."""
            features[f"c{n}"] = conv
            if batch_norm:
                features[f"bn{n}"] = nn.BatchNorm2d(channels)
            features[f"act{n}"] = _activation(activation)

        def pool_layer(n: int, channels: int) -> None:
            """Layer S<n>: the pooling, squashed in the paper's reading."""
            features[f"s{n}"] = _pool(pooling, channels)
            if squash_pools:
                features[f"act{n}"] = _activation(activation)

        conv_layer(1, nn.Conv2d(in_channels, 6, 5), 6)
        pool_layer(2, 6)
        conv_layer(3, ConnectionTableConv(C3_TABLE, 5) if paper else nn.Conv2d(6, 16, 5), 16)
        pool_layer(4, 16)

        classifier: OrderedDict[str, nn.Module] = OrderedDict()
        if paper:
            # C5: 120 maps of 5x5 convs over all 16 S4 maps; 1x1 maps on a 32x32 input.
            conv_layer(5, nn.Conv2d(16, 120, 5), 120)
            c5_size = s4 - 4
            flat = 120 * c5_size * c5_size
        else:
            classifier["c5"] = nn.Linear(16 * s4 * s4, 120)
            classifier["act5"] = _activation(activation)
            flat = 120
        if dropout > 0:
            classifier["drop5"] = nn.Dropout(dropout)
        classifier["f6"] = nn.Linear(flat, 84)
        classifier["act6"] = _activation(activation)
        if dropout > 0:
            classifier["drop6"] = nn.Dropout(dropout)
        # Departure from the paper: its output layer is 10 Euclidean RBF units with fixed
        # +-1 "bitmap" centres; a trainable Linear 84 -> classes (logits) replaces them.
        classifier["output"] = nn.Linear(84, num_classes)

        self.features = nn.Sequential(features)
        self.classifier = nn.Sequential(classifier)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(x, 1))


@register(
    "lenet5",
    family="lenet",
    description=(
        "LeNet-5 (LeCun et al., 1998), the network that read cheques. variant=classic is the "
        "textbook reading (tanh, average pooling, fully connected C3, 61,706 parameters); "
        "variant=paper follows the 1998 paper: C3 connects only 60 of the 96 S2-C3 map pairs "
        "(Table I), S2/S4 are trainable subsampling (2x2 sum x coefficient + bias), the scaled "
        "tanh 1.7159 tanh(2a/3) follows every layer and C5 is a 5x5 conv: 60,000 parameters up "
        "to F6, as the paper says, plus a Linear 84 -> 10 replacing the paper's RBF output "
        "units; variant=modern swaps in ReLU and max pooling."
    ),
    default_input=(1, 32, 32),
    num_classes=10,
    min_input=16,
    settings=(
        Setting("variant", "classic", "classic = textbook LeNet-5, paper = the 1998 paper's details, modern = ReLU + max pooling", choices=tuple(VARIANTS)),
        Setting("activation", "auto", "Non-linearity (auto = the variant's: tanh, scaled tanh, ReLU)", choices=("auto", *ACTIVATIONS, "scaled_tanh")),
        Setting("pooling", "auto", "Pooling (auto = the variant's: avg, trainable subsampling, max)", choices=("auto", "avg", "max", "subsample")),
        Setting("batch_norm", False, "BatchNorm after each convolution (not in the paper)"),
        Setting("dropout", 0.0, "Dropout before F6 and the output layer (not in the paper)", min=0.0, max=0.9),
    ),
    facts=PaperFacts(
        paper="LeCun, Bottou, Bengio & Haffner, 1998. Gradient-based learning applied to document recognition",
        year=1998,
        ilsvrc="Before ImageNet: 0.95% test error on MNIST (0.8% with distorted training data); the course notes: 99.05% accuracy",
        new_ideas=(
            "Convolution + subsampling layers trained end to end by backpropagation",
            "Weight sharing and local receptive fields",
            "CONV-POOL-CONV-POOL-FC-FC pattern still used today",
        ),
        notes_numbers=(
            "60K parameters; 341K floating point operations per inference "
            "(the paper's 340,908 connections)"
        ),
    ),
)
def lenet5(
    *,
    in_channels: int,
    input_size: int,
    num_classes: int,
    variant: str,
    activation: str,
    pooling: str,
    batch_norm: bool,
    dropout: float,
) -> LeNet5:
    default_act, default_pool, paper = VARIANTS[variant]
    return LeNet5(
        in_channels=in_channels,
        input_size=input_size,
        num_classes=num_classes,
        activation=default_act if activation == "auto" else activation,
        pooling=default_pool if pooling == "auto" else pooling,
        paper=paper,
        batch_norm=batch_norm,
        dropout=dropout,
    )
