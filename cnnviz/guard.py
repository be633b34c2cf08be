"""Resource budgets, checked on the meta-device analysis before anything real is allocated.

Every view that builds real weights or runs real tensors (training, activation
maps, Grad-CAM, ONNX export) asks :func:`check` first. The limits come from
environment variables, so a lecturer's classroom server can tighten or loosen them:

===========================  =========================================  =======
variable                     what it limits                             default
===========================  =========================================  =======
CNNVIZ_MAX_PARAMS            parameters of a model built with weights   200M
CNNVIZ_MAX_ACTIVATION_MB     activation memory of one real forward      1024
CNNVIZ_MAX_TRAIN_MB          estimated training memory (one batch)      4096
CNNVIZ_MAX_GMACS             multiply-accumulates of one forward        60
===========================  =========================================  =======

The analysis itself (shapes, counts, receptive fields) runs on the meta device and
is never refused: a VGG-16 at 8192x8192 is analysed, but not run.
"""
from __future__ import annotations

from typing import Any, Sequence

from cnnviz.analysis import ConfigError, Report, human_bytes, human_count, summarize
from cnnviz.budget import budget


def _refuse(what: str, need: str, limit: str) -> ConfigError:
    # the variable's name stays out of the message: a student cannot set it (the README names it for the operator)
    return ConfigError(f"refused before allocating anything: {what} needs {need}; the limit is {limit} "
                       "(a limit of this server: ask the person who runs it to raise it)")


def check(report: Report, purpose: str = "inference", batch_size: int = 1, optimizer: str = "adam") -> Report:
    """Raise :class:`ConfigError` if running ``report``'s model for ``purpose`` would exceed the budget.

    ``purpose`` is ``"inference"`` (a forward of ``batch_size`` images: activation views, Grad-CAM)
    or ``"training"`` (weights, gradients, optimizer state and saved activations for one batch).
    """
    b = budget()
    t = report.totals
    what = f"{report.model} at {'x'.join(map(str, report.input_shape))}"
    if t.params > b.max_params:
        raise _refuse(what, f"{human_count(t.params)} parameters", human_count(b.max_params))
    if t.macs * batch_size > b.max_macs:
        raise _refuse(what, f"{human_count(t.macs * batch_size)} multiply-accumulates per batch",
                      human_count(b.max_macs))
    if purpose == "training":
        need = report.training_memory(batch_size, optimizer)["total"]
        if need > b.max_training_bytes:
            raise _refuse(f"training {what} with batch {batch_size}", f"about {human_bytes(need)}",
                          human_bytes(b.max_training_bytes))
    else:
        need = batch_size * (t.activation_bytes + t.input_bytes) + t.param_bytes
        if need > b.max_activation_bytes:
            raise _refuse(what, f"{human_bytes(need)} for weights and activations", human_bytes(b.max_activation_bytes))
    return report


def check_model(name: str, settings: dict[str, Any] | None = None, input_shape: Sequence[int] | None = None,
                purpose: str = "inference", batch_size: int = 1, optimizer: str = "adam") -> Report:
    """Analyse zoo model ``name`` on the meta device and :func:`check` it; returns the report."""
    report = summarize(name, input_shape, **(settings or {}))
    return check(report, purpose, batch_size, optimizer)
