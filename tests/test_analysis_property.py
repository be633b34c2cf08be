"""Property test: random layer stacks, analysed exactly like a real forward pass or rejected cleanly."""
from __future__ import annotations

import math
import os

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from cnnviz.analysis import ConfigError, analyze
from cnnviz.analysis.stack import build_stack

conv = st.fixed_dictionaries({
    "type": st.just("conv"),
    "out_channels": st.integers(-1, 8),
    "kernel": st.integers(0, 6),
    "stride": st.integers(0, 3),
    "padding": st.one_of(st.integers(-1, 3), st.sampled_from(["same", "valid"])),
    "dilation": st.integers(1, 3),
    "groups": st.integers(1, 3),
})
pool = st.fixed_dictionaries({
    "type": st.just("pool"), "kind": st.sampled_from(["max", "avg"]), "kernel": st.integers(1, 4),
    "stride": st.integers(1, 3), "padding": st.integers(0, 2), "ceil_mode": st.booleans(),
})
simple = st.sampled_from([{"type": "act", "fn": "relu"}, {"type": "act", "fn": "tanh"},
                          {"type": "act", "fn": "sigmoid"}, {"type": "bn"}, {"type": "dropout", "p": 0.3},
                          {"type": "flatten"}, {"type": "lrn", "size": 3}])
linear = st.fixed_dictionaries({"type": st.just("linear"), "out_features": st.integers(1, 10)})
stacks = st.lists(st.one_of(conv, conv, pool, simple, linear), min_size=1, max_size=6)
shapes = st.tuples(st.integers(1, 6), st.integers(1, 20), st.integers(1, 20))


def real_forward(shape: tuple[int, int, int], specs: list[dict]) -> list[tuple[torch.Size, int]]:
    """Plain PyTorch, no checks of ours: each layer's output shape and parameter count."""
    x = torch.randn(1, *shape)
    out = []
    for s in specs:
        t = s["type"]
        if t == "conv":
            m: nn.Module = nn.Conv2d(x.shape[1], s["out_channels"], s["kernel"], s["stride"], s["padding"],
                                     s["dilation"], s["groups"])
        elif t == "pool":
            cls = nn.MaxPool2d if s["kind"] == "max" else nn.AvgPool2d
            m = cls(s["kernel"], s["stride"], s["padding"], ceil_mode=s["ceil_mode"])
        elif t == "act":
            m = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}[s["fn"]]
        elif t == "bn":
            m = nn.BatchNorm2d(x.shape[1]) if x.dim() == 4 else nn.BatchNorm1d(x.shape[1])
        elif t == "dropout":
            m = nn.Dropout(s["p"])
        elif t == "flatten":
            m = nn.Flatten()
        elif t == "lrn":
            m = nn.LocalResponseNorm(s["size"])
        else:
            x = x.flatten(1)
            m = nn.Linear(x.shape[1], s["out_features"])
        m.eval()
        with torch.no_grad():
            x = m(x)
        out.append((x.shape[1:], sum(p.numel() for p in m.parameters())))
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")  # CI: the same examples every run; locally: new ones
@given(shape=shapes, specs=stacks)
def test_random_stacks(shape, specs):
    try:
        report = analyze(build_stack(shape, specs), shape)
    except ConfigError as exc:
        assert str(exc)  # a message, and plain PyTorch cannot run this stack either
        try:
            real_forward(shape, specs)
        except Exception:  # noqa: BLE001 - any failure of PyTorch's own
            return
        raise AssertionError(f"rejected a stack PyTorch runs: {exc}")
    real = real_forward(shape, specs)
    rows = [r for r in report.layers if not r.name.startswith("flatten_before_")]
    assert len(rows) == len(real)
    for row, (out_shape, params), spec in zip(rows, real, specs):
        assert row.output_shape == tuple(out_shape), (row.name, spec)
        assert row.params == params
        if spec["type"] == "conv":
            cin = row.input_shapes[0][0]
            k = spec["kernel"]
            assert row.macs == math.prod(out_shape) * (cin // spec["groups"]) * k * k
