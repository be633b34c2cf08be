"""The course notes' experiments, each one call: several short training runs compared side by side.

Each :class:`Experiment` is a list of labelled :class:`TrainConfig` s. ``quick``
settings (the default without a GPU) keep an experiment to seconds or about a minute
on a two-core CPU: subsets, small images, few epochs; ``full`` (the default on a GPU)
trains closer to the papers. The settings are part of the experiment, so the page
shows them.

    from cnnviz.train.experiments import run_experiment
    exp = run_experiment("plain_vs_residual")        # synchronous; or ExperimentRun(...).start()
    [(r.label, r.result.test_accuracy) for r in exp.runs]
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from cnnviz.data import load_dataset
from cnnviz.train.config import TrainConfig
from cnnviz.train.device import pick_device
from cnnviz.train.gradients import gradient_norms
from cnnviz.train.jobs import Job
from cnnviz.train.run import TrainingRun

SIZES = ("quick", "full")


@dataclass(frozen=True)
class Experiment:
    """A question from the course notes and the runs that answer it."""

    key: str
    title: str
    notes: str  # what the course notes say
    look_for: str  # what to look at in the curves
    runs: tuple[tuple[str, TrainConfig], ...]
    metric: str = "accuracy"  # the curves compared side by side: accuracy, error or loss


def _plain_vs_residual(size: str) -> Experiment:
    quick = size == "quick"
    base = TrainConfig(dataset="cifar_standin", optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4,
                       schedule="cosine", batch_size=128, augment="shift_flip", track_grad_norms=True,
                       epochs=3 if quick else 30, image_size=16 if quick else None)
    width = {"width_mult": 0.5} if quick else {}
    return Experiment(
        "plain_vs_residual", "Plain vs residual nets, 20 and 56 layers",
        "He et al.: the 56-layer plain net has higher training AND test error than the 20-layer one: not "
        "overfitting but an optimisation problem (\"deeper neural networks are more difficult to train\"). "
        "Skip connections fix it: ResNet-56 beats ResNet-20.",
        "Compare the training error curves: plain-56 stays above plain-20 (worse even on the training images), "
        "and each residual net learns faster than the plain net of the same depth. ResNet-56 overtaking "
        "ResNet-20 takes longer training (the full size, on a GPU). The gradient panel shows each layer's gradient "
        "norm at initialisation and after every epoch: the plain-56's first layers end with the smallest ones.",
        tuple((name, base.replace(model=name, settings=dict(width)))
              for name in ("plain20", "plain56", "resnet20", "resnet56")),
        metric="error",
    )


def _activations(size: str) -> Experiment:
    quick = size == "quick"
    base = TrainConfig(model="lenet5", dataset="mnist", optimizer="sgd", lr=0.05, momentum=0.9, schedule="none",
                       batch_size=64, augment="none", track_grad_norms=True, epochs=3 if quick else 10)
    return Experiment(
        "activations", "Sigmoid vs tanh vs ReLU",
        "Sigmoid neurons saturate and kill gradients, thus the network barely learns; ReLU prevents the "
        "gradient vanishing problem and is cheap to compute.",
        "The sigmoid LeNet-5 stays near chance (10%) longest; look at its tiny gradients in the first layers.",
        tuple((act, base.replace(settings={"variant": "modern", "batch_norm": False, "activation": act}))
              for act in ("sigmoid", "tanh", "relu")),
    )


def _batch_norm(size: str) -> Experiment:
    quick = size == "quick"
    base = TrainConfig(model="tinyvgg", dataset="mnist", optimizer="sgd", lr=0.05, momentum=0.9, schedule="none",
                       init="normal", batch_size=64, augment="none", track_grad_norms=True, epochs=2 if quick else 10)
    return Experiment(
        "batch_norm", "Batch norm on / off (small initial weights)",
        "Batch normalization improves gradient flow through the network, allows higher learning rates, reduces "
        "the strong dependence on initialization and acts as a form of regularization.",
        "The same tiny VGG (4 convolutions), started from small random weights (normal, std 0.01): without batch "
        "norm the signal shrinks layer by layer, the gradients of the first layers are tiny and the net stays at "
        "chance; with batch norm every layer's output is re-normalised and it learns at once.",
        tuple((label, base.replace(settings={"batch_norm": bn}))
              for label, bn in (("batch norm off", False), ("batch norm on", True))),
    )


def _dropout(size: str) -> Experiment:
    quick = size == "quick"
    base = TrainConfig(model="mlp", dataset="mnist", optimizer="adam", lr=1e-3, schedule="none", batch_size=64,
                       augment="none", subset=1000, epochs=30 if quick else 60)
    return Experiment(
        "dropout", "Dropout on / off",
        "Dropout randomly drops nodes during training, to regulate overfitting: more effective for smaller "
        "datasets. Keep a node with probability p.",
        "The Keras MLP on only 1,000 images. Without dropout the training loss falls to almost 0 while the "
        "validation loss turns back up: it memorises. With dropout 0.5 the training loss stays higher (the task is "
        "harder on purpose) and the validation loss lower. On MNIST the test accuracy gains about a point at most.",
        tuple((f"dropout {p:g}", base.replace(settings={"dropout": p})) for p in (0.0, 0.5)),
        metric="loss",
    )


def _mlp_vs_lenet(size: str) -> Experiment:
    base = TrainConfig(dataset="mnist", optimizer="adam", lr=1e-3, schedule="none", batch_size=32, augment="none",
                       epochs=5)
    return Experiment(
        "mlp_vs_lenet", "The Keras MLP vs LeNet-5 on MNIST",
        "The Keras example: Flatten -> Dense 512 ReLU -> Dropout 0.2 -> Dense 10, Adam, 5 epochs. LeNet-5 uses "
        "weight sharing and local receptive fields.",
        "LeNet-5 reaches a higher test accuracy with about 15x fewer weights (61K vs 407K).",
        (("mlp (Keras example)", base.replace(model="mlp")),
         ("lenet5 (modern)", base.replace(model="lenet5", settings={"variant": "modern", "batch_norm": False}))),
    )


def _overfit_tiny(size: str) -> Experiment:
    base = TrainConfig(dataset="mnist", optimizer="adam", lr=3e-3, schedule="none", batch_size=16, augment="none",
                       subset=64, epochs=25 if size == "quick" else 50)
    return Experiment(
        "overfit_tiny", "Overfit a tiny subset first",
        "Can overfit a very small portion of the training data: a sanity check before a long run. Train the "
        "first few epochs with few samples to set the hyper-parameters.",
        "On 64 images the training accuracy should reach 100% (if not, something is broken: learning rate, "
        "labels, model) while validation stays far lower: overfitting on purpose.",
        (("lenet5 on 64 images", base),),
    )


_BUILDERS = {"plain_vs_residual": _plain_vs_residual, "activations": _activations, "batch_norm": _batch_norm,
             "dropout": _dropout, "mlp_vs_lenet": _mlp_vs_lenet, "overfit_tiny": _overfit_tiny}
EXPERIMENTS = tuple(_BUILDERS)


def default_size(device: str = "auto") -> str:
    """``full`` on a GPU, ``quick`` on a CPU."""
    return "quick" if pick_device(device).type == "cpu" else "full"


def get_experiment(key: str, size: str | None = None, device: str = "auto") -> Experiment:
    """The experiment ``key`` at ``size`` (quick / full; default: by device), every run on ``device``."""
    from cnnviz.errors import ConfigError

    if key not in _BUILDERS:
        raise ConfigError(f"unknown experiment {key!r}; choose one of {', '.join(EXPERIMENTS)}")
    size = size or default_size(device)
    if size not in SIZES:
        raise ConfigError(f"experiment size must be quick or full, got {size!r}")
    exp = _BUILDERS[key](size)
    runs = tuple((label, cfg.replace(device=device)) for label, cfg in exp.runs)
    return Experiment(exp.key, exp.title, exp.notes, exp.look_for, runs, exp.metric)


class ExperimentRun(Job):
    """An experiment's runs, one after the other in one background thread (a notebook's or the CLI's; the
    app runs an experiment as a job, :func:`cnnviz.train.task.experiment_task`)."""

    def __init__(self, experiment: Experiment) -> None:
        super().__init__()
        self.experiment = experiment
        self.runs = [TrainingRun(cfg, label=label) for label, cfg in experiment.runs]

    @property
    def current(self) -> TrainingRun | None:
        return next((r for r in self.runs if r.status == "running"), None)

    @property
    def fraction(self) -> float:
        done = sum(1.0 if r.done else r.progress.fraction for r in self.runs)
        return done / max(1, len(self.runs))

    def stop(self) -> None:
        super().stop()
        for r in self.runs:
            r.stop()

    def _work(self) -> None:
        for r in self.runs:
            if self.stop_requested:
                break
            r.threads = self.threads
            r.run()


def run_experiment(key: str, size: str | None = None, device: str = "auto") -> ExperimentRun:
    """Run experiment ``key`` in this thread and return it (its :attr:`ExperimentRun.runs` hold the results)."""
    job = ExperimentRun(get_experiment(key, size, device))
    job.run()
    return job


def init_gradient_profile(models: tuple[str, ...] = ("plain20", "plain56", "resnet20", "resnet56"),
                          batch_norm: bool = True, image_size: int = 16, batch: int = 32,
                          seed: int = 0) -> dict[str, list[tuple[str, float]]]:
    """Per-layer gradient norms at initialisation for each model, on one batch of the CIFAR-shaped set."""
    data = load_dataset("cifar_standin")
    x, y = data.tensors("train")
    x = torch.nn.functional.interpolate(x[:batch], size=(image_size, image_size), mode="bilinear", antialias=True)
    y = y[:batch]
    from cnnviz.zoo import build

    out = {}
    for name in models:
        torch.manual_seed(seed)
        model = build(name, input_size=image_size, batch_norm=batch_norm)
        out[name] = gradient_norms(model, (x, y))
    return out
