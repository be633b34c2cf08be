"""Network builder speed: one edit of a 100-layer network, answered by :func:`cnnviz.builder.describe`.

An edit changes one number of the text, so every call below sees a new text (no cache hit):
parse, shape walk, build on the meta device, cnnviz's analysis and the per-row numbers. The
reference is cnnviz's own analysis of the same network (``summarize("custom", layers=...)``:
build on meta + analyse) in the same process; the target is 250 ms of server time per edit.

Run: ``.venv/bin/python bench/bench_builder.py``.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from cnnviz.analysis import summarize  # noqa: E402
from cnnviz.builder import describe  # noqa: E402
from cnnviz.zoo.custom import count_layers, parse  # noqa: E402

NETWORKS = {
    # 100 layers each once the repetitions are written out
    "plain convs": "conv({w},3,padding=same) bn relu 24*(conv(32,3,padding=same) bn relu dropout(0.1)) gap fc(10)",
    "ResNet blocks": "conv({w},3,padding=same) bn relu 23*(residual(32) relu dropout(0.1) bn) maxpool(2) "
                     "residual(64,stride=2) gap fc(10)",
    "written out": " ".join(["conv({w},3,padding=same) relu"] + ["conv(16,3,padding=same) relu"] * 48) + " gap fc(10)",
}
EDITS = 7


def main() -> None:
    torch.set_num_threads(1)
    describe(NETWORKS["plain convs"].format(w=8), (3, 32, 32))  # warm: imports, first-call caches
    for label, template in NETWORKS.items():
        layers = count_layers(parse(template.format(w=8)))
        edits, refs = [], []
        for i in range(EDITS):
            text = template.format(w=9 + i)  # an edit: the first conv's width
            t = time.perf_counter()
            d = describe(text, (3, 32, 32))
            edits.append(time.perf_counter() - t)
            assert d.ok, d.error
            t = time.perf_counter()
            summarize("custom", (3, 32, 32), layers=text, in_channels=3, input_size=32)
            refs.append(time.perf_counter() - t)
        t = time.perf_counter()
        describe(text, (3, 32, 32))
        hit = time.perf_counter() - t
        med, ref = statistics.median(edits), statistics.median(refs)
        print(f"{label:<14} {layers} layers: an edit {med * 1000:6.1f} ms median (best {min(edits) * 1000:.1f}), "
              f"cnnviz's analysis of the same model {ref * 1000:6.1f} ms -> {med / ref:.2f}x; unchanged "
              f"(cached) {hit * 1e6:.0f} us; target 250 ms: {'OK' if med < 0.25 else 'MISSED'}")


if __name__ == "__main__":
    main()
