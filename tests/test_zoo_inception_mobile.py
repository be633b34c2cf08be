"""The inception and mobile families: torchvision twins, paper numbers, settings."""
from __future__ import annotations

import warnings
from typing import Iterator

import pytest
import torch
import torchvision
from torch import nn

from cnnviz.errors import ConfigError
from cnnviz.zoo import build, get_spec, list_models
from cnnviz.zoo.mobile import Fire

FAMILIES = ("inception", "mobile")

# name -> (torchvision constructor keywords matching our defaults, test input H = W)
TWINS = {
    "googlenet": ({"aux_logits": False, "transform_input": False}, 64),
    "inception_v3": ({"aux_logits": True, "transform_input": False}, 107),
    "mobilenet_v2": ({}, 64),
    "shufflenet_v2_x0_5": ({}, 64),
    "shufflenet_v2_x1_0": ({}, 64),
    "shufflenet_v2_x1_5": ({}, 64),
    "shufflenet_v2_x2_0": ({}, 64),
    "squeezenet1_0": ({}, 64),
    "squeezenet1_1": ({}, 64),
}


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Small convs run faster on one thread, and far faster when other processes share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def tv_model(name: str, **kwargs: object) -> nn.Module:
    """torchvision's model with PyTorch's default init (fast) and random batch-norm statistics."""
    if name in ("googlenet", "inception_v3"):
        kwargs.setdefault("init_weights", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = torchvision.models.get_model(name, **kwargs)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.running_mean, -0.1, 0.1)
            nn.init.uniform_(m.running_var, 0.5, 1.5)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.1, 0.1)
    return model


def twin(name: str, settings: dict | None = None, **tv_kwargs: object) -> tuple[nn.Module, nn.Module]:
    """(ours, torchvision's) with torchvision's weights loaded into ours (strict)."""
    tv = tv_model(name, **tv_kwargs)
    # Built on meta and materialised empty: every tensor then comes from torchvision's state_dict.
    ours = build(name, device="meta", **(settings or {})).to_empty(device="cpu")
    ours.load_state_dict(tv.state_dict(), strict=True)
    return ours, tv


def test_registered_names() -> None:
    names = {s.name for s in list_models() if s.family in FAMILIES}
    assert names == set(TWINS) | {"mobilenet_v1"}
    for name in TWINS:
        assert get_spec(name).torchvision == name


@pytest.mark.parametrize("name", sorted(TWINS))
def test_torchvision_twin(name: str) -> None:
    tv_kwargs, size = TWINS[name]
    torch.manual_seed(0)
    ours, tv = twin(name, **tv_kwargs)
    ours.eval()
    tv.eval()
    assert n_params(ours) == torchvision.models.get_model_weights(name).DEFAULT.meta["num_params"]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in tv.state_dict().items()}
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected = tv(x)
        out = ours(x)
        assert torch.allclose(out, ours.forward_head(ours.forward_features(x)))
    assert out.shape == (2, 1000)
    assert torch.allclose(out, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_transform_input_matches_torchvision(name: str) -> None:
    ours, tv = twin(name, {"transform_input": True}, transform_input=True, aux_logits=name == "inception_v3")
    ours.eval()
    tv.eval()
    x = torch.randn(1, 3, 107, 107)
    with torch.no_grad():
        assert torch.allclose(ours(x), tv(x), rtol=1e-4, atol=1e-5)


def test_googlenet_aux_heads_match_torchvision_training_outputs() -> None:
    ours, tv = twin("googlenet", {"aux_logits": True}, aux_logits=True)
    ours.train()
    tv.train()
    assert n_params(ours) == n_params(tv) == 13_004_888
    x = torch.randn(2, 3, 64, 64)
    torch.manual_seed(1)
    logits, aux2, aux1 = tv(x)
    torch.manual_seed(1)
    out, aux = ours.forward_aux(x)
    for a, b in zip((out, *aux), (logits, aux1, aux2)):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)
    assert ours(x).shape == (2, 1000)  # forward stays one tensor in training mode


def test_inception_v3_aux_head_matches_torchvision() -> None:
    ours, tv = twin("inception_v3")
    ours.eval()
    tv.eval()
    # The auxiliary head needs the 17x17 map of a 299x299 input: feed it one directly.
    features = torch.randn(1, 768, 17, 17)
    with torch.no_grad():
        assert torch.allclose(ours.AuxLogits(features), tv.AuxLogits(features), rtol=1e-4, atol=1e-5)
    meta = build("inception_v3", device="meta")
    logits, aux = meta.forward_aux(torch.empty(2, 3, 299, 299, device="meta"))
    assert logits.shape == aux[0].shape == (2, 1000)
    assert n_params(build("inception_v3", aux_logits=False, device="meta")) == 23_834_568


def test_forward_aux_needs_aux_heads() -> None:
    for name in ("googlenet", "inception_v3"):
        model = build(name, aux_logits=False, device="meta")
        with pytest.raises(RuntimeError, match="aux_logits=False"):
            model.forward_aux(torch.empty(1, 3, 299, 299, device="meta"))


def test_mobilenet_v1_paper_numbers() -> None:
    # Paper Table 6 / Table 4: 4.2M, 2.6M, 1.3M, 0.5M parameters; Conv MobileNet 29.3M.
    expected = {1.0: 4_231_976, 0.75: 2_585_560, 0.5: 1_331_592, 0.25: 470_072}
    for alpha, count in expected.items():
        assert n_params(build("mobilenet_v1", width_mult=alpha, device="meta")) == count
    assert n_params(build("mobilenet_v1", depthwise=False, device="meta")) == 29_294_088
    model = build("mobilenet_v1").eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert model.forward_features(x).shape == (1, 1024, 7, 7)
        assert model(x).shape == (1, 1000)
    dw = model.features[1].dw[0]
    assert dw.groups == dw.in_channels == 32 and dw.kernel_size == (3, 3)


def test_googlenet_paper_variants() -> None:
    paper = build("googlenet", branch_5x5="5x5", batch_norm=False, lrn=True, device="meta")
    assert paper.inception3a.branch3[1].conv.kernel_size == (5, 5)
    assert paper.inception3a.branch3[1].conv.bias is not None and paper.inception3a.branch3[1].bn is None
    assert isinstance(paper.lrn1, nn.LocalResponseNorm) and isinstance(paper.lrn2, nn.LocalResponseNorm)
    assert n_params(paper) == 6_998_552  # the paper says 6.8M, the course notes 7.0M
    naive = build("googlenet", bottleneck=False, device="meta")
    # The course notes: the naive module's pooled input passes through, so the channels pile up.
    assert naive.inception3a.out_channels == 64 + 128 + 32 + 192
    assert n_params(naive) > 10 * n_params(build("googlenet", device="meta"))


def test_squeezenet_bypass_and_shufflenet_shuffle() -> None:
    model = build("squeezenet1_0", bypass=True, device="meta")
    assert [i for i, m in enumerate(model.features) if isinstance(m, Fire) and m.bypass] == [4, 7, 9, 12]
    torch.manual_seed(0)
    shuffled, _ = twin("shufflenet_v2_x0_5")
    plain, _ = twin("shufflenet_v2_x0_5", {"channel_shuffle": False})
    plain.load_state_dict(shuffled.state_dict())
    shuffled.eval()
    plain.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(shuffled(x), plain(x))


SETTING_COMBOS = {
    "googlenet": [
        {"aux_logits": True, "branch_5x5": "5x5", "batch_norm": False, "lrn": True, "activation": "tanh"},
        {"dropout": 0.4, "activation": "relu"},
        {"bottleneck": False, "activation": "sigmoid", "transform_input": True},
    ],
    "inception_v3": [{"aux_logits": False, "batch_norm": False, "activation": "tanh", "dropout": 0.0}],
    "mobilenet_v1": [
        {"width_mult": 0.25, "depthwise": False, "batch_norm": False, "activation": "relu6", "dropout": 0.2},
        {"width_mult": 1.3},
    ],
    "mobilenet_v2": [
        {"width_mult": 0.35, "batch_norm": False, "activation": "relu", "dropout": 0.0},
        {"width_mult": 1.4},
    ],
    "shufflenet_v2_x1_0": [{"batch_norm": False, "activation": "tanh", "channel_shuffle": False}],
    "squeezenet1_0": [{"bypass": True, "activation": "sigmoid", "dropout": 0.0}],
    "squeezenet1_1": [{"bypass": True}],
}


def _meta_cases() -> list[tuple[str, dict]]:
    cases = []
    for spec in list_models():
        if spec.family in FAMILIES:
            cases.append((spec.name, {}))
            cases.append((spec.name, {"in_channels": 1, "num_classes": 10}))
            cases += [(spec.name, combo) for combo in SETTING_COMBOS.get(spec.name, [])]
    return cases


@pytest.mark.parametrize("name,settings", _meta_cases())
def test_meta_build_and_forward(name: str, settings: dict) -> None:
    spec = get_spec(name)
    model = build(name, device="meta", **settings)
    resolved = spec.resolve(settings)
    c, size = resolved["in_channels"], resolved["input_size"]
    out = model(torch.empty(2, c, size, size, device="meta"))
    assert out.shape == (2, resolved["num_classes"])
    head = model.get_classifier()
    assert isinstance(head, (nn.Linear, nn.Conv2d))
    assert (head.out_features if isinstance(head, nn.Linear) else head.out_channels) == resolved["num_classes"]


@pytest.mark.parametrize("name", sorted(TWINS) + ["mobilenet_v1"])
def test_smallest_input(name: str) -> None:
    spec = get_spec(name)
    model = build(name, device="meta").eval()
    out = model(torch.empty(1, 3, spec.min_input, spec.min_input, device="meta"))
    assert out.shape == (1, 1000)


def test_impossible_settings() -> None:
    with pytest.raises(ConfigError, match="transform_input"):
        build("googlenet", in_channels=1, transform_input=True, device="meta")
    with pytest.raises(ConfigError, match="relu6"):
        build("googlenet", activation="relu6", device="meta")
    with pytest.raises(ConfigError, match="width_mult"):
        build("mobilenet_v2", width_mult=0, device="meta")
