"""cnnviz.export: the code snippets, the standalone PyTorch file, ONNX, CSV/JSON, and ``python -m cnnviz export``."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import onnx
import pytest
import torch
import torchvision

import cnnviz
from cnnviz.analysis import ConfigError
from cnnviz.cli import main
from cnnviz.export import (MAX_ONNX_PARAMS, export_file, module_source, onnx_bytes, pytorch_code, torchvision_twin,
                           zoo_source)


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


# -- take the code home: the standalone file, the export command ---------------------------------------
ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnviz", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def load_source(source: str) -> types.ModuleType:
    module = types.ModuleType("exported")
    exec(compile(source, "<exported>", "exec"), module.__dict__)  # noqa: S102 - the file under test
    return module


def same_network(name: str, settings: dict, x: torch.Tensor) -> str:
    """The exported file's network against the zoo's: same state_dict, weights load strictly, same output."""
    source = zoo_source(name, settings)
    torch.manual_seed(0)
    expected = cnnviz.build(name, **settings).eval()
    exported = load_source(source).build_model()
    assert shapes(exported) == shapes(expected)
    exported.load_state_dict(expected.state_dict(), strict=True)
    with torch.no_grad():
        assert torch.equal(exported.eval()(x), expected(x))
    return source


def test_source_is_readable_pytorch() -> None:
    source = zoo_source("resnet18")
    assert re.findall(r"^(?:import|from) \S+", source, re.M) == [
        "from __future__", "import torch", "from torch"]
    for text in ("class BasicBlock(nn.Module):", "class ResNet(nn.Module):", "def forward(self, x",
                 "def build_model() -> nn.Module:", "nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)",
                 "return self._add_skip(out, x)", 'if __name__ == "__main__":', "torch.randn(1, 3, 224, 224)"):
        assert text in source
    assert source.count("class BasicBlock") == 1  # one class, eight instances
    compile(source, "resnet18.py", "exec")


@pytest.mark.parametrize(("name", "settings", "size"), [
    ("lenet5", {"variant": "paper"}, 32),  # connection table, scaled tanh, trainable subsampling
    ("resnet20", {"shortcut": "C", "skip": False}, 32),  # projections everywhere, no skip
    ("resnet18", {"batch_norm": False, "activation": "tanh", "num_classes": 7, "input_size": 64}, 64),
    ("densenet121", {"drop_rate": 0.2, "growth_rate": 8, "input_size": 64}, 64),
    ("googlenet", {"aux_logits": True, "transform_input": True, "input_size": 64}, 64),
    ("mobilenet_v2", {"width_mult": 0.5, "input_size": 64}, 64),
    ("vgg11", {"batch_norm": True, "width_mult": 0.125, "input_size": 32}, 32),
])
def test_source_of_other_settings_builds_the_same_network(name: str, settings: dict, size: int) -> None:
    channels = cnnviz.get_spec(name).resolve(settings)["in_channels"]
    same_network(name, settings, torch.randn(2, channels, size, size))


class Doubler(torch.nn.Module):
    """Doubles its input: a class outside the zoo."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)
        self.factor = 2.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _double(self.conv(x)) * self.factor


def _double(x: torch.Tensor) -> torch.Tensor:
    return x * _TWO


_TWO = 2


def test_any_network_bundles_its_helpers_and_constants() -> None:
    model = torch.nn.Sequential(Doubler(), torch.nn.Flatten()).eval()
    source = module_source(model, title="doubler")
    assert "_TWO = 2" in source and "def _double(" in source and "class Doubler(nn.Module):" in source
    exported = load_source(source).build_model().eval()
    exported.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(1, 1, 5, 5)
    assert torch.equal(exported(x), model(x))


class UsesNumpy(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import_free = onnx.helper  # a module that is not torch
        return x + len(dir(import_free))


def test_code_that_needs_another_library_is_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="uses the module onnx, which is not part of torch"):
        module_source(UsesNumpy(), title="x")


def test_export_file_formats() -> None:
    assert export_file("lenet5", "py").decode().startswith('"""lenet5: ')
    assert onnx.load_from_string(export_file("lenet5", "onnx")).graph.input[0].name == "image"
    rows = list(csv.DictReader(io.StringIO(export_file("lenet5", "csv").decode())))
    assert len(rows) == len(cnnviz.summarize("lenet5").layers)
    data = json.loads(export_file("lenet5", "json", {"num_classes": 4}, (1, 32, 32)))
    assert data["settings"]["num_classes"] == 4 and data["totals"] == cnnviz.summarize("lenet5", num_classes=4).to_dict()["totals"]
    with pytest.raises(ConfigError, match="square"):
        export_file("lenet5", "py", input_shape=(1, 32, 28))
    with pytest.raises(ConfigError, match="unknown export format"):
        export_file("lenet5", "pdf")


def test_cli_export_py_runs_without_cnnviz(tmp_path: Path) -> None:
    out = tmp_path / "resnet20.py"
    done = cli("export", "resnet20", "--set", "num_classes=5", "--input", "3,32,32", "--format", "py", "-o", str(out))
    assert done.returncode == 0, done.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, str(out)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "torch.Size([1, 5])"


@pytest.mark.parametrize(("args", "message"), [
    (["nosuchnet", "--format", "py"], "unknown model 'nosuchnet'"),
    (["lenet5", "--set", "width", "--format", "py"], "write settings as key=value"),
    (["lenet5", "--set", "nope=1", "--format", "py"], "has no setting 'nope'"),
    (["lenet5", "--input", "1,32", "--format", "csv"], "write the input shape as C,H,W"),
    (["vgg16", "--format", "onnx"], "ONNX export is limited"),
])
def test_cli_export_bad_input_is_one_clear_line(tmp_path: Path, args: list[str], message: str, capsys) -> None:
    assert main(["export", *args, "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_cli_export_unwritable_output(tmp_path: Path, capsys) -> None:
    assert main(["export", "lenet5", "--format", "csv", "-o", str(tmp_path / "missing" / "x.csv")]) == 2
    assert "cannot write" in capsys.readouterr().err
