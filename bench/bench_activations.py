"""Showing all activation maps of a VGG-16 layer for a 224x224 image, after the model is loaded.

For each layer: the forward pass up to the layer (hooks, eval mode), the channel statistics,
and the Seeing-inside page's figure of *all* the layer's channels serialised to JSON (what
Streamlit sends to the browser). The reference, measured in the same run: one bare forward
pass of the whole network (``model(x)`` under ``torch.no_grad``). Target: under 2 s per layer.
The load average is printed: other work on the machine inflates every number.

Run: ``.venv/bin/python bench/bench_activations.py [layer ...]``
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import cnnviz  # noqa: E402
from cnnviz.inspect import images, weights  # noqa: E402
from cnnviz.inspect.activations import activations, channel_stats  # noqa: E402
from streamlit.logger import set_log_level  # noqa: E402

set_log_level("error")  # the page's st.cache_data functions warn on every call outside a server
from cnnviz.ui.inside import maps_figure  # noqa: E402

LAYERS = ("features.1", "features.8", "features.15", "features.22", "features.29")  # a ReLU of each stage
TARGET_S = 2.0


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    """Median wall time of ``fn()`` over ``repeat`` runs, and its last result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def show_layer(loaded: weights.Loaded, report: cnnviz.Report, x: torch.Tensor, layer: str) -> int:
    """What the page does for one layer; returns the size of the figure's JSON in bytes."""
    maps = activations(loaded.model, x, report, [layer])[layer][0].float().contiguous().numpy()
    stats = channel_stats(torch.from_numpy(maps), "mean")
    fig = maps_figure(maps, [r["channel"] for r in stats], f"{layer}: all {maps.shape[0]} channels")
    return len(fig.to_json())


def main() -> None:
    layers = sys.argv[1:] or LAYERS
    loaded = weights.load("vgg16", "random")  # not timed: "after the model is loaded"
    spec = loaded.choice.input
    x = images.preprocess(images.photo("chelsea"), spec).tensor
    report = cnnviz.summarize("vgg16", spec.input_shape)
    model = loaded.model
    with torch.no_grad():
        model(x)  # warm-up: oneDNN picks its kernels on the first call
    show_layer(loaded, report, x, layers[0])

    def bare() -> None:
        with torch.no_grad():
            model(x)

    ref, _ = timed(bare)
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    print(f"reference: one bare forward pass of VGG-16 at 224x224: {ref:.3f} s")
    worst = 0.0
    for layer in layers:
        t, size = timed(lambda: show_layer(loaded, report, x, layer))
        c, h, w = report.row(layer).output_shape
        worst = max(worst, t)
        print(f"{layer:<12} {c:>3} maps of {h}x{w}: {t:.3f} s ({t / ref:.2f}x the bare forward pass), "
              f"figure {size / 2**20:.1f} MiB of JSON")
    print(f"slowest layer {worst:.3f} s: {'under' if worst < TARGET_S else 'OVER'} the {TARGET_S:.0f} s target")


if __name__ == "__main__":
    main()
