"""The networks that came after ResNet, as exact twins of torchvision's: parameters equal the weights' metadata,
MACs within 0.5% of its ``_ops`` (torchvision's "GFLOPS" are multiply-accumulates at the weights' evaluation size),
no row with unknown MACs, the same state_dict and the same outputs as torchvision's own model."""
from __future__ import annotations

import pytest
import torch
from torchvision.models import get_model, get_model_weights

import cnnviz
from cnnviz.analysis import ConfigError, summarize
from cnnviz.zoo.base import AFTER_RESNET

NAMES = ["efficientnet_b0", "efficientnet_v2_s", "regnet_y_400mf", "mobilenet_v3_large", "mnasnet1_0",
         "convnext_tiny", "vit_b_16", "swin_t"]


def weights(name: str):
    return get_model_weights(name).DEFAULT


def test_the_family_holds_exactly_these() -> None:
    assert sorted(s.name for s in cnnviz.list_models(AFTER_RESNET)) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_params_and_macs_match_torchvision_metadata(name: str) -> None:
    spec = cnnviz.get_spec(name)
    meta = weights(spec.torchvision).meta
    assert spec.default_input[1] == weights(name).transforms().crop_size[0]  # _ops is counted at this size
    report = summarize(name)
    assert report.totals.params == meta["num_params"]
    assert abs(report.totals.macs / 1e9 - meta["_ops"]) / meta["_ops"] < 0.005
    assert not report.totals.unknown_layers and all(r.macs is not None for r in report.layers)
    assert sum(r.params for r in report.layers) == report.totals.params and report.totals.params_not_run == 0


@pytest.mark.parametrize("name", NAMES)
def test_facts_quote_torchvision_accuracy(name: str) -> None:
    metrics = weights(name).meta["_metrics"]["ImageNet-1K"]
    facts = cnnviz.get_spec(name).facts
    assert f"{metrics['acc@1']}% top-1" in facts.ilsvrc and f"{metrics['acc@5']}% top-5" in facts.ilsvrc


@pytest.mark.parametrize("name", NAMES)
def test_same_state_dict_and_outputs_as_torchvision(name: str) -> None:
    torch.manual_seed(0)
    size = 64  # small and fast; ViT is built for it (its position embedding is learnt for one size)
    ours = cnnviz.build(name, input_size=size).eval()
    with torch.device("cpu" if name.startswith("regnet") else "meta"):  # no second initialisation of weights
        theirs = get_model(name, weights=None, **({"image_size": size} if name == "vit_b_16" else {})).eval()
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, v.shape) for k, v in theirs.state_dict().items()]
    theirs.load_state_dict(ours.state_dict(), strict=True, assign=True)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
        assert torch.equal(ours.forward_head(ours.forward_features(x)), ours(x))


@pytest.mark.parametrize("name", NAMES)
def test_grey_inputs_and_other_class_counts(name: str) -> None:
    size = 64 if name != "efficientnet_v2_s" else 96
    report = summarize(name, in_channels=1, num_classes=10, input_size=size)
    assert report.input_shape == (1, size, size) and report.output_shape == (10,)
    assert not report.totals.unknown_layers
    model = cnnviz.build(name, in_channels=1, num_classes=10, input_size=size, device="meta")
    assert model.get_classifier().out_features == 10


def test_vit_input_must_be_whole_patches() -> None:
    with pytest.raises(ConfigError, match="multiple of the 16-pixel patch"):
        summarize("vit_b_16", input_size=100)
    with pytest.raises(ConfigError, match="built for 224x224"):
        cnnviz.analyze(cnnviz.build("vit_b_16", device="meta"), (3, 160, 160))
    assert summarize("vit_b_16", input_size=160).row("conv_proj").output_shape == (768, 10, 10)


@pytest.mark.parametrize(("name", "settings", "expected"), [
    ("vit_b_16", {"input_size": 160, "num_classes": 10}, {"num_classes": 10, "image_size": 160}),
    ("efficientnet_b0", {"dropout": 0.3, "input_size": 160}, {"dropout": 0.3}),
    ("swin_t", {"num_classes": 5}, {"num_classes": 5}),
])
def test_the_torchvision_line_builds_the_same_network(name: str, settings: dict, expected: dict) -> None:
    from cnnviz.export import torchvision_twin

    builder, kwargs = torchvision_twin(name, settings)
    assert (builder, kwargs) == (name, expected)
    with torch.device("meta"):
        twin = get_model(builder, weights=None, **kwargs)
    ours = cnnviz.build(name, device="meta", **settings)
    assert [(k, v.shape) for k, v in twin.state_dict().items()] == [(k, v.shape) for k, v in ours.state_dict().items()]
    assert torchvision_twin(name, {"in_channels": 1}) is None  # torchvision has no such option
