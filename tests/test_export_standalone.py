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
from cnnviz.export import zoo_source


def fill(model_name: str, key: str, shape: list[int], dtype: str, ints: list | None) -> torch.Tensor:
    """The test's weight for ``key``: reproducible from the key alone, of a size that keeps a deep
    network's activations finite (BN variances positive, weights about 1/sqrt(fan-in))."""
    if ints is not None:  # integer buffers (batch counters, index tables) travel as values
        return torch.tensor(ints, dtype=getattr(torch, dtype)).reshape(shape)
    g = torch.Generator().manual_seed(zlib.crc32(f"{model_name}/{key}".encode()))
    u = torch.rand(shape, generator=g)
    if key.endswith("running_var") or (len(shape) == 1 and key.endswith("weight")):
        t = 0.5 + u
    elif len(shape) <= 1:
        t = (u - 0.5) * 0.2
    else:
        fan_in = max(1, int(torch.tensor(shape[1:]).prod()))
        t = (2 * u - 1) * (3.0 / fan_in) ** 0.5
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
    for size in (32, 64, 96, 128, 224, 299):
        if size < spec.min_input:
            continue
        try:
            cnnviz.summarize(spec.name, input_size=size)
        except cnnviz.ConfigError:
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


def test_every_zoo_model_exports_to_standalone_pytorch(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    names = [s.name for s in cnnviz.list_models()]
    for spec in cnnviz.list_models():
        settings = small_settings(spec)
        source = zoo_source(spec.name, settings)
        assert not re.search(r"^\s*(import|from)\s+(cnnviz|torchvision)\b", source, re.M), spec.name
        (tmp_path / f"{spec.name}.py").write_text(source)
        model = cnnviz.build(spec.name, device="meta", **settings).to_empty(device="cpu").eval()
        entries = manifest(spec.name, model)
        (tmp_path / f"{spec.name}.json").write_text(json.dumps(entries))
        load_filled(spec.name, model, entries)
        resolved = spec.resolve(settings)
        x = torch.randn(2, resolved["in_channels"], resolved["input_size"], resolved["input_size"])
        with torch.no_grad():
            torch.save({"x": x, "y": model(x)}, tmp_path / f"{spec.name}.pt")
        del model
    (tmp_path / "names.json").write_text(json.dumps(names))
    helpers = "\n\n".join(textwrap.dedent(inspect.getsource(f)) for f in (fill, load_filled))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", CHILD.format(helpers=helpers)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results.pop("torchvision imported") is False
    assert results == {name: "ok" for name in names}
