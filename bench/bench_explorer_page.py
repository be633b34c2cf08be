"""How fast the Architecture explorer answers a widget change, for every zoo model at its default input size.

For each model the page's script is run with Streamlit's AppTest (in process, no browser):

* pick: the model is picked with an empty cache;
* cold: a model setting changes to a value not seen before (number of classes), so the analysis
  and the figures are computed (median of 3);
* warm: a widget that does not change the analysis changes (batch size), so the analysis and
  the figures come from the cache (median of 3);

and, for reference in the same run, the time of the ``python -m cnnviz summary`` work for that
model (build on the meta device + analyse, best of 3, no caching). Each time is wall-clock and,
in brackets, the CPU time of this process: on a busy machine the wall-clock time grows with the
load (printed) while the CPU time stays close to what an idle machine needs. The target is a warm
answer under 250 ms; the exit status follows the CPU time, both verdicts are printed.

Run: ``.venv/bin/python bench/bench_explorer_page.py [model ...]``
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

# AppTest has no server runtime, so the cache warns "No runtime found" on every script run
logging.getLogger("streamlit.runtime.caching.cache_data_api").disabled = True

import cnnviz  # noqa: E402

PAGE = str(ROOT / "pages" / "explorer.py")
TARGET_S = 0.250
REPEATS = 3


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def median(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def ms(pair: tuple[float, float]) -> str:
    return f"{pair[0] * 1000:6.0f} ({pair[1] * 1000:4.0f}) ms"


def main(names: list[str]) -> int:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["ex_model"] = "lenet5"
    at.run()  # imports, first script run
    rows = []
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores); times: wall (CPU)")
    for name in names:
        st.cache_data.clear()
        at.selectbox(key="ex_model").set_value(name)
        pick = timed(at.run)
        assert not at.exception and not at.error, (name, at.exception, at.error)
        default_classes = cnnviz.get_spec(name).num_classes
        cold, warm = [], []
        for i in range(REPEATS):
            at.number_input(key="ex_num_classes").set_value(default_classes + 1 + i)
            cold.append(timed(at.run))
            at.number_input(key="ex_batch").set_value(16 + i)
            warm.append(timed(at.run))
        assert not at.exception and not at.error, (name, at.exception, at.error)
        at.number_input(key="ex_num_classes").set_value(default_classes)
        at.run()
        engine = min(timed(lambda: cnnviz.summarize(name)) for _ in range(REPEATS))
        rows.append((name, pick, median(cold), median(warm), engine))
        print(f"{name:<20} pick {ms(pick)}  cold {ms(rows[-1][2])}  warm {ms(rows[-1][3])}  "
              f"summary work {ms(engine)}", flush=True)
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}")
    for label, col in (("cold (a setting changes: analysis + figures computed)", 2),
                       ("warm (a widget changes: analysis and figures cached)", 3)):
        by_wall = max(rows, key=lambda r: r[col][0])
        by_cpu = max(rows, key=lambda r: r[col][1])
        print(f"worst {label}: {by_wall[0]} {by_wall[col][0] * 1000:.0f} ms wall-clock "
              f"(its summary work {by_wall[4][0] * 1000:.0f} ms); by CPU time {by_cpu[0]} {by_cpu[col][1] * 1000:.0f} ms")
    wall = max(r[3][0] for r in rows)
    cpu = max(r[3][1] for r in rows)
    print(f"target: a warm answer under {TARGET_S * 1000:.0f} ms: {'met' if cpu < TARGET_S else 'MISSED'} by CPU "
          f"time (worst {cpu * 1000:.0f} ms), {'met' if wall < TARGET_S else 'missed'} by wall-clock time (worst "
          f"{wall * 1000:.0f} ms at load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0 if cpu < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or [s.name for s in cnnviz.list_models()]))
