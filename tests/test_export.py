"""cnnviz.export: the PyTorch code builds the configured model; ONNX export of a small model is valid."""
from __future__ import annotations

import re

import onnx
import pytest
import torch
import torchvision

import cnnviz
from cnnviz.analysis import ConfigError
from cnnviz.export import MAX_ONNX_PARAMS, onnx_bytes, pytorch_code, torchvision_twin


def shapes(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def run_code(code: str) -> tuple[dict, dict | None]:
    """Execute the cnnviz part and (if present) the torchvision part of ``code`` separately."""
    own, _, twin = code.partition("import torchvision\n")
    ns: dict = {}
    exec(compile(own, "<cnnviz code>", "exec"), ns)  # noqa: S102 - the code under test
    twin_ns = None
    if twin:
        twin_ns = {}
        with torch.device("meta"):
            exec(compile("import torchvision\n" + twin, "<torchvision code>", "exec"), twin_ns)  # noqa: S102
    return ns, twin_ns


@pytest.mark.parametrize(("name", "settings", "has_twin"), [
    ("lenet5", {"variant": "paper"}, False),
    ("resnet18", {"num_classes": 10, "input_size": 64}, True),
    ("resnet50", {"stride_placement": "paper", "width_mult": 0.25, "input_size": 64}, False),
    ("vgg11", {"batch_norm": True, "width_mult": 0.125, "input_size": 32}, False),
    ("mobilenet_v2", {"width_mult": 0.5, "input_size": 64}, True),
    ("googlenet", {"num_classes": 10, "input_size": 64}, True),
])
def test_code_runs_and_builds_an_equal_model(name: str, settings: dict, has_twin: bool) -> None:
    code = pytorch_code(name, settings)
    call = re.search(r"model = cnnviz\.build\((.*)\)", code).group(1)
    assert call.startswith(f'"{name}"')
    ns, twin_ns = run_code(code)
    expected = cnnviz.build(name, **settings)
    assert shapes(ns["model"]) == shapes(expected)
    spec = cnnviz.get_spec(name)
    resolved = spec.resolve(settings)
    assert ns["logits"].shape == (1, resolved["num_classes"])
    shape = (resolved["in_channels"], resolved["input_size"], resolved["input_size"])
    assert cnnviz.analyze(ns["model"], shape).totals == cnnviz.summarize(name, **settings).totals
    assert (twin_ns is not None) == has_twin
    if twin_ns is not None:
        assert shapes(twin_ns["model"]) == shapes(expected)


def test_only_changed_settings_are_written() -> None:
    code = pytorch_code("resnet50", {"stride_placement": "paper", "width_mult": 1.0})
    assert 'model = cnnviz.build("resnet50", stride_placement="paper")' in code
    assert "torchvision's resnet50 has no option for these settings" in code


@pytest.mark.parametrize("spec", [s for s in cnnviz.list_models() if s.torchvision], ids=lambda s: s.name)
def test_torchvision_twin_at_defaults_has_the_same_weights(spec) -> None:
    builder, kwargs = torchvision_twin(spec.name)
    with torch.device("cpu" if builder.startswith("regnet") else "meta"):  # its width rule cannot run on meta
        twin = getattr(torchvision.models, builder)(weights=None, **kwargs)
    assert shapes(twin) == shapes(cnnviz.build(spec.name, device="meta"))


@pytest.mark.parametrize(("name", "settings", "builder"), [
    ("vgg16", {"batch_norm": True}, "vgg16_bn"),
    ("vgg13_bn", {"batch_norm": False}, "vgg13"),
    ("resnet50", {"groups": 2, "width_per_group": 32, "zero_init_residual": True}, "resnet50"),
    ("densenet121", {"bn_size": 2, "drop_rate": 0.1}, "densenet121"),
    ("squeezenet1_1", {"num_classes": 7, "dropout": 0.3}, "squeezenet1_1"),
])
def test_torchvision_twin_with_settings(name: str, settings: dict, builder: str) -> None:
    twin_builder, kwargs = torchvision_twin(name, settings)
    assert twin_builder == builder
    with torch.device("meta"):
        twin = getattr(torchvision.models, builder)(weights=None, **kwargs)
    assert shapes(twin) == shapes(cnnviz.build(name, device="meta", **settings))


@pytest.mark.parametrize(("name", "settings"), [
    ("lenet5", {}), ("resnet50", {"stride_placement": "paper"}), ("resnext50_32x4d", {"groups": 8}),
    ("vgg16", {"activation": "tanh"}), ("densenet121", {"growth_rate": 12}), ("alexnet", {"in_channels": 1}),
])
def test_no_twin_where_torchvision_cannot_build_it(name: str, settings: dict) -> None:
    assert torchvision_twin(name, settings) is None
    assert "torchvision.models" not in pytorch_code(name, settings)


def test_onnx_of_a_small_model_is_valid() -> None:
    data = onnx_bytes("lenet5")
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model)
    dims = lambda value: [d.dim_value for d in value.type.tensor_type.shape.dim]  # noqa: E731
    assert [(v.name, dims(v)) for v in model.graph.input] == [("image", [1, 1, 32, 32])]
    assert [(v.name, dims(v)) for v in model.graph.output] == [("logits", [1, 10])]
    weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
    expected = dict(shapes(cnnviz.build("lenet5", device="meta")))
    assert {k: weights.get(k) for k in expected} == expected  # every parameter, with its shape


def test_onnx_refuses_a_model_over_the_budget_before_building_it() -> None:
    with pytest.raises(ConfigError, match=r"138\.4M parameters; ONNX export is limited to 65M"):
        onnx_bytes("vgg16")
    assert MAX_ONNX_PARAMS < cnnviz.summarize("vgg16").totals.params


def test_onnx_bad_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="variant"):
        onnx_bytes("lenet5", {"variant": "nope"})
