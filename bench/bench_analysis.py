"""Analysis speed: cnnviz.analyze against torchinfo.summary, and build + analyse for every zoo model.

Run: ``.venv/bin/python bench/bench_analysis.py`` (or ``make bench``). Prints ratios measured in one process.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torchinfo  # noqa: E402

import cnnviz  # noqa: E402
from cnnviz.analysis import analyze, summarize  # noqa: E402


def best_of(fn, repeat: int, clock=time.perf_counter) -> tuple[float, float]:
    """Best and median of ``repeat`` calls, by ``clock`` (wall time, or CPU time: process_time)."""
    times = []
    for _ in range(repeat):
        t = clock()
        fn()
        times.append(clock() - t)
    return min(times), statistics.median(times)


def main() -> None:
    torch.set_num_threads(2)
    model = cnnviz.build("resnet152").eval()  # real weights on the CPU, as torchinfo needs
    ours, ours_med = best_of(lambda: analyze(model, (3, 224, 224)), 7)
    ref, ref_med = best_of(lambda: torchinfo.summary(model, (1, 3, 224, 224), verbose=0), 3)
    print(f"resnet152 @224: cnnviz.analyze {ours * 1000:.1f} ms (median {ours_med * 1000:.1f}), "
          f"torchinfo.summary {ref * 1000:.0f} ms (median {ref_med * 1000:.0f}) -> {ref / ours:.0f}x faster "
          f"(target 10x: {'OK' if ref / ours >= 10 else 'MISSED'})")

    big = cnnviz.build("vgg16", device="meta")
    t, _ = best_of(lambda: analyze(big, (3, 4096, 4096)), 3)
    print(f"vgg16 @4096x4096 on meta: {t * 1000:.1f} ms")

    rows = []
    for spec in cnnviz.list_models():
        summarize(spec.name)  # warm: imports, first-call caches
        t, med = best_of(lambda: summarize(spec.name), 5)
        _, cpu = best_of(lambda: summarize(spec.name), 5, time.process_time)
        rows.append((med, t, cpu, spec.name))
    rows.sort(reverse=True)
    print("build + analyse at the default input (what `python -m cnnviz summary NAME` does), warm process:")
    for med, t, cpu, name in rows[:8]:
        print(f"  {name:<22} wall median {med * 1000:6.1f} ms  best {t * 1000:6.1f} ms  CPU median {cpu * 1000:6.1f} ms")
    worst = rows[0]
    worst_cpu = max(rows, key=lambda r: r[2])
    print(f"worst over {len(rows)} zoo models: wall median {worst[0] * 1000:.1f} ms ({worst[3]}), CPU median "
          f"{worst_cpu[2] * 1000:.1f} ms ({worst_cpu[3]}); target < 250 ms: "
          f"{'OK' if worst[0] < 0.25 else 'MISSED on wall time (a loaded machine inflates it)'}")


if __name__ == "__main__":
    main()
