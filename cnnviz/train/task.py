"""A training run as a job's engine function: settings in, the contract's events out, a JSON-able result.

``train_task({"config": TrainConfig.to_dict(), "owner": key}, emit, should_stop)`` trains in the
calling process (a job worker), sends a progress event at least once a second (with the training
curve's new points), an epoch event per epoch, and returns the test results, the curves and the
checkpoint's name (saved with the owner when the run is worth keeping). The course's one-click
experiments are :mod:`cnnviz.experiments` (job kind ``experiment``).
"""
from __future__ import annotations

import math
from typing import Any, Callable

from cnnviz.train.checkpoints import prune_checkpoints, save_checkpoint, worth_keeping
from cnnviz.train.config import TrainConfig
from cnnviz.train.run import TrainingRun

POLL_S = 0.25  # how often the run is read: progress goes out at least once a second


def train_cost(params: dict[str, Any]) -> tuple[str, float]:
    """Run times are measured per epoch of one model on one dataset (a subset or small images make it shorter)."""
    cfg = TrainConfig.from_dict(params["config"])
    return f"{cfg.model}:{cfg.dataset}:{cfg.subset or 'all'}:{cfg.image_size or 'native'}", float(cfg.epochs)


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 6)


def _progress(run: TrainingRun, sent_steps: int) -> dict[str, Any]:
    p = run.progress
    spe = max(1, run._steps_per_epoch)
    return {"type": "progress", "run": run.label, "phase": run.phase, "epoch": round(p.epoch, 4),
            "epochs": run.config.epochs, "batch": p.step % spe if p.step < p.total_steps else spe, "batches": spe,
            "step": p.step, "images_per_s": round(p.images_per_second, 1), "seconds_left": _number(p.seconds_left),
            "seconds": round(p.seconds, 3), "device": run.device_name,
            "steps": run.history.steps[sent_steps:]}


def result_of(run: TrainingRun, checkpoint: str | None) -> dict[str, Any]:
    """The run as JSON: its summary, the curves and the most confident mistakes (test-split indices)."""
    out = run.summary()
    r = run.result
    out.update(label=run.label, checkpoint=checkpoint, steps=run.history.steps,
               grad_layers=run.history.grad_layers, grad_norms=run.history.grad_norms)
    if r is not None:
        out.update(classes=list(r.classes), images_seen=r.images_seen,
                   mistakes=[{"index": m.index, "true": m.true, "predicted": m.predicted,
                              "confidence": round(m.confidence, 4)} for m in r.mistakes])
    for key in ("test_accuracy", "seconds", "images_per_second", "device"):  # the summary's last four stay last
        out[key] = out.pop(key)
    return out


def train_task(params: dict[str, Any], emit: Callable[[dict[str, Any]], None],
               should_stop: Callable[[], bool]) -> dict[str, Any]:
    """Train ``params["config"]``; save a checkpoint owned by ``params["owner"]`` when the run is worth keeping
    (it finished or trained :data:`MIN_EPOCHS`); ``params["save"]`` True saves any run that learned something,
    False none; ``params["name"]`` names the file, ``params["shared"]`` shows it to the whole class."""
    cfg = TrainConfig.from_dict(params["config"])
    run = TrainingRun(cfg, label=str(params.get("label") or cfg.model))
    run.threads = 1  # one thread per worker: the workers share the cores
    emit({"type": "start", "run": run.label, "runs": [run.label], "epochs": cfg.epochs})
    if should_stop():  # stopped before it began (a Stop clicked the moment it appeared)
        return result_of(run, None)
    run.start()
    steps, epochs = 0, 0
    while True:
        done = run.wait(POLL_S)
        if should_stop():
            run.stop()
            if not done and run.progress.step == 0:
                # still loading (seconds on a busy machine): nothing learned, so the job ends now; the run's
                # thread ends by itself once its data is loaded (TrainingRun checks Stop right after)
                return result_of(run, None)
        event = _progress(run, steps)
        steps += len(event["steps"])
        if event["step"] or done:
            emit(event)
        for record in run.history.epochs[epochs:]:
            emit({"type": "epoch", "run": run.label, **record})
            epochs += 1
        if done:
            break
    if run.status == "failed":
        raise run.exception if run.exception is not None else RuntimeError(run.error)
    checkpoint, save = None, params.get("save")
    learned = run.result is not None and run.result.images_seen > 0
    if learned and (worth_keeping(run.result) if save is None else bool(save)):
        owner = params.get("owner")
        path = save_checkpoint(run, params.get("name"), owner=owner, shared=bool(params.get("shared")))
        prune_checkpoints(owner=owner)
        checkpoint = path.stem
    return result_of(run, checkpoint)
