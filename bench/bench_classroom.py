"""Everyone presses Train: K default LeNet-5 runs submitted at once through each job backend.

For each backend (local worker processes; Ray on a local cluster with as many CPUs as the local backend
has workers) it records:

* drain time: first submit to last result, against the ideal ``ceil(K / slots) x bare`` where ``bare`` is
  a bare PyTorch loop of the same work (same model, data, batch size, epochs, a validation pass per epoch
  and the test pass, one thread), timed here with ``slots`` of them running at once, as the runs do;
* per-run overhead: a run's time on its worker (start to result) against that bare loop (target <= 10%);
* run start latency: submit to the first progress event, for the runs that found a free worker (the others
  also wait in the queue: their wait is given separately);
* the web server's CPU per page interaction and memory per session: ``--sessions`` Training pages driven
  with Streamlit's AppTest in this process (a rerun is what every click costs), read from this process's
  CPU time and resident memory.

Ratios are against references measured in the same run; the load average is printed, since other work on
the machine makes every number noisy. Run: ``.venv/bin/python bench/bench_classroom.py [--k 30]
[--epochs 12] [--backends local,ray] [--ray-address HOST:PORT]`` (``--k 6 --epochs 1`` for a quick look).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_OVERHEAD = 0.10
POLL_S = 0.05


def bare_run(config: dict) -> float:
    """Seconds for a plain loop doing a run's work: training steps, a validation pass per epoch, the test."""
    import torch
    import torch.nn.functional as F

    from cnnviz.data import load_dataset
    from cnnviz.train import TrainConfig
    from cnnviz.zoo import build

    torch.set_num_threads(1)
    start = time.perf_counter()
    cfg = TrainConfig.from_dict(config)
    data = load_dataset(cfg.dataset)
    x, y = data.tensors("train")
    if cfg.subset:
        x, y = x[:cfg.subset], y[:cfg.subset]
    checks = [data.tensors(split) for split in ("val", "test")]
    c, h, _ = data.image_shape
    torch.manual_seed(cfg.seed)
    model = build(cfg.model, in_channels=c, input_size=h, num_classes=data.num_classes, **cfg.model_settings())
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    bs, n = cfg.batch_size, len(x)

    def evaluate(xs: torch.Tensor, ys: torch.Tensor) -> float:
        model.eval()
        with torch.no_grad():
            right = sum(int((model(xs[i:i + 256]).argmax(1) == ys[i:i + 256]).sum()) for i in range(0, len(xs), 256))
        model.train()
        return right / len(xs)

    for _ in range(cfg.epochs):
        perm = torch.randperm(n)
        for i in range(math.ceil(n / bs)):
            idx = perm[i * bs:(i + 1) * bs]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        evaluate(*checks[0])
    evaluate(*checks[1])
    return time.perf_counter() - start


def bare_at_once(config: dict, parallel: int) -> float:
    """Median seconds of ``parallel`` bare runs at once, each in its own warmed-up one-thread process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, __file__, "--bare-child", json.dumps(config)], stdout=subprocess.PIPE,
                              text=True, env=env) for _ in range(parallel)]
    times = [float(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return statistics.median(times)


def _bare_child(config: str) -> None:
    from cnnviz.data import load_dataset

    settings = json.loads(config)
    load_dataset(settings["dataset"])  # before the clock, as a warmed-up worker has it in memory
    bare_run({**settings, "epochs": 1, "subset": 64})  # and a first small run, as the workers' warm-up job
    print(bare_run(settings), flush=True)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker_rss_mb() -> list[float]:
    """Resident MB of each job worker process this bench started (local workers; Ray's task workers)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parent[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    mine, found = {os.getpid()}, True
    while found:  # every descendant of this process
        found = False
        for pid, ppid in parent.items():
            if ppid in mine and pid not in mine:
                mine.add(pid)
                found = True
    sizes = []
    for pid in mine - {os.getpid()}:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if "cnnviz.jobs.worker" in cmd or cmd.startswith(("ray::IDLE", "ray::_job", "ray::_warm")):
            sizes.append(pages * os.sysconf("SC_PAGE_SIZE") / 2**20)
    return sizes


def pages(sessions: int) -> dict[str, float]:
    """CPU seconds per Training-page interaction and MB of server memory per session (AppTest, this process)."""
    from streamlit.testing.v1 import AppTest

    page = str(ROOT / "pages" / "training.py")
    kept, first_cpu, rerun_cpu, rss = [], [], [], []
    for i in range(sessions + 1):
        at = AppTest.from_file(page, default_timeout=120)
        t0 = time.process_time()
        at.run()
        first_cpu.append(time.process_time() - t0)
        t0 = time.process_time()
        at.run()  # what any click costs: the script runs again
        rerun_cpu.append(time.process_time() - t0)
        assert not at.exception, [e.message for e in at.exception]
        kept.append(at)
        rss.append(rss_mb())
    from cnnviz import jobs

    warmed = jobs.use(None)  # the page started this process's own workers: not the storms' business
    if warmed is not None:
        warmed.close()
    # the first session pays the imports and caches: it is left out of every figure
    return {"open_cpu_s": statistics.median(first_cpu[1:]), "rerun_cpu_s": statistics.median(rerun_cpu[1:]),
            "mb_per_session": (rss[-1] - rss[0]) / sessions, "rss_mb": rss[-1]}


def make_backend(name: str, slots: int, ray_address: str | None):
    if name == "local":
        from cnnviz.jobs.local import LocalBackend

        return LocalBackend(slots)
    import ray

    from cnnviz.jobs.ray import NAMESPACE, RayBackend, runtime_env

    if ray_address:
        return RayBackend(f"ray://{ray_address}")
    ray.init(num_cpus=slots, include_dashboard=False, namespace=NAMESPACE, logging_level="ERROR",
             log_to_driver=False, object_store_memory=100 * 2**20, _node_ip_address="127.0.0.1",
             _temp_dir=tempfile.mkdtemp(prefix="cnnviz-bench-ray-"), runtime_env=runtime_env())
    return RayBackend("ray:auto", slots)


def storm(name: str, config: dict, k: int, slots: int, ray_address: str | None) -> dict[str, float]:
    """Submit ``k`` runs at once (one per student) and follow them to the end."""
    from cnnviz import jobs

    backend = make_backend(name, slots, ray_address)
    jobs.use(backend)
    try:
        warm = {**config, "epochs": 1, "subset": 64}
        for job_id in [jobs.submit("train", {"config": warm, "save": False}, owner=f"warm{i}")
                       for i in range(backend.slots)]:  # every worker up, the data read once
            assert jobs.wait(job_id, 600).state == "finished"
        submitted, first, views = {}, {}, {}
        t0 = time.time()
        for i in range(k):
            job_id = jobs.submit("train", {"config": config, "save": False}, owner=f"student{i}")
            submitted[job_id] = time.time()
        order = list(submitted)
        while len(views) < k:
            # runs start in submission order, so the running ones are the first `slots` unfinished ones: only
            # those are looked at (looking at all 30 every 50 ms cost this process a fifth of a core, taken
            # from Ray's workers, which run at Ray's niceness 15 and yield to it)
            for job_id in [j for j in order if j not in views][:backend.slots]:
                view = jobs.get(job_id)
                if job_id not in first and view.last("progress") is not None:
                    first[job_id] = time.time()
                if view.ended:
                    views[job_id] = view
            time.sleep(POLL_S)
        drain = max(v.times["ended"] for v in views.values()) - t0
        failed = [v.error for v in views.values() if v.state != "finished"]
        assert not failed, failed
        workers = worker_rss_mb()
        free = order[:backend.slots]  # found a free worker at once
        on_worker = [v.times["ended"] - v.times["started"] for v in views.values()]
        return {"slots": backend.slots, "drain_s": drain, "run_s": statistics.median(on_worker),
                "start_latency_s": statistics.median(first[j] - submitted[j] for j in free),
                "queue_wait_s": statistics.median(views[j].times["started"] - submitted[j] for j in order),
                "worker_mb": statistics.median(workers) if workers else float("nan"), "workers": len(workers)}
    finally:
        jobs.use(None)
        backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=30, help="runs submitted at once (default 30)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default: the app's default)")
    parser.add_argument("--subset", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--slots", type=int, default=None, help="runs at once (default: this machine's cores)")
    parser.add_argument("--backends", default="local,ray")
    parser.add_argument("--ray-address", default=None, help="a running cluster's HOST:PORT (default: start one)")
    parser.add_argument("--sessions", type=int, default=4, help="Training pages for the server's figures")
    parser.add_argument("--bare-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_child is not None:
        return _bare_child(args.bare_child)
    os.environ.setdefault("CNNVIZ_HOME", tempfile.mkdtemp(prefix="cnnviz-bench-classroom-"))
    from cnnviz.train import TrainConfig
    from cnnviz.train.device import available_cores

    cfg = TrainConfig(augment="none", device="cpu")  # the bare loop has no augmentation: neither have the runs
    cfg = cfg.replace(**{k: v for k, v in (("epochs", args.epochs), ("subset", args.subset)) if v is not None})
    config = cfg.validate().to_dict()
    slots = args.slots or available_cores()
    print(f"{args.k} x {cfg.model} on {cfg.dataset} ({cfg.epochs} epochs, subset {cfg.subset or 'all'}, "
          f"batch {cfg.batch_size}), {slots} runs at once; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the start", flush=True)
    if args.sessions:
        p = pages(args.sessions)
        print(f"server: {p['open_cpu_s'] * 1000:.0f} ms CPU to open the Training page, {p['rerun_cpu_s'] * 1000:.0f} "
              f"ms CPU per interaction (rerun), {p['mb_per_session']:.1f} MB per session "
              f"({p['rss_mb']:.0f} MB resident with {args.sessions + 1} sessions)", flush=True)
    # the bare loop before and after every storm: the load of a shared machine drifts, the median is used
    bares = [bare_at_once(config, slots)]
    results = {}
    for name in [b.strip() for b in args.backends.split(",") if b.strip()]:
        results[name] = storm(name, config, args.k, slots, args.ray_address)
        bares.append(bare_at_once(config, slots))
    bare = statistics.median(bares)
    print(f"bare PyTorch loop, {slots} at once: {bare:.2f} s per run (median of {', '.join(f'{b:.2f}' for b in bares)})")
    for name, r in results.items():
        ideal = math.ceil(args.k / r["slots"]) * bare
        overhead = r["run_s"] / bare - 1
        print(f"{name:>5}: drain {r['drain_s']:.1f} s for {args.k} runs (ideal {ideal:.1f} s, ratio "
              f"{r['drain_s'] / ideal:.2f}x); per run {r['run_s']:.2f} s on a worker, overhead {overhead:+.0%} "
              f"({'meets' if overhead <= TARGET_OVERHEAD else 'MISSES'} <= {TARGET_OVERHEAD:.0%}); start latency "
              f"{r['start_latency_s']:.2f} s (submit to first progress); median queue wait "
              f"{r['queue_wait_s']:.1f} s; {r['workers']} workers of {r['worker_mb']:.0f} MB resident each",
              flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
