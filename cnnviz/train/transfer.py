"""Transfer learning: reuse a network trained on one task for another with little data.

The course's three cases on a small target task (three classes, as its cat / dog /
neither example), against training from scratch:

0. ``scratch``: a fresh network, every layer trained;
1. ``head``: freeze every layer, train only a new softmax layer (the network as a fixed
   feature extractor);
2. ``later``: freeze the early layers, train the later ones and the new head;
3. ``finetune``: train every layer, with a learning rate 1/10 of the original.

The source network is trained here, on the other classes of the same dataset (the seven
other MNIST digits for a target of 5, 6, 7; seven of the CIFAR-shaped stand-in's classes
for the other three), and cached under ``cnnviz.paths.subdir("transfer")``. With 3 target
images per class (the default) all three cases beat training from scratch on MNIST for
random seeds 0-4 (scratch about 72%, the transfer cases about 80-89%).
:func:`off_the_shelf` is the course notes' "CNN features off the shelf": the source network's
penultimate features fed to a scikit-learn logistic regression.

Training on tensors is :mod:`cnnviz.train.tensors`, shared with the augmentation and ensemble experiments.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from cnnviz import paths
from cnnviz.errors import ConfigError
from cnnviz.data import Dataset, load_dataset
from cnnviz.data.preprocess import IMAGENET_MEAN, IMAGENET_STD
from cnnviz.train.checkpoints import load_checkpoint, save_checkpoint
from cnnviz.train.tensors import Splits, accuracy, normalise, probabilities, train_tensors
from cnnviz.zoo import build

# ---------------------------------------------------------------------------------------------
# Tasks: source and target classes of one dataset
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskSplit:
    """Which classes the source network learns, and which few-shot target task it is reused for."""

    dataset: str
    source: tuple[int, ...]
    target: tuple[int, ...]


TASKS: dict[str, TaskSplit] = {
    "mnist": TaskSplit("mnist", (0, 1, 2, 3, 4, 8, 9), (5, 6, 7)),
    "cifar_standin": TaskSplit("cifar_standin", (0, 1, 2, 3, 4, 5, 6), (7, 8, 9)),
}
MODEL = "tinyvgg"
MODEL_SETTINGS: dict[str, Any] = {"width": 16, "blocks": 2}


def select(data: Dataset, classes: Sequence[int], split: str,
           per_class: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of ``classes`` from ``split`` (the first ``per_class`` of each), labels renumbered 0..k-1."""
    x, y = data.images[split], data.labels[split]
    picks = []
    for c in classes:
        idx = torch.nonzero(y == c).flatten()
        picks.append(idx[:per_class] if per_class is not None else idx)
    order = torch.cat(picks)
    order = order[torch.randperm(len(order), generator=torch.Generator().manual_seed(0))]
    remap = torch.full((int(y.max()) + 1,), -1, dtype=torch.long)
    remap[torch.tensor(list(classes))] = torch.arange(len(classes))
    return x[order], remap[y[order]]


def task_splits(data: Dataset, classes: Sequence[int], per_class: int | None) -> Splits:
    """Train (``per_class`` images per class), val and test splits of ``classes``."""
    return {"train": select(data, classes, "train", per_class), "val": select(data, classes, "val"),
            "test": select(data, classes, "test")}


def _check_task(dataset: str, target: Sequence[int] | None) -> TaskSplit:
    if dataset not in TASKS:
        raise ConfigError(f"transfer learning runs on {', '.join(TASKS)}; not {dataset!r}")
    task = TASKS[dataset]
    if target is None:
        return task
    target = tuple(int(c) for c in target)
    n = 10
    if len(target) < 2 or len(set(target)) != len(target) or not all(0 <= c < n for c in target):
        raise ConfigError(f"target classes must be at least two different classes of 0-{n - 1}, got {list(target)}")
    source = tuple(c for c in range(n) if c not in target)
    return TaskSplit(dataset, source, target)


# ---------------------------------------------------------------------------------------------
# The source network, trained once and cached
# ---------------------------------------------------------------------------------------------
@dataclass
class Source:
    """The pretrained network and how it was made."""

    model: nn.Module
    task: TaskSplit
    mean: tuple[float, ...]
    std: tuple[float, ...]
    test_accuracy: float
    seconds: float
    cached: bool
    path: str


def source_network(dataset: str = "mnist", target: Sequence[int] | None = None, epochs: int = 3,
                   seed: int = 0, progress: Callable[[str, float], None] | None = None,
                   span: tuple[float, float] = (0.0, 1.0)) -> Source:
    """The network trained on the source classes (cached on disk after the first time)."""
    task = _check_task(dataset, target)
    data = load_dataset(dataset)
    shape = "-".join(f"{k}{v}" for k, v in MODEL_SETTINGS.items())
    name = f"source-{dataset}-{MODEL}-{shape}-{''.join(map(str, task.source))}-e{epochs}-s{seed}"
    folder = paths.subdir("transfer")
    path = folder / f"{name}.pt"
    if path.exists():
        try:
            ckpt = load_checkpoint(path)
            return Source(ckpt.model, task, ckpt.mean, ckpt.std, float(ckpt.metrics["test_accuracy"]),
                          float(ckpt.metrics["seconds"]), True, str(path))
        except (ConfigError, KeyError):
            path.unlink(missing_ok=True)  # unreadable: train it again
    c, h, _ = data.image_shape
    torch.manual_seed(seed)
    model = build(MODEL, in_channels=c, input_size=h, num_classes=len(task.source), **MODEL_SETTINGS)
    names = [data.classes[i] for i in task.source]
    run = train_tensors(model, task_splits(data, task.source, None), names, data.mean, data.std, report=progress,
                        message=f"Pretraining the source network on {', '.join(names)} (once; then cached) ...",
                        span=span, dataset=dataset, model=MODEL, settings=dict(MODEL_SETTINGS), epochs=epochs,
                        lr=3e-3, batch_size=64, seed=seed, label="source network")
    save_checkpoint(run, name, folder=folder, overwrite=True)  # a cache: another session may have just made it
    return Source(run.model, task, data.mean, data.std, run.result.test_accuracy, run.result.seconds, False, str(path))


IMAGENET_WEIGHTS = {"resnet18": "ResNet18_Weights"}  # zoo name -> torchvision weights enum (same state_dict keys)


def imagenet_file(name: str = "resnet18") -> Path | None:
    """torchvision's ImageNet weights for ``name`` if they are already in the torch hub cache (never downloads)."""
    import torchvision.models

    if name not in IMAGENET_WEIGHTS:
        return None
    url = getattr(torchvision.models, IMAGENET_WEIGHTS[name]).IMAGENET1K_V1.url
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    return path if path.is_file() else None


def imagenet_source(dataset: str = "cifar_standin", target: Sequence[int] | None = None,
                    name: str = "resnet18") -> Source:
    """The zoo's ``name`` with torchvision's ImageNet weights from the hub cache, as the source network."""
    path = imagenet_file(name)
    if path is None:
        raise ConfigError(f"torchvision's ImageNet weights for {name} are not in {torch.hub.get_dir()}/checkpoints; "
                          "use the network pretrained here instead")
    task = _check_task(dataset, target)
    model = build(name)
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (RuntimeError, OSError, ValueError) as exc:
        raise ConfigError(f"{path.name} could not be loaded: {str(exc).splitlines()[0][:160]}") from None
    model.eval()
    return Source(model, task, IMAGENET_MEAN, IMAGENET_STD, float("nan"), 0.0, True, str(path))


def _resized(splits: Splits, size: int) -> Splits:
    """Every split's images resized to ``size`` x ``size`` (grey repeated to RGB), still uint8."""
    out = {}
    for split, (x, y) in splits.items():
        f = x.float()
        f = f.expand(-1, 3, -1, -1) if f.shape[1] == 1 else f
        f = torch.nn.functional.interpolate(f, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[split] = (f.round().clamp(0, 255).to(torch.uint8), y)
    return out


# ---------------------------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    key: str
    title: str
    explain: str


CASES: dict[str, Case] = {c.key: c for c in (
    Case("scratch", "0. From scratch",
         "A fresh network, random weights, every layer trained on the little target data."),
    Case("head", "1. New softmax only", "Every pretrained layer frozen (trainable parameters = 0); only a new "
         "3-class softmax layer is trained: the network is a fixed feature extractor."),
    Case("later", "2. Freeze early layers", "The early layers (general edges and strokes) frozen; the later "
         "layers and the new softmax trained."),
    Case("finetune", "3. Fine-tune all", "Start from the pretrained weights and train every layer, with a "
         "learning rate 1/10 of the original so the good weights change only a little."),
)}


def stages(model: nn.Module) -> list[str]:
    """The model's stages in input-to-output order (the children of ``features``, then the head layer)."""
    head = model.head_name
    feats = model.get_submodule("features") if hasattr(model, "features") else None
    if isinstance(feats, nn.Sequential):
        names = [f"features.{n}" for n, m in feats.named_children() if any(True for _ in m.parameters())]
    else:
        names = [n for n, m in model.named_children() if any(True for _ in m.parameters()) and
                 not head.startswith(n)]
    return [*names, head]


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Convolution and fully connected layers in order (what the drawing shows)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def count_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@dataclass
class Prepared:
    """A model ready for one case: which stages are frozen, how many parameters train, the lr factor."""

    case: str
    model: nn.Module
    frozen: list[str]
    trainable: int
    total: int
    lr_factor: float


def prepare(case: str, source: nn.Module, num_classes: int, frozen_stages: int = 1,
            fresh: Callable[[], nn.Module] | None = None) -> Prepared:
    """The network for ``case``: a copy of ``source`` with a new ``num_classes`` head, frozen as the case says.

    ``later`` freezes the first ``frozen_stages`` stages; ``scratch`` uses ``fresh()`` (a new
    network of the same kind), or ``source`` re-initialised.
    """
    if case not in CASES:
        raise ConfigError(f"unknown transfer case {case!r}; choose one of {', '.join(CASES)}")
    if case == "scratch":
        model = fresh() if fresh is not None else _reinitialised(source)
    else:
        model = copy.deepcopy(source)
    model.reset_classifier(num_classes)
    for p in model.parameters():
        p.requires_grad_(True)
    names = stages(model)
    body = names[:-1]
    if case == "head":
        frozen = body
    elif case == "later":
        if not 1 <= frozen_stages <= len(body):
            raise ConfigError(f"freeze between 1 and {len(body)} of the {len(body)} stages, not {frozen_stages}")
        frozen = body[:frozen_stages]
    else:
        frozen = []
    for name in frozen:
        for p in model.get_submodule(name).parameters():
            p.requires_grad_(False)
    return Prepared(case, model, frozen, count_trainable(model), count_params(model),
                    0.1 if case == "finetune" else 1.0)


def _reinitialised(model: nn.Module) -> nn.Module:
    fresh = copy.deepcopy(model)
    for m in fresh.modules():
        if hasattr(m, "reset_parameters") and m is not fresh:
            m.reset_parameters()
    return fresh


# ---------------------------------------------------------------------------------------------
# The experiment
# ---------------------------------------------------------------------------------------------
@dataclass
class CaseResult:
    case: str
    title: str
    test_accuracy: float
    train_accuracy: float
    trainable: int
    total: int
    frozen: list[str]
    seconds: float
    lr: float
    epochs: list[dict[str, float]] = field(default_factory=list)


@dataclass
class TransferResult:
    dataset: str
    source_model: str
    source_classes: list[str]
    target_classes: list[str]
    per_class: int
    test_size: int
    source_accuracy: float
    source_seconds: float
    source_cached: bool
    layers: list[str]  # the weighted layers, in order, for the drawing
    stages: list[str]
    cases: list[CaseResult]
    off_the_shelf: dict[str, float] | None = None

    def best(self) -> CaseResult:
        return max(self.cases, key=lambda c: c.test_accuracy)

    def case(self, key: str) -> CaseResult:
        return next(c for c in self.cases if c.case == key)


def run_transfer(dataset: str = "mnist", *, target: Sequence[int] | None = None, per_class: int = 3,
                 epochs: int = 30, lr: float = 3e-3, batch_size: int = 32, frozen_stages: int = 1,
                 cases: Sequence[str] = tuple(CASES),
                 source_epochs: int = 3, seed: int = 0, features: bool = True, pretrained: str = "here",
                 image_size: int = 64, progress: Callable[[str, float], None] | None = None) -> TransferResult:
    """Pretrain (or load) the source network, then train each case on ``per_class`` target images per class.

    ``pretrained="here"``: the small network trained on the dataset's other classes (cached);
    ``"imagenet"``: ResNet-18 with torchvision's ImageNet weights, when they are in the torch
    hub cache (the target images are resized to ``image_size``). ``progress(message, fraction)``
    is called as the work advances.
    """
    if not 1 <= per_class <= 300:
        raise ConfigError(f"images per target class must be 1 to 300, got {per_class}")
    if pretrained not in ("here", "imagenet"):
        raise ConfigError(f"pretrained must be 'here' or 'imagenet', not {pretrained!r}")
    bad = [c for c in cases if c not in CASES]
    if bad or not cases:
        raise ConfigError(f"choose cases among {', '.join(CASES)}" + (f"; {bad[0]!r} is not one" if bad else ""))
    report = progress or (lambda _m, _f: None)
    steps = len(cases) + 1
    report("Loading the source network ...", 0.0)
    data = load_dataset(dataset)
    if pretrained == "imagenet":
        src = imagenet_source(dataset, target)
        model_name = "resnet18"
    else:
        src = source_network(dataset, target, epochs=source_epochs, seed=seed, progress=progress,
                             span=(0.0, 1 / steps))
        model_name = MODEL
    task = src.task
    splits = task_splits(data, task.target, per_class)
    if pretrained == "imagenet":
        splits = _resized(splits, image_size)
    target_names = [data.classes[i] for i in task.target]

    def fresh() -> nn.Module:
        torch.manual_seed(seed + 1)
        if pretrained == "imagenet":
            return build(model_name)
        c, h, _ = data.image_shape
        return build(MODEL, in_channels=c, input_size=h, num_classes=len(task.source), **MODEL_SETTINGS)

    results = []
    for i, key in enumerate(cases):
        torch.manual_seed(seed + 2)  # the same new head in every case
        prep = prepare(key, src.model, len(task.target), frozen_stages, fresh)
        run = train_tensors(prep.model, splits, target_names, src.mean, src.std, frozen=prep.frozen, report=progress,
                            message=f"Case {CASES[key].title} ...", span=((i + 1) / steps, (i + 2) / steps),
                            dataset=dataset, model=model_name, epochs=epochs, lr=lr * prep.lr_factor,
                            batch_size=min(batch_size, len(splits["train"][1])), seed=seed,
                            label=CASES[key].title)
        x_train, y_train = splits["train"]
        train_acc = accuracy(probabilities(run.model, normalise(x_train, *_tensors(src))), y_train)
        results.append(CaseResult(key, CASES[key].title, run.result.test_accuracy, train_acc, prep.trainable,
                                  prep.total, prep.frozen, run.result.train_seconds, lr * prep.lr_factor,
                                  run.history.epochs))
    shelf = None
    if features:
        report("Features off the shelf: logistic regression ...", 1.0)
        shelf = off_the_shelf(src, splits)
    report("Done", 1.0)
    sources = (["ImageNet (1,000 classes)"] if pretrained == "imagenet" else [data.classes[i] for i in task.source])
    return TransferResult(dataset, model_name, sources, target_names, per_class,
                          len(splits["test"][1]), src.test_accuracy, src.seconds, src.cached,
                          [n for n, _ in weighted_layers(src.model)], stages(src.model), results, shelf)


def features_experiment(dataset: str = "mnist", per_class: int = 5,
                        progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    """The page's "features off the shelf": :func:`off_the_shelf` on the source network (pretrained
    here, or read from its cache) with ``per_class`` images of each target class, and what it ran on."""
    report = progress or (lambda _m, _f: None)
    src = source_network(dataset, progress=progress, span=(0.0, 0.8))
    report("Extracting the features and fitting the logistic regression ...", 0.8)
    data = load_dataset(dataset)
    splits = task_splits(data, src.task.target, per_class)
    out = off_the_shelf(src, splits)
    out.update(dataset=dataset, per_class=per_class, target=[data.classes[i] for i in src.task.target],
               source=[data.classes[i] for i in src.task.source], test_size=len(splits["test"][1]))
    return out


def _tensors(src: Source) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(src.mean, dtype=torch.float32), torch.tensor(src.std, dtype=torch.float32)


@torch.no_grad()
def penultimate(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``model.forward_features`` flattened: the vector the softmax layer sees (without its own pooling)."""
    model.eval()
    return torch.cat([model.forward_features(images[i:i + 512]).flatten(1) for i in range(0, len(images), 512)])


def off_the_shelf(src: Source, splits: Splits) -> dict[str, float]:
    """Penultimate features of the frozen source network + scikit-learn logistic regression."""
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    mean, std = _tensors(src)
    feats = {s: penultimate(src.model, normalise(splits[s][0], mean, std)).numpy() for s in ("train", "test")}
    clf = LogisticRegression(max_iter=2000)
    clf.fit(feats["train"], splits["train"][1].numpy())
    test = float(clf.score(feats["test"], splits["test"][1].numpy()))
    train = float(clf.score(feats["train"], splits["train"][1].numpy()))
    return {"test_accuracy": test, "train_accuracy": train, "features": int(feats["train"].shape[1]),
            "seconds": time.perf_counter() - start}
