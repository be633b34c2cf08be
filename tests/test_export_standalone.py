"""The ``py`` export of every zoo model runs where cnnviz cannot be imported, with the zoo model's weights.

All files are written first and checked in ONE clean subprocess (cwd and PYTHONPATH outside the
repository, ``import cnnviz`` asserted to fail): for each model, ``build_model()`` has the zoo
model's state_dict keys (in order), shapes and dtypes, loads its weights with ``strict=True`` and
gives identical outputs in eval mode. The weights are random values that both processes generate
from the key (:func:`fill`), so no multi-GB state_dicts go through the disk.
"""
from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
import torch

import cnnviz
from cnnviz.export import module_source, zoo_source


def fill(model_name: str, key: str, shape: list[int], dtype: str, ints: list | None) -> torch.Tensor:
    """The test's weight for ``key``: reproducible from the key alone (a window of one fixed random
    pool, cheap for 100M weights), of a size that keeps a deep network's activations finite
    (BN variances positive, weights about 1/sqrt(fan-in))."""
    if ints is not None:  # integer buffers (batch counters, index tables) travel as values
        return torch.tensor(ints, dtype=getattr(torch, dtype)).reshape(shape)
    global _POOL
    if "_POOL" not in globals():
        _POOL = torch.rand(40_000_003, generator=torch.Generator().manual_seed(0))
    n = 1
    for d in shape:
        n *= d
    pool = _POOL if n <= _POOL.numel() else _POOL.repeat(n // _POOL.numel() + 1)  # VGG's fc6: 103M
    start = zlib.crc32(f"{model_name}/{key}".encode()) % (pool.numel() - n + 1)
    u = pool[start:start + n].view(shape)
    if key.endswith("running_var") or (len(shape) == 1 and key.endswith("weight")):
        t = u + 0.5
    elif len(shape) <= 1:
        t = (u - 0.5) * 0.2
    else:
        scale = (3.0 / max(1, n // shape[0])) ** 0.5
        t = torch.mul(u, 2 * scale).sub_(scale)
    return t.to(getattr(torch, dtype))


def manifest(model_name: str, model: torch.nn.Module) -> list:
    out = []
    for k, v in model.state_dict().items():
        ints = v.tolist() if not v.is_floating_point() else None
        out.append([k, list(v.shape), str(v.dtype).removeprefix("torch."), ints])
    return out


def load_filled(model_name: str, model: torch.nn.Module, entries: list) -> None:
    state = {k: fill(model_name, k, shape, dtype, ints) for k, shape, dtype, ints in entries}
    model.load_state_dict(state, strict=True)


def small_settings(spec) -> dict:
    """The smallest input the model's default structure allows, to keep the test fast."""
    channels = spec.defaults()["in_channels"]
    for size in (32, 64, 96, 128, 224, 299):
        if size < spec.min_input:
            continue
        try:
            model = cnnviz.build(spec.name, device="meta", input_size=size).eval()
            model(torch.empty(1, channels, size, size, device="meta"))
        except (ValueError, RuntimeError):  # ConfigError is a ValueError
            continue
        return {} if size == spec.defaults()["input_size"] else {"input_size": size}
    return {}


CHILD = """
import importlib.util, json, sys, zlib
import torch
try:
    import cnnviz
except ImportError:
    pass
else:
    raise SystemExit("cnnviz is importable in the clean interpreter")
torch.set_num_threads(1)
{helpers}
results = {{}}
for name in json.load(open("names.json")):
    spec = importlib.util.spec_from_file_location("exported_" + name, name + ".py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with torch.device("meta"):  # the structure only: the weights come from the test
        model = module.build_model()
    model.to_empty(device="cpu")
    entries = json.load(open(name + ".json"))
    got = [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in model.state_dict().items()]
    if got != [e[:3] for e in entries]:
        results[name] = "state_dict differs"
        continue
    load_filled(name, model, entries)
    model.eval()
    data = torch.load(name + ".pt")
    with torch.no_grad():
        out = model(data["x"])
    results[name] = "ok" if torch.equal(out, data["y"]) else "outputs differ"
results["torchvision imported"] = "torchvision" in sys.modules
print(json.dumps(results))
"""


@pytest.fixture
def one_thread():
    """One CPU thread, as in the clean interpreter: the same kernels, so outputs can be compared exactly."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_case(folder: Path, name: str, source: str, model: torch.nn.Module, x: torch.Tensor) -> None:
    """The exported file, the model's state_dict manifest and its output on ``x`` with the test's weights."""
    assert not re.search(r"^\s*(import|from)\s+(cnnviz|torchvision)\b", source, re.M), name
    (folder / f"{name}.py").write_text(source)
    entries = manifest(name, model)
    (folder / f"{name}.json").write_text(json.dumps(entries))
    with torch.no_grad():
        for (key, value), (_, shape, dtype, ints) in zip(model.state_dict().items(), entries):
            value.copy_(fill(name, key, shape, dtype, ints))  # in place: the original's own loading rules stay out
        model.eval()
        torch.save({"x": x, "y": model(x)}, folder / f"{name}.pt")


def run_clean(folder: Path, names: list[str]) -> dict[str, str]:
    """Check the files in one interpreter that cannot import cnnviz (cwd and PYTHONPATH outside the repo)."""
    (folder / "names.json").write_text(json.dumps(names))
    helpers = "\n\n".join(textwrap.dedent(inspect.getsource(f)) for f in (fill, load_filled))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", CHILD.format(helpers=helpers)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results.pop("torchvision imported") is False
    return results


@pytest.mark.slow
@pytest.mark.timeout(900)  # 57 networks, about 2 billion weights in all, in two processes
def test_every_zoo_model_exports_to_standalone_pytorch(tmp_path: Path, one_thread: None) -> None:
    names = [s.name for s in cnnviz.list_models()]
    for spec in cnnviz.list_models():
        settings = small_settings(spec)
        model = cnnviz.build(spec.name, device="meta", **settings)
        if any(not b.is_floating_point() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")):
            model = cnnviz.build(spec.name, **settings)  # index tables (Swin's) need their real values
        else:
            model = model.to_empty(device="cpu")  # every weight is set by the test: no need to initialise
        resolved = spec.resolve(settings)
        x = torch.randn(2, resolved["in_channels"], resolved["input_size"], resolved["input_size"])
        write_case(tmp_path, spec.name, zoo_source(spec.name, settings), model, x)
        del model
    assert run_clean(tmp_path, names) == {name: "ok" for name in names}


# torchvision's networks after ResNet, with an input each accepts (ViT-B/16 is built for 224).
TORCHVISION = {"efficientnet_b0": 64, "efficientnet_v2_s": 64, "regnet_y_400mf": 64, "mobilenet_v3_large": 64,
               "mnasnet1_0": 64, "convnext_tiny": 64, "vit_b_16": 224, "swin_t": 64}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_torchvision_networks_export_to_standalone_pytorch(tmp_path: Path, one_thread: None) -> None:
    """The exporter reads torchvision's classes too (their forward and helpers, without torchvision)."""
    torchvision = pytest.importorskip("torchvision")
    for name, size in TORCHVISION.items():
        model = getattr(torchvision.models, name)()  # on the CPU: regnet computes its widths with tensors
        source = module_source(model, title=name, example_input=(3, size, size))
        write_case(tmp_path, name, source, model, torch.randn(1, 3, size, size))
    assert run_clean(tmp_path, list(TORCHVISION)) == {name: "ok" for name in TORCHVISION}


# A network written in the builder's grammar with every kind of block it knows.
BUILT = ("conv(16,3,padding=same) bn relu 2*(residual(16)) bottleneck(8,stride=2) inception(8,4,8,4,8,8) "
         "separable(32,stride=2) dropout(0.2) gap fc(10)")


@pytest.mark.slow
def test_a_built_network_exports_to_standalone_pytorch(tmp_path: Path, one_thread: None) -> None:
    """The builder's network (residual, bottleneck, inception and separable blocks) runs without cnnviz,
    takes the built model's weights with strict=True and gives the same outputs."""
    settings = {"layers": BUILT, "in_channels": 3, "input_size": 32}
    model = cnnviz.build("custom", **settings)
    write_case(tmp_path, "built", zoo_source("custom", settings), model, torch.randn(2, 3, 32, 32))
    assert run_clean(tmp_path, ["built"]) == {"built": "ok"}
