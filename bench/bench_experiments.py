"""Every one-click experiment at N random seeds, at the CPU default size, through the job layer as the page runs it.

For each experiment: how many seeds showed its lesson (the same ``lesson()`` the page and the tests use), and the
median and worst wall time as a user waits for it (submit to result, workers already started), against the 60 s
target, and how good the page's "time left" was: every estimate the page could show while at least a quarter of
the run and at least 3 s remained (the page shows whole seconds), after its first tenth (the estimator needs a
measured rate), against the time that really remained (target: within 30%); given apart for each experiment's
first run, which has no run times measured on this machine yet and uses the reference machine's (see
``cnnviz/experiments/timing.py``; ``--save-reference`` makes this run's times the new reference). Runs from a fresh
``$CNNVIZ_HOME`` (nothing cached). The 1-minute load average before and after is printed, since the machine may
be shared.

Run: ``.venv/bin/python bench/bench_experiments.py --seeds 3 [--only depth,dropout] [--size quick] [--save-reference]``
"""
from __future__ import annotations

import argparse
import json
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
ESTIMATE_TARGET = 0.30


def timed_run(name: str, seed: int, size: str, device: str) -> tuple[dict, float, list[float]]:
    """Run one experiment through the job layer as the page does; (result, seconds, relative errors of the
    time-left estimates shown while 10%-75% of the run had passed)."""
    t0 = time.perf_counter()
    job_id = jobs.submit("experiment", {"name": name, "seed": seed, "size": size, "device": device}, owner="bench")
    shown: list[tuple[float, float]] = []  # (when the page would have shown it, the seconds left it said)
    seen = 0
    while True:
        view = jobs.wait(job_id, 0.1)
        now = time.perf_counter()
        for event in view.events[seen:]:
            if event.get("type") == "progress" and event.get("seconds_left") is not None:
                shown.append((now, event["seconds_left"]))
        seen = len(view.events)
        if view.ended:
            break
    end = time.perf_counter()
    if view.state != "finished":
        raise SystemExit(f"{name} seed {seed}: the job ended {view.state}: {view.error}")
    total = end - t0
    errors = [abs(left - (end - t)) / (end - t) for t, left in shown
              if 0.10 * total <= t - t0 <= 0.75 * total and end - t >= 3.0]
    return view.result or {}, total, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="random seeds per experiment (default 3)")
    parser.add_argument("--only", help="comma-separated experiment names (default: all)")
    parser.add_argument("--size", choices=experiments.SIZES, default="quick")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    parser.add_argument("--save-reference", action="store_true",
                        help="write the run times measured here into cnnviz/experiments/reference_times.json")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(experiments.NAMES)
    for name in names:
        experiments.get(name)
    seeds = random.Random(time.time_ns()).sample(range(10_000), args.seeds)
    print(f"seeds {seeds}; size {args.size}; {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}", flush=True)
    jobs.warm()
    print(f"{'experiment':13}{'shown':>7}{'median s':>10}{'worst s':>9}  under {TARGET_S:.0f} s"
          f"  time left after the first run: median error, worst, within {ESTIMATE_TARGET:.0%}", flush=True)
    for name in names:
        shown, times, errors, first_errors = 0, [], [], []
        for seed in seeds:
            result, seconds, estimate_errors = timed_run(name, seed, args.size, args.device)
            times.append(seconds)
            # the first run of an experiment has only the multiply-add estimate; later ones its measured run times
            (errors if times[:-1] else first_errors).extend(estimate_errors)
            ok, words = experiments.lesson(name, result)
            shown += ok
            if not ok:
                print(f"  {name} seed {seed} did not show it: {words}", flush=True)
        worst = max(times)
        quality = (f"{statistics.median(errors):.0%}, {max(errors):.0%}, "
                   f"{sum(e <= ESTIMATE_TARGET for e in errors) / len(errors):.0%} of {len(errors)}"
                   if errors else "no estimate shown (too short)")
        if first_errors:
            quality += f" (first run: median {statistics.median(first_errors):.0%})"
        print(f"{name:13}{f'{shown}/{len(seeds)}':>7}{statistics.median(times):>10.1f}{worst:>9.1f}  "
              f"{'yes' if worst <= TARGET_S else 'NO':9}  {quality}", flush=True)
    print(f"load {os.getloadavg()[0]:.1f}")
    if args.save_reference:
        save_reference(names, args.size)
    return 0


def save_reference(names: list[str], size: str) -> None:
    """This run's measured run times (blended over its seeds) as the reference machine's, beside the others."""
    from cnnviz.experiments import timing

    kept = timing.reference()
    for name in names:
        key = next((k for k in timing.this_machine() if k.startswith(f"{name}:{size}:")), None)
        if key is not None:
            kept[key] = {label: list(times) for label, times in timing.measured(key).items()}
    lines = [f" {json.dumps(key)}: {json.dumps(runs, sort_keys=True)}" for key, runs in sorted(kept.items())]
    timing.REFERENCE.write_text("{\n" + ",\n".join(lines) + "\n}\n")  # one experiment per line
    print(f"reference run times written for {len(names)} experiments to {timing.REFERENCE}")


if __name__ == "__main__":
    sys.exit(main())
