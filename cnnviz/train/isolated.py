"""Training in its own process: what the web app uses, so nothing in the server can slow it down.

In a Streamlit server the training thread shares Python's GIL with every page script,
the websocket and the file watcher; measured on a two-core machine, that made a
LeNet-5 run several times slower than from the command line. An :class:`IsolatedRun`
has the same interface as :class:`~cnnviz.train.run.TrainingRun` (start, stop, wait,
status, progress, history, result, model, checkpoint) but trains in a child process
and mirrors its state here every 0.1 s. Children are forked from a "forkserver" that
has imported torch and cnnviz once (:func:`warm_up` starts it ahead of the first run),
so a run starts in well under a second once the server is warm.
"""
from __future__ import annotations

import io
import multiprocessing
import threading
import time
from multiprocessing import spawn
from multiprocessing.connection import Connection
from typing import Any

import torch

from cnnviz.errors import ConfigError
from cnnviz.data import load_dataset
from cnnviz.train.run import TrainingRun

POLL_S = 0.1
_LOCK = threading.Lock()
_START_LOCK = threading.Lock()
_CONTEXT: Any = None


def context() -> Any:
    """The multiprocessing context: a forkserver preloaded with cnnviz.train.run (spawn where there is none)."""
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            if "forkserver" in multiprocessing.get_all_start_methods():
                _CONTEXT = multiprocessing.get_context("forkserver")
                _CONTEXT.set_forkserver_preload(["cnnviz.train.run"])
            else:
                _CONTEXT = multiprocessing.get_context("spawn")
        return _CONTEXT


def start_process(proc: Any) -> None:
    """Start ``proc`` without the child importing the parent's ``__main__`` first.

    multiprocessing makes a new child re-run the parent's main script as ``__mp_main__``.
    In a Streamlit server (and under its ``AppTest``) ``sys.modules["__main__"]`` is the page
    script that ran last, so every training process would run a page before training, and
    some pages fail outside Streamlit. The children here need nothing from ``__main__``:
    their target lives in this module.
    """
    with _START_LOCK:
        original = spawn.get_preparation_data

        def without_main(name: str) -> dict[str, Any]:
            data = original(name)
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
            return data

        spawn.get_preparation_data = without_main
        try:
            proc.start()
        finally:
            spawn.get_preparation_data = original


def _noop() -> None:
    """A child that does nothing: starting it starts the forkserver (and its imports)."""


def warm_up() -> None:
    """Start the process machinery in the background, so the first run does not wait for imports."""
    def start() -> None:
        proc = context().Process(target=_noop, daemon=True)
        start_process(proc)
        proc.join()

    threading.Thread(target=start, name="cnnviz-warm-up", daemon=True).start()


def _snapshot(run: TrainingRun, sent: dict[str, int]) -> dict[str, Any]:
    """What changed in the child's run since the last snapshot."""
    steps, epochs, grads = run.history.steps, run.history.epochs, run.history.grad_norms
    out = {"phase": run.phase, "step": run._step, "images": run._images, "steps_per_epoch": run._steps_per_epoch,
           "total_steps": run._total_steps, "train_images": run.train_images, "device_name": run.device_name,
           "seconds": run.progress.seconds if run._t_start is not None else None,
           "steps": steps[sent["steps"]:], "epochs": epochs[sent["epochs"]:], "grads": grads[sent["grads"]:],
           "grad_layers": run.history.grad_layers}
    sent.update(steps=len(steps), epochs=len(epochs), grads=len(grads))
    return out


def _child(config: Any, threads: int | None, conn: Connection, stop: Any) -> None:
    """The child process: train, send snapshots, then the result and the weights (or the error)."""
    try:
        run = TrainingRun(config)
        run.threads = threads
        run.start()
        sent = {"steps": 0, "epochs": 0, "grads": 0}
        while True:
            done = run.wait(POLL_S)
            if stop.is_set():
                run.stop()
            conn.send(("update", _snapshot(run, sent)))
            if done:
                break
        if run.status == "failed":
            conn.send(("error", isinstance(run.exception, ConfigError), run.error))
            return
        weights = io.BytesIO()
        torch.save(run.model.state_dict(), weights)
        conn.send(("done", run.status, run.result, weights.getvalue(), run.model.cnnviz_settings))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which shows it
        conn.send(("error", isinstance(exc, ConfigError), f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class IsolatedRun(TrainingRun):
    """A :class:`TrainingRun` that trains in a child process (same interface)."""

    _device_name: str | None = None

    @property
    def device_name(self) -> str:
        return self._device_name or super().device_name

    def _apply(self, snap: dict[str, Any]) -> None:
        self.phase = snap["phase"]
        self._steps_per_epoch, self._total_steps = snap["steps_per_epoch"], snap["total_steps"]
        self._step, self._images = snap["step"], snap["images"]
        self.train_images, self._device_name = snap["train_images"], snap["device_name"]
        if snap["seconds"] is not None and self._t_start is None:
            self._t_start = time.perf_counter() - snap["seconds"]
        self.history.grad_layers = snap["grad_layers"]
        for record in snap["steps"]:
            self.history.add_step(**record)
        for record in snap["epochs"]:
            self.history.add_epoch(**record)
        for record in snap["grads"]:
            self.history.add_grad_norms(record["step"], record["epoch"], record["norms"])

    def _work(self) -> None:
        ctx = context()
        receive, send = ctx.Pipe(duplex=False)
        stop = ctx.Event()
        self.phase = "starting a training process"
        proc = ctx.Process(target=_child, args=(self.config, self.threads, send, stop), daemon=True,
                           name="cnnviz-training")
        start_process(proc)
        send.close()
        started = False
        try:
            while True:
                if self.stop_requested:
                    if not started:  # nothing learned yet: no need to wait for the imports to finish
                        proc.terminate()
                        return
                    stop.set()
                if not receive.poll(POLL_S):
                    continue
                started = True
                try:
                    kind, *payload = receive.recv()
                except EOFError:
                    proc.join(5)
                    raise RuntimeError(f"the training process ended unexpectedly (exit code {proc.exitcode})") \
                        from None
                if kind == "update":
                    self._apply(payload[0])
                elif kind == "error":
                    is_config, message = payload
                    raise ConfigError(message) if is_config else RuntimeError(message)
                else:
                    self._finish_from(*payload)
                    return
        finally:
            stop.set()
            proc.join(10)
            receive.close()

    def _finish_from(self, status: str, result: Any, weights: bytes, settings: dict[str, Any]) -> None:
        """Rebuild the trained model here from the child's weights; save a checkpoint if asked."""
        from cnnviz.zoo import build

        self._t_end = time.perf_counter()
        model = build(self.config.model, **settings)
        model.load_state_dict(torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True))
        self.model, self.result = model.eval(), result
        self.dataset = load_dataset(self.config.dataset)
        if status == "stopped":
            self._stop.set()
        if self.autosave:
            self.autosave_checkpoint()
        self.phase = "done"
