"""ResNet, plain, CIFAR, ResNeXt, Wide ResNet and DenseNet: torchvision twins and paper facts."""
from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from cnnviz.analysis import summarize
from cnnviz.errors import ConfigError
from cnnviz.zoo import build, get_spec, list_models
from cnnviz.zoo.resnet import BasicBlock, Bottleneck, ZeroPadShortcut

TWINS = [
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
    "densenet121", "densenet161", "densenet169", "densenet201",
]  # fmt: skip
OURS = [s.name for s in list_models() if s.family in ("resnet", "densenet")]
# Outputs compared on CPU for one twin per kind of block (the others share the code; their
# structure is checked module by module below), to keep the test file fast.
OUTPUT_TWINS = ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "densenet121"]
BLOCKS = (BasicBlock, Bottleneck)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def meta_forward(model: nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    return model(torch.empty(*shape, device="meta"))


def randomise_norms(model: nn.Module) -> None:
    """Non-trivial BN statistics so that an eval-mode comparison tests them too."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                for t in (m.weight, m.bias, m.running_mean):
                    t.copy_(torch.rand(t.shape, generator=gen) * 0.4 - 0.2 + (1.0 if t is m.weight else 0.0))
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


# --------------------------------------------------------------------------- torchvision twins


@pytest.mark.parametrize("name", TWINS)
def test_twin_structure_and_param_count(name: str) -> None:
    assert get_spec(name).torchvision == name
    ours = build(name, device="meta")
    with torch.device("meta"):
        tv = torchvision.models.get_model(name)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [(k, v.shape) for k, v in tv.state_dict().items()]
    # Same module tree: names and layer types.
    assert [(k, type(m).__name__) for k, m in ours.named_modules()][1:] == [
        (k, type(m).__name__) for k, m in tv.named_modules()
    ][1:]
    assert n_params(ours) == torchvision.models.get_model_weights(name).DEFAULT.meta["num_params"]


@pytest.mark.parametrize("name", OUTPUT_TWINS)
def test_twin_same_outputs(name: str) -> None:
    torch.manual_seed(0)
    tv = torchvision.models.get_model(name).eval()
    randomise_norms(tv)
    ours = build(name, device="meta")
    ours.load_state_dict(tv.state_dict(), strict=True, assign=True)
    ours.eval()
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        expected = tv(x)
        got = ours(x)
    assert got.shape == (2, 1000)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-5 * expected.abs().max().item())
    with torch.no_grad():
        assert torch.equal(ours.forward_head(ours.forward_features(x)), got)


def test_twin_macs_match_torchvision() -> None:
    """The analysis engine counts torchvision's published GMACs (``_ops``) on our twins."""
    for name in TWINS:
        ops = torchvision.models.get_model_weights(name).DEFAULT.meta["_ops"]
        assert round(summarize(name).totals.macs / 1e9, 3) == pytest.approx(ops, abs=1e-3), name


def test_paper_stride_placement_gives_the_papers_flops() -> None:
    # He et al. 2015, Table 1: 3.8, 7.6 and 11.3 x 10^9 FLOPs (multiply-adds) for ResNet-50/101/152.
    for depth, paper in ((50, 3.8), (101, 7.6), (152, 11.3)):
        macs = summarize(f"resnet{depth}", stride_placement="paper").totals.macs / 1e9
        assert abs(macs - paper) < 0.1, (depth, macs)
        assert f"{paper}G" in get_spec(f"resnet{depth}").description


def test_features_shapes() -> None:
    assert meta_forward(build("resnet50", device="meta").forward_features, (2, 3, 224, 224)).shape == (2, 2048, 7, 7)
    assert meta_forward(build("resnet18", device="meta").forward_features, (2, 3, 224, 224)).shape == (2, 512, 7, 7)
    assert meta_forward(build("resnet20", device="meta").forward_features, (2, 3, 32, 32)).shape == (2, 64, 8, 8)
    dense = build("densenet121", device="meta")
    assert meta_forward(dense.forward_features, (2, 3, 224, 224)).shape == (2, 1024, 7, 7)
    assert meta_forward(dense, (2, 3, 29, 29)).shape == (2, 1000)  # torchvision's min_size


# --------------------------------------------------------------------------- every model, several settings

COMBOS = {
    "common": [{}, {"activation": "tanh", "batch_norm": False}, {"in_channels": 1, "num_classes": 7, "input_size": 48}],
    "resnet": [{"shortcut": "A"}, {"shortcut": "C", "width_mult": 0.5}, {"skip": False}, {"zero_init_residual": True}],
    "plain": [{"width_mult": 0.25, "activation": "sigmoid"}],
    "bottleneck": [{"stride_placement": "paper"}, {"groups": 8, "width_per_group": 8}],
    "densenet": [{"growth_rate": 12, "bn_size": 2}, {"compression": 1.0, "drop_rate": 0.2}],
}


# Every setting combination on one model per kind of net; the deeper ones share the code and
# only get the common combinations (a meta forward of a 152-layer net costs ~0.25 s).
ALL_COMBOS = {"resnet18", "plain18", "resnet50", "plain50", "resnext50_32x4d", "wide_resnet50_2"}
ALL_COMBOS |= {"resnet20", "plain20", "resnet_cifar", "plain_cifar", "densenet121"}


def combos(name: str) -> list[dict]:
    spec = get_spec(name)
    keys = {s.name for s in spec.settings}
    out = list(COMBOS["common"])
    if name not in ALL_COMBOS:
        return out
    if spec.family == "densenet":
        return out + COMBOS["densenet"]
    out += COMBOS["resnet"] if "skip" in keys else COMBOS["plain"]
    if "stride_placement" in keys:
        out += COMBOS["bottleneck"]
    return out


@pytest.mark.parametrize("name", OURS)
def test_meta_forward_all_settings(name: str) -> None:
    spec = get_spec(name)
    assert spec.facts is not None and spec.facts.paper and spec.description
    for settings in combos(name):
        model = build(name, device="meta", **settings)
        resolved = spec.resolve(settings)
        shape = (2, resolved["in_channels"], resolved["input_size"], resolved["input_size"])
        assert meta_forward(model, shape).shape == (2, resolved["num_classes"]), settings
        assert model.get_classifier().out_features == resolved["num_classes"]


def test_registered_names() -> None:
    depths = (18, 34, 50, 101, 152, 20, 32, 44, 56, 110)
    expected = {f"{kind}{d}" for kind in ("resnet", "plain") for d in depths}
    expected |= {"resnet_cifar", "plain_cifar", "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2"}
    expected |= {"wide_resnet101_2", "densenet121", "densenet161", "densenet169", "densenet201"}
    assert expected <= set(OURS)
    assert {get_spec(n).family for n in ("densenet121", "densenet201")} == {"densenet"}


# --------------------------------------------------------------------------- plain nets and shortcuts


def shortcut_modules(model: nn.Module) -> list[nn.Module]:
    return [b.downsample for b in model.modules() if isinstance(b, BLOCKS) and b.downsample is not None]


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152, 20, 56, 110])
def test_plain_has_no_shortcuts_and_matches_option_a(depth: int) -> None:
    plain = build(f"plain{depth}", device="meta")
    assert "skip" in get_spec(f"plain{depth}").description.lower()
    assert all(not b.skip for b in plain.modules() if isinstance(b, BLOCKS))
    assert shortcut_modules(plain) == []
    assert not any(isinstance(m, ZeroPadShortcut) or "downsample" in n for n, m in plain.named_modules())
    res_a = build(f"resnet{depth}", device="meta", shortcut="A")
    assert n_params(plain) == n_params(res_a)
    assert all(isinstance(m, ZeroPadShortcut) for m in shortcut_modules(res_a))
    assert [k for k in plain.state_dict()] == [k for k in res_a.state_dict()]
    no_skip = build(f"resnet{depth}", device="meta", skip=False)
    assert [k for k, _ in no_skip.named_modules()] == [k for k, _ in plain.named_modules()]


# He et al. 2015, Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M with option A (no shortcut parameters).
CIFAR_PARAMS_A = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}
# Option B adds the two projections (16->32, 32->64, each 1x1 conv + BN): +2,752.
CIFAR_PARAMS_B = {20: 272_474, 56: 855_770, 110: 1_730_714}


@pytest.mark.parametrize("depth", sorted(CIFAR_PARAMS_A))
def test_cifar_param_counts(depth: int) -> None:
    spec = get_spec(f"resnet{depth}")
    assert spec.default_input == (3, 32, 32) and spec.num_classes == 10
    assert spec.defaults()["shortcut"] == "A"
    assert n_params(build(f"resnet{depth}", device="meta")) == CIFAR_PARAMS_A[depth]
    assert n_params(build(f"plain{depth}", device="meta")) == CIFAR_PARAMS_A[depth]
    assert n_params(build("resnet_cifar", device="meta", depth=depth)) == CIFAR_PARAMS_A[depth]
    if depth in CIFAR_PARAMS_B:
        assert n_params(build(f"resnet{depth}", device="meta", shortcut="B")) == CIFAR_PARAMS_B[depth]


def test_cifar_structure() -> None:
    model = build("resnet20", device="meta")
    assert model.conv1.kernel_size == (3, 3) and model.conv1.out_channels == 16 and model.maxpool is None
    assert [len(getattr(model, f"layer{i}")) for i in (1, 2, 3)] == [3, 3, 3]
    assert not hasattr(model, "layer4")
    assert [getattr(model, f"layer{i}")[0].conv1.stride for i in (1, 2, 3)] == [(1, 1), (2, 2), (2, 2)]
    assert [getattr(model, f"layer{i}")[-1].conv2.out_channels for i in (1, 2, 3)] == [16, 32, 64]
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(convs) == 20  # depth counts the weight layers


@pytest.mark.parametrize("depth", [9, 10, 21, 100])
def test_cifar_depth_must_be_6n_plus_2(depth: int) -> None:
    with pytest.raises(ConfigError, match=r"6n\+2"):
        build("resnet_cifar", device="meta", depth=depth)


def test_zero_pad_shortcut() -> None:
    short = ZeroPadShortcut(16, 32, 2)
    assert list(short.parameters()) == []
    x = torch.randn(2, 16, 9, 9)
    out = short(x)
    assert out.shape == (2, 32, 5, 5)  # like a 3x3/2 conv with padding 1
    assert torch.equal(out[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(out[:, 16:]) == 0
    assert meta_forward(short, (2, 16, 9, 9)).shape == (2, 32, 5, 5)


def test_shortcut_options() -> None:
    b = build("resnet18", device="meta")
    assert len(shortcut_modules(b)) == 3  # torchvision: projections at layer2..4 only
    a = build("resnet18", device="meta", shortcut="A")
    assert n_params(b) - n_params(a) == sum(n_params(m) for m in shortcut_modules(b))
    c = build("resnet18", device="meta", shortcut="C")
    blocks = [m for m in c.modules() if isinstance(m, BLOCKS)]
    assert len(shortcut_modules(c)) == len(blocks) == 8
    assert all(isinstance(m[0], nn.Conv2d) and m[0].kernel_size == (1, 1) for m in shortcut_modules(c))
    # Bottleneck nets with option A pad 64 -> 256 channels already in layer1.0.
    a50 = build("resnet50", device="meta", shortcut="A")
    assert isinstance(a50.layer1[0].downsample, ZeroPadShortcut) and a50.layer1[0].downsample.stride == 1


# --------------------------------------------------------------------------- stride placement


def stage_shapes(model: nn.Module, size: int = 224) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [
        model.get_submodule(n).register_forward_hook(lambda _m, _i, o, n=n: shapes.__setitem__(n, tuple(o.shape)))
        for n in ("layer1", "layer2", "layer3", "layer4", "layer2.0.conv1", "layer2.0.conv2")
    ]
    meta_forward(model, (1, 3, size, size))
    for h in hooks:
        h.remove()
    return shapes


def test_stride_placement() -> None:
    v15 = build("resnet50", device="meta")
    paper = build("resnet50", device="meta", stride_placement="paper")
    assert n_params(v15) == n_params(paper)
    for stage in (v15.layer2, v15.layer3, v15.layer4):
        assert (stage[0].conv1.stride, stage[0].conv2.stride) == ((1, 1), (2, 2))
    for stage in (paper.layer2, paper.layer3, paper.layer4):
        assert (stage[0].conv1.stride, stage[0].conv2.stride) == ((2, 2), (1, 1))
        assert stage[0].downsample[0].stride == (2, 2)
        assert all(b.conv1.stride == b.conv2.stride == (1, 1) for b in list(stage)[1:])
    assert paper.layer1[0].conv1.stride == paper.layer1[0].conv2.stride == (1, 1)
    s_v15, s_paper = stage_shapes(v15), stage_shapes(paper)
    for name, size in (("layer1", 56), ("layer2", 28), ("layer3", 14), ("layer4", 7)):
        assert s_v15[name][2:] == s_paper[name][2:] == (size, size)
    assert s_v15["layer2.0.conv1"] == (1, 128, 56, 56) and s_v15["layer2.0.conv2"] == (1, 128, 28, 28)
    assert s_paper["layer2.0.conv1"] == (1, 128, 28, 28) and s_paper["layer2.0.conv2"] == (1, 128, 28, 28)


# --------------------------------------------------------------------------- other settings


def test_groups_width_and_width_mult() -> None:
    assert n_params(build("resnet50", device="meta", groups=32, width_per_group=4)) == 25_028_904
    assert n_params(build("resnet50", device="meta", width_per_group=128)) == 68_883_240
    assert build("resnext50_32x4d", device="meta").layer1[0].conv2.groups == 32
    half = build("resnet18", device="meta", width_mult=0.5)
    assert half.conv1.out_channels == 32 and half.fc.in_features == 256


def test_batch_norm_off() -> None:
    model = build("resnet50", device="meta", batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert all(m.bias is not None for m in model.modules() if isinstance(m, nn.Conv2d))


def test_zero_init_residual() -> None:
    model = build("resnet20", zero_init_residual=True)
    assert all(torch.count_nonzero(b.bn2.weight) == 0 for b in model.modules() if isinstance(b, BasicBlock))
    with pytest.raises(ConfigError, match="skip"):
        build("resnet20", device="meta", zero_init_residual=True, skip=False)


def test_facts_from_the_course_notes() -> None:
    facts = get_spec("resnet152").facts
    assert "3.57%" in facts.ilsvrc and "4.49%" in facts.notes_numbers and "5.1%" in facts.notes_numbers
    assert "69K" in facts.notes_numbers and "589K" in facts.notes_numbers
    # The course notes' bottleneck arithmetic: 256-64-256 with 1x1, 3x3, 1x1 kernels vs one 3x3 256->256 conv.
    block = build("resnet50", device="meta").layer1[1]
    convs = sum(m.weight.numel() for m in block.modules() if isinstance(m, nn.Conv2d))
    assert convs == 69_632 and 3 * 3 * 256 * 256 == 589_824
    assert "WRN-28-10" in get_spec("wide_resnet50_2").description
    assert "v1.5" in get_spec("resnet50").description


def test_resnet20_trains_on_cpu() -> None:
    torch.manual_seed(0)
    model = build("resnet20")
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize(
    ("name", "settings", "size"),
    [
        ("resnet20", {"batch_norm": False}, 32),
        ("resnet18", {"batch_norm": False, "shortcut": "A", "width_mult": 0.25}, 32),
        ("densenet121", {"batch_norm": False, "drop_rate": 0.2, "growth_rate": 8}, 32),
    ],
)
def test_backward_without_batch_norm(name: str, settings: dict, size: int) -> None:
    """The in-place activations and additions stay autograd-safe when BN is an Identity."""
    model = build(name, **settings)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    out = model(torch.randn(2, 3, size, size))
    out.sum().backward()
    assert torch.isfinite(out).all() and all(p.grad is not None for p in model.parameters())


# --------------------------------------------------------------------------- DenseNet settings


def test_densenet_settings() -> None:
    base = build("densenet121", device="meta")
    assert base.features.transition1.conv.out_channels == 128  # (64 + 6 * 32) * 0.5
    no_compression = build("densenet121", device="meta", compression=1.0)
    assert no_compression.features.transition1.conv.out_channels == 256
    k12 = build("densenet121", device="meta", growth_rate=12, bn_size=2)
    layer = k12.features.denseblock1.denselayer2
    assert layer.conv1.in_channels == 64 + 12 and layer.conv1.out_channels == 24 and layer.conv2.out_channels == 12
    dropped = build("densenet121", device="meta", drop_rate=0.2)
    assert sum(isinstance(m, nn.Dropout) for m in dropped.modules()) == 58
    assert dropped.state_dict().keys() == base.state_dict().keys()
    assert isinstance(build("densenet121", device="meta", activation="tanh").features.relu0, nn.Tanh)
    assert get_spec("densenet161").defaults()["growth_rate"] == 48
    assert base.head_name == "classifier"
