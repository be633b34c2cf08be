#!/usr/bin/env bash
# The CUDA path of a training run, in one command of at most 5 minutes on a machine with a CUDA GPU:
#   1. training images/s of the default LeNet-5 (MNIST) and a CIFAR-style ResNet-20 (the CIFAR-shaped
#      stand-in) run through the job layer (cnnviz.jobs, mixed precision as the app does) against a bare
#      PyTorch loop on the same GPU (autocast + GradScaler; ResNet-20 also channels-last: the faster bare
#      loop counts); target: job layer / bare >= 0.9x;
#   2. several students' runs sharing the GPU through the job layer (total images/s against one run alone);
#   3. the depth experiment at --size full (skipped with a message where this checkout has no such command).
# Usage: bench/gpu_check.sh [--device cuda|cpu] [--quick] [--students N]
#   --device cpu --quick runs the same path on the CPU in about a minute (a check of the script itself).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DEVICE=cuda QUICK=0 STUDENTS=4
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=${2:?--device needs cuda or cpu}; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --students) STUDENTS=${2:?--students needs a number}; shift 2 ;;
    *) echo "usage: bench/gpu_check.sh [--device cuda|cpu] [--quick] [--students N]" >&2; exit 2 ;;
  esac
done
case "$DEVICE" in cuda|cpu) ;; *) echo "--device must be cuda or cpu, not '$DEVICE'" >&2; exit 2 ;; esac
case "$STUDENTS" in ''|*[!0-9]*|0) echo "--students must be a whole number of at least 1" >&2; exit 2 ;; esac
if [ "$DEVICE" = cuda ] && ! "$PY" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
  echo "no CUDA GPU here: nothing to measure (bench/gpu_check.sh --device cpu --quick checks the script)" >&2
  exit 2
fi
CNNVIZ_HOME=$(mktemp -d -t cnnviz-gpu-check-XXXXXX)
export CNNVIZ_HOME
trap 'rm -rf "$CNNVIZ_HOME"' EXIT
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg)"
[ "$DEVICE" = cuda ] && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

LIMIT=200  # the CUDA check's share of its 5 minutes; the CPU check of the script may take longer
[ "$DEVICE" = cpu ] && LIMIT=600
timeout "$LIMIT" "$PY" - "$DEVICE" "$QUICK" "$STUDENTS" <<'PYEOF'
"""Job layer vs bare loop (1), and students sharing the device (2)."""
import statistics
import sys
import time

sys.path[:0] = [".", "bench"]
import torch  # noqa: E402

from bench_train import bare_loop  # noqa: E402

from cnnviz import jobs  # noqa: E402
from cnnviz.jobs.local import LocalBackend  # noqa: E402
from cnnviz.train import TrainConfig  # noqa: E402

device_name, quick, students = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
device = torch.device(device_name)
TARGET = 0.9
if device.type == "cpu":
    torch.set_num_threads(1)  # as a job worker: on a shared CPU several threads can be many times slower


def config(model: str, dataset: str) -> TrainConfig:
    epochs = 1 if quick else 3
    return TrainConfig(model=model, dataset=dataset, epochs=epochs, augment="none", device=device_name,
                       subset=256 if quick else None).validate()


def bare_ips(cfg: TrainConfig, channels_last: bool) -> float:
    """Training images/s of bench_train.py's plain loop on the same images and device."""
    seconds, images = bare_loop(cfg, device, channels_last=channels_last)
    return images / seconds


def job_ips(cfg: TrainConfig) -> float:
    result = jobs.run("train", {"config": cfg.to_dict(), "save": False}, owner="gpu-check")
    return float(result["images_per_second"])


jobs.use(LocalBackend(slots=max(1, students)))
rows = []
repeats = 1 if quick else 2
for model, dataset in (("lenet5", "mnist"), ("resnet20", "cifar_standin")):
    layouts = (False, True) if model == "resnet20" and device.type == "cuda" else (False,)
    cfg = config(model, dataset)
    job_ips(cfg.replace(epochs=1, subset=256))  # warm-up: a worker up, CUDA initialised, the data cached
    bare_ips(cfg.replace(subset=256), False)
    job = statistics.median(job_ips(cfg) for _ in range(repeats))
    bare = max(statistics.median(bare_ips(cfg, cl) for _ in range(repeats)) for cl in layouts)
    rows.append((model, job, bare))
    print(f"{model:>9}: job layer {job:10,.0f} images/s, bare loop {bare:10,.0f} images/s "
          f"({'best of contiguous, channels-last' if len(layouts) > 1 else 'contiguous'}), ratio {job / bare:.2f}x "
          f"({'meets' if job / bare >= TARGET else 'MISSES'} >= {TARGET}x)", flush=True)

cfg = config("lenet5", "mnist")
alone = rows[0][1]
t0 = time.time()
ids = [jobs.submit("train", {"config": cfg.to_dict(), "save": False}, owner=f"student{i}") for i in range(students)]
views = [jobs.wait(i, 200) for i in ids]
wall = time.time() - t0
bad = [v.error or v.state for v in views if v.state != "finished"]
if bad:
    sys.exit(f"a shared run did not finish: {bad[0]}")
each = [v.result["images_per_second"] for v in views]
print(f"{students} students' LeNet-5 runs at once on one {device_name}: {sum(each):,.0f} images/s in all "
      f"({min(each):,.0f}-{max(each):,.0f} each), {sum(each) / alone:.2f}x one run alone; all done in {wall:.1f} s",
      flush=True)
jobs.backend().close()
PYEOF

echo "== depth experiment, --size full"
if "$PY" -m cnnviz experiment --help 2>/dev/null | grep -qw depth; then
  size=full
  [ "$QUICK" = 1 ] && size=quick
  start=$(date +%s)
  if timeout 90 "$PY" -m cnnviz experiment depth --size "$size" --device "$DEVICE" --json > "$CNNVIZ_HOME/depth.json"; then
    tail -c 2000 "$CNNVIZ_HOME/depth.json"; echo
    echo "depth --size $size: $(( $(date +%s) - start )) s"
  else
    echo "the depth experiment failed or ran past 90 s (exit $?); its output:"; tail -c 2000 "$CNNVIZ_HOME/depth.json"
  fi
else
  echo "skipped: this checkout has no 'python -m cnnviz experiment depth' yet"
fi
