"""The classic families: LeNet-5, the simple nets, AlexNet/ZFNet, VGG and Network in Network."""
from __future__ import annotations

import math

import pytest
import torch
import torchvision
from torch import nn

from cnnviz.errors import ConfigError
from cnnviz.zoo import build, get_spec, list_models
from cnnviz.zoo.lenet import C3_TABLE

CLASSIC_FAMILIES = ("lenet", "simple", "alexnet", "vgg", "nin")
TWINS = ("alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn")
# Checked number by number against torchvision (the others: structure, keys, shapes, counts).
NUMERIC_TWINS = ("alexnet", "vgg11_bn", "vgg16")


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def classic_names() -> list[str]:
    return [s.name for s in list_models() if s.family in CLASSIC_FAMILIES]


def meta_forward(name: str, batch: int = 2, **settings: object) -> torch.Tensor:
    model = build(name, device="meta", **settings)
    spec = get_spec(name)
    resolved = spec.resolve(settings)
    size = resolved["input_size"]
    return model(torch.empty(batch, resolved["in_channels"], size, size, device="meta"))


def materialize(model: nn.Module) -> nn.Module:
    """Meta model -> CPU with fast, well-scaled random weights and statistics."""
    model = model.to_empty(device="cpu")
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if not t.dtype.is_floating_point:
                t.zero_()
            elif t.dim() > 1:
                t.uniform_(-1, 1).mul_(math.sqrt(3.0 / t[0].numel()))
            elif key.endswith("running_var"):
                t.uniform_(0.5, 1.5)
            else:
                t.uniform_(-0.1, 0.1)
    return model


def layer_shapes(model: nn.Module, x: torch.Tensor, kinds: tuple[type, ...]) -> list[tuple[int, ...]]:
    """Output shapes (without the batch) of every leaf layer of the given kinds, in call order."""
    shapes: list[tuple[int, ...]] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:])))
        for m in model.modules()
        if isinstance(m, kinds)
    ]
    model(x)
    for h in hooks:
        h.remove()
    return shapes


# ---- every model, on meta -------------------------------------------------------------


def test_all_classic_models_registered() -> None:
    expected = {
        "lenet5", "mlp", "tinyvgg", "convpool", "alexnet", "alexnet_paper", "zfnet", "nin",
        "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
    }  # fmt: skip
    assert expected <= set(classic_names())
    for name in expected:
        spec = get_spec(name)
        assert spec.facts is not None and spec.facts.year and spec.facts.paper
        assert spec.description


@pytest.mark.parametrize("name", classic_names())
def test_meta_forward_default(name: str) -> None:
    spec = get_spec(name)
    model = build(name, device="meta")
    assert next(model.parameters()).is_meta
    out = meta_forward(name, batch=3)
    assert tuple(out.shape) == (3, spec.num_classes)
    assert isinstance(model.get_classifier(), (nn.Linear, nn.Conv2d))
    # forward == forward_head(forward_features)
    c, h, w = spec.default_input
    x = torch.empty(1, c, h, w, device="meta")
    assert model.forward_head(model.forward_features(x)).shape == (1, spec.num_classes)


@pytest.mark.parametrize("name", classic_names())
def test_meta_forward_common_settings(name: str) -> None:
    spec = get_spec(name)
    size = max(spec.min_input, spec.default_input[1] // 2 + 3)
    if name == "lenet5":
        size = 36
    out = meta_forward(name, in_channels=1 if spec.default_input[0] == 3 else 3, input_size=size, num_classes=7)
    assert tuple(out.shape) == (2, 7)


@pytest.mark.parametrize("name", classic_names())
def test_meta_forward_min_input(name: str) -> None:
    spec = get_spec(name)
    assert tuple(meta_forward(name, input_size=spec.min_input).shape) == (2, spec.num_classes)


@pytest.mark.parametrize("name", classic_names())
def test_reset_classifier(name: str) -> None:
    model = build(name, device="meta")
    model.reset_classifier(5)
    c, h, w = get_spec(name).default_input
    assert model(torch.empty(2, c, h, w, device="meta")).shape == (2, 5)


SETTING_COMBOS = [
    ("lenet5", {"variant": "paper"}),
    ("lenet5", {"variant": "modern", "batch_norm": True, "dropout": 0.3}),
    ("lenet5", {"variant": "paper", "pooling": "max", "activation": "relu", "batch_norm": True, "input_size": 48}),
    ("lenet5", {"variant": "classic", "activation": "sigmoid", "pooling": "subsample", "input_size": 28}),
    ("mlp", {"hidden": 64, "depth": 3, "activation": "tanh", "dropout": 0.0}),
    ("tinyvgg", {"width": 8, "blocks": 3, "batch_norm": True, "head": "global_avg", "dropout": 0.2, "pooling": "avg"}),
    ("tinyvgg", {"blocks": 1, "input_size": 5}),
    ("convpool", {"n": 3, "m": 4, "growth": "constant", "kernel_size": 5, "head": "global_avg", "input_size": 64}),
    ("convpool", {"n": 2, "m": 5, "batch_norm": True, "activation": "sigmoid", "input_size": 32, "dropout": 0.5}),
    ("alexnet", {"width_mult": 0.5, "activation": "tanh", "pooling": "avg", "dropout": 0.0}),
    ("alexnet_paper", {"two_gpu_split": False, "lrn": False, "width_mult": 0.3}),
    ("alexnet_paper", {"width_mult": 0.37, "input_size": 300}),
    ("zfnet", {"conv345": "384-384-256", "two_gpu_split": True, "width_mult": 0.5}),
    ("zfnet", {"lrn": False, "pooling": "avg", "activation": "sigmoid"}),
    ("vgg16", {"batch_norm": True, "width_mult": 0.25, "pooling": "avg", "activation": "tanh"}),
    ("vgg19_bn", {"batch_norm": False, "dropout": 0.0, "input_size": 32}),
    ("nin", {"batch_norm": True, "width_mult": 0.5, "dropout": 0.0, "activation": "tanh"}),
    ("nin", {"input_size": 96, "num_classes": 100}),
]


@pytest.mark.parametrize(("name", "settings"), SETTING_COMBOS)
def test_meta_forward_settings(name: str, settings: dict) -> None:
    num_classes = settings.get("num_classes", get_spec(name).num_classes)
    assert tuple(meta_forward(name, **settings).shape) == (2, num_classes)


@pytest.mark.parametrize(
    ("name", "settings", "match"),
    [
        ("convpool", {"m": 5}, "too small for 5"),
        ("convpool", {"kernel_size": 4}, "odd"),
        ("tinyvgg", {"blocks": 4, "input_size": 12}, "too small"),
        ("lenet5", {"variant": "paper", "input_size": 28}, "32x32"),
        ("lenet5", {"input_size": 12}, "minimum"),
        ("lenet5", {"variant": "retro"}, "not one of"),
        ("vgg16", {"input_size": 16}, "minimum"),
    ],
)
def test_impossible_settings_raise_config_error(name: str, settings: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build(name, device="meta", **settings)


# ---- torchvision twins --------------------------------------------------------------


@pytest.mark.parametrize("name", TWINS)
def test_twin_structure_and_param_count(name: str) -> None:
    assert get_spec(name).torchvision == name
    ours = build(name, device="meta")
    with torch.device("meta"):
        tv = torchvision.models.get_model(name, weights=None)
    ours_sd, tv_sd = ours.state_dict(), tv.state_dict()
    assert list(ours_sd) == list(tv_sd)
    assert all(ours_sd[k].shape == tv_sd[k].shape for k in tv_sd)
    for part in ("features", "avgpool", "classifier"):
        assert repr(getattr(ours, part)) == repr(getattr(tv, part))
    assert n_params(ours) == torchvision.models.get_model_weights(name).DEFAULT.meta["num_params"]


@pytest.mark.parametrize("name", NUMERIC_TWINS)
def test_twin_same_outputs(name: str) -> None:
    torch.manual_seed(0)
    with torch.device("meta"):
        tv = torchvision.models.get_model(name, weights=None)
    tv = materialize(tv).eval()
    ours = build(name, device="meta").to_empty(device="cpu")
    ours.load_state_dict(tv.state_dict(), strict=True)
    ours.eval()
    x = torch.randn(2, 3, 64, 64) if name == "alexnet" else torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        a, b = ours(x), tv(x)
    assert a.shape == (2, 1000)
    assert torch.allclose(a, b, rtol=0, atol=1e-6)


def test_twin_builds_on_cpu_with_torchvision_init() -> None:
    model = build("vgg11_bn", device="cpu", width_mult=0.0625)
    conv = model.features[0]
    assert conv.weight.device.type == "cpu" and conv.weight.std() > 0
    assert torch.all(conv.bias == 0) and torch.all(model.features[1].weight == 1)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 1000)


# ---- LeNet-5 --------------------------------------------------------------------------

# Table I of LeCun et al. 1998: rows = S2 maps 0-5, columns = C3 maps 0-15.
PAPER_TABLE_I = """
X...XXX..XXXX.XX
XX...XXX..XXXX.X
XXX...XXX..X.XXX
.XXX..XXXX..X.XX
..XXX..XXXX.XX.X
...XXX..XXXX.XXX
"""


def test_lenet5_param_counts() -> None:
    assert n_params(build("lenet5")) == 61_706
    assert n_params(build("lenet5", variant="modern")) == 61_706
    paper = build("lenet5", variant="paper")
    assert n_params(paper) == 60_850
    # The paper: 60,000 trainable parameters (before the replaced RBF output layer).
    assert n_params(paper) - n_params(paper.get_classifier()) == 60_000
    c3 = paper.features.c3
    assert sum(p.numel() for p in c3.parameters()) == 1_516
    assert sum(p.numel() for p in paper.features.s2.parameters()) == 12
    assert sum(p.numel() for p in paper.features.s4.parameters()) == 32


def test_lenet5_c3_connection_table_is_the_papers() -> None:
    rows = PAPER_TABLE_I.split()
    table = tuple(tuple(i for i in range(6) if rows[i][j] == "X") for j in range(16))
    assert table == C3_TABLE
    assert sum(map(len, C3_TABLE)) == 60
    # The built layer really connects exactly these maps: change one input map at a time.
    c3 = build("lenet5", variant="paper").features.c3
    x = torch.randn(1, 6, 14, 14)
    with torch.no_grad():
        out = c3(x)
        assert out.shape == (1, 16, 10, 10)
        for i in range(6):
            bumped = x.clone()
            bumped[:, i] += 1.0
            changed = (c3(bumped) - out).abs().sum((0, 2, 3)) > 0
            assert [j for j in range(16) if changed[j]] == [j for j in range(16) if i in C3_TABLE[j]], i


def test_lenet5_shapes() -> None:
    kinds = (nn.Conv2d, nn.AvgPool2d, nn.MaxPool2d, nn.Linear)
    shapes = layer_shapes(build("lenet5"), torch.randn(1, 1, 32, 32), kinds)
    assert shapes == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120,), (84,), (10,)]
    modern = build("lenet5", variant="modern")
    assert any(isinstance(m, nn.MaxPool2d) for m in modern.modules())
    assert any(isinstance(m, nn.ReLU) for m in modern.modules())
    paper = build("lenet5", variant="paper")
    feats = paper.forward_features(torch.randn(1, 1, 32, 32))
    assert feats.shape == (1, 120, 1, 1)
    assert isinstance(paper.features.act1, nn.Module) and type(paper.features.act1).__name__ == "ScaledTanh"
    assert torch.allclose(paper.features.act1(torch.tensor([1.0])), torch.tensor([1.7159 * math.tanh(2 / 3)]))


def test_lenet5_paper_and_tinyvgg_train() -> None:
    """Every parameter gets a gradient and a few Adam steps lower the loss."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only add overhead
    try:
        _train_a_little()
    finally:
        torch.set_num_threads(threads)


def _train_a_little() -> None:
    for name, settings in (("lenet5", {"variant": "paper"}), ("tinyvgg", {"input_size": 32, "width": 8})):
        torch.manual_seed(0)
        x, y = torch.randn(16, 1, 32, 32), torch.randint(0, 10, (16,))
        model = build(name, **settings)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        losses = []
        for step in range(15):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            if step == 0:
                assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters()), name
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.9 * losses[0], (name, losses)


# ---- the simple nets ------------------------------------------------------------------


def test_simple_param_counts_and_shapes() -> None:
    assert n_params(build("mlp")) == 407_050  # the Keras example: 401,920 + 5,130
    assert n_params(build("mlp", depth=2, hidden=100)) == 784 * 100 + 100 + 100 * 100 + 100 + 1010
    convpool = build("convpool")
    assert n_params(convpool) == 320 + 18_496 + 31_370
    kinds = (nn.Conv2d, nn.MaxPool2d, nn.Linear)
    assert layer_shapes(convpool, torch.randn(1, 1, 28, 28), kinds) == [
        (32, 28, 28), (32, 14, 14), (64, 14, 14), (64, 7, 7), (10,),
    ]  # fmt: skip
    tiny = build("tinyvgg")
    assert n_params(tiny) < 50_000
    assert layer_shapes(tiny, torch.randn(1, 1, 28, 28), (nn.MaxPool2d,)) == [(16, 14, 14), (32, 7, 7)]


# ---- AlexNet, ZFNet -------------------------------------------------------------------


def test_alexnet_paper_shapes_and_params() -> None:
    model = build("alexnet_paper", device="meta")
    kinds = (nn.Conv2d, nn.MaxPool2d, nn.Linear)
    shapes = layer_shapes(model, torch.empty(1, 3, 227, 227, device="meta"), kinds)
    assert shapes == [
        (96, 55, 55), (96, 27, 27), (256, 27, 27), (256, 13, 13), (384, 13, 13), (384, 13, 13),
        (256, 13, 13), (256, 6, 6), (4096,), (4096,), (1000,),
    ]  # fmt: skip
    assert model.forward_features(torch.empty(1, 3, 227, 227, device="meta")).flatten(1).shape == (1, 9216)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    # The paper's order: conv -> ReLU -> LRN -> max-pool.
    assert [type(m).__name__ for m in model.features[:4]] == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"]
    lrn = model.features[2]
    assert (lrn.size, lrn.alpha / lrn.size, lrn.beta, lrn.k) == (5, pytest.approx(1e-4), 0.75, 2.0)
    assert n_params(model) == 60_965_224
    assert n_params(build("alexnet_paper", device="meta", two_gpu_split=False)) == 62_378_344
    no_lrn = build("alexnet_paper", device="meta", lrn=False)
    assert not any(isinstance(m, nn.LocalResponseNorm) for m in no_lrn.modules())


def test_zfnet_shapes_and_params() -> None:
    kinds = (nn.Conv2d, nn.MaxPool2d, nn.Linear)
    model = build("zfnet", device="meta")
    shapes = layer_shapes(model, torch.empty(1, 3, 224, 224, device="meta"), kinds)
    assert shapes == [
        (96, 110, 110), (96, 55, 55), (256, 26, 26), (256, 13, 13), (512, 13, 13), (1024, 13, 13),
        (512, 13, 13), (512, 6, 6), (4096,), (4096,), (1000,),
    ]  # fmt: skip
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size, c.stride, c.groups) for c in convs[:2]] == [((7, 7), (2, 2), 1), ((5, 5), (2, 2), 1)]
    # ZFNet pools, then normalizes.
    assert [type(m).__name__ for m in model.features[:4]] == ["Conv2d", "ReLU", "MaxPool2d", "LocalResponseNorm"]
    assert n_params(model) == 107_627_624
    fig3 = build("zfnet", device="meta", conv345="384-384-256")
    assert layer_shapes(fig3, torch.empty(1, 3, 224, 224, device="meta"), (nn.Conv2d,))[2:] == [
        (384, 13, 13), (384, 13, 13), (256, 13, 13),
    ]  # fmt: skip
    assert n_params(fig3) == 62_357_608


# ---- VGG, NiN -------------------------------------------------------------------------


def test_vgg_depths_and_seed_numbers() -> None:
    for name, depth in (("vgg11", 11), ("vgg13", 13), ("vgg16", 16), ("vgg19", 19)):
        model = build(name, device="meta")
        weights = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        assert len(weights) == depth
        assert all(c.kernel_size == (3, 3) for c in weights if isinstance(c, nn.Conv2d))
    vgg16 = build("vgg16", device="meta")
    assert round(n_params(vgg16) / 1e6) == 138
    assert sum(n_params(m) for m in vgg16.classifier) > 120e6  # the course notes: ~120M in the fc layers
    assert build("vgg16_bn", device="meta").cnnviz_settings["batch_norm"] is True
    assert not any(isinstance(m, nn.BatchNorm2d) for m in build("vgg16_bn", device="meta", batch_norm=False).modules())


def test_nin_params_and_shapes() -> None:
    model = build("nin", device="meta")
    assert n_params(model) == 966_986
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    assert model.head_name == "classifier.conv" and model.get_classifier().kernel_size == (1, 1)
    pools = layer_shapes(model, torch.empty(1, 3, 32, 32, device="meta"), (nn.MaxPool2d, nn.AvgPool2d))
    assert pools == [(96, 16, 16), (192, 8, 8)]
    assert model.forward_features(torch.empty(1, 3, 32, 32, device="meta")).shape == (1, 192, 8, 8)
