"""Every one-click experiment at N random seeds, at the CPU default size, through the job layer as the page runs it.

For each experiment: how many seeds showed its lesson (the same ``lesson()`` the page and the tests use), and the
median and worst wall time as a user waits for it (submit to result, workers already started), against the 60 s
target. Runs from a fresh ``$CNNVIZ_HOME`` (nothing cached). The 1-minute load average before and after is
printed, since the machine may be shared.

Run: ``.venv/bin/python bench/bench_experiments.py --seeds 3 [--only depth,dropout] [--size quick]``
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["CNNVIZ_HOME"] = tempfile.mkdtemp(prefix="cnnviz-bench-")  # cold: nothing cached yet

from cnnviz import experiments, jobs  # noqa: E402

TARGET_S = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="random seeds per experiment (default 3)")
    parser.add_argument("--only", help="comma-separated experiment names (default: all)")
    parser.add_argument("--size", choices=experiments.SIZES, default="quick")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(experiments.NAMES)
    for name in names:
        experiments.get(name)
    seeds = random.Random(time.time_ns()).sample(range(10_000), args.seeds)
    print(f"seeds {seeds}; size {args.size}; {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}", flush=True)
    jobs.warm()
    print(f"{'experiment':13}{'shown':>7}{'median s':>10}{'worst s':>9}  under {TARGET_S:.0f} s", flush=True)
    for name in names:
        shown, times = 0, []
        for seed in seeds:
            t = time.perf_counter()
            result = jobs.run("experiment", {"name": name, "seed": seed, "size": args.size, "device": args.device},
                              owner="bench")
            times.append(time.perf_counter() - t)
            ok, words = experiments.lesson(name, result)
            shown += ok
            if not ok:
                print(f"  {name} seed {seed} did not show it: {words}", flush=True)
        worst = max(times)
        print(f"{name:13}{f'{shown}/{len(seeds)}':>7}{statistics.median(times):>10.1f}{worst:>9.1f}  "
              f"{'yes' if worst <= TARGET_S else 'NO'}", flush=True)
    print(f"load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
