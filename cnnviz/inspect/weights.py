"""Which weights a model runs with: random, trained in this app, or torchvision's ImageNet weights.

* ``random``: the zoo's initialisation (seed 0): shows what an untrained network does.
* ``mnist``: LeNet-5 or TinyVGG trained with :class:`cnnviz.train.TrainingRun` on the bundled
  MNIST digits on first use (seconds) and kept as a checkpoint under
  ``cnnviz.paths.subdir("inspect")``: something trained to look at on a machine without internet.
* ``ckpt:<name>``: a checkpoint saved by the Training page (``cnnviz.paths.checkpoint_dir()``).
* ``imagenet``: torchvision's ImageNet weights for the zoo's torchvision twins, read from the
  torch hub cache (``torch.hub.get_dir()/checkpoints``) or downloaded into it on request.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

import cnnviz
from cnnviz import paths
from cnnviz.errors import ConfigError
from cnnviz.data import load_dataset
from cnnviz.inspect.images import IMAGENET_MEAN, IMAGENET_STD, MNIST_MEAN, MNIST_STD, InputSpec
from cnnviz.train import (CheckpointInfo, TrainConfig, TrainingRun, checkpoint_info, list_checkpoints, load_checkpoint,
                          save_checkpoint)

MNIST_MODELS = ("lenet5", "tinyvgg")
# Zoo settings that make the architecture match torchvision's pretrained weights.
PRETRAINED_SETTINGS = {"googlenet": {"transform_input": True}, "inception_v3": {"transform_input": True}}
_DENSENET_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


@dataclass(frozen=True)
class WeightsChoice:
    """One entry of the weights picker, known before anything is loaded.

    ``ready``: usable now (else it needs a download); ``note``: what it is or how to get it;
    ``settings``: the zoo settings the weights were made for; ``input``: the preprocessing
    they expect; ``labels``: class names (None: untrained).
    """

    key: str
    label: str
    ready: bool
    note: str
    input: InputSpec
    settings: tuple[tuple[str, object], ...] = ()
    labels: tuple[str, ...] | None = None

    @property
    def trained(self) -> bool:
        return self.labels is not None


@dataclass
class Loaded:
    """A model with its weights, ready for the inspection tools.

    ``lock``: hold it while hooks are on the model (a cached model is shared between sessions).
    """

    name: str
    choice: WeightsChoice
    model: nn.Module
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


# -- torchvision ImageNet weights --------------------------------------------------------------------

def _tv_weights(name: str):
    """torchvision's default weights enum entry for zoo model ``name``, or None."""
    tv = cnnviz.get_spec(name).torchvision
    if not tv:
        return None
    import torchvision.models

    try:
        return torchvision.models.get_model_weights(tv).DEFAULT
    except (ValueError, KeyError):
        return None


def imagenet_file(name: str) -> Path | None:
    """Where the torch hub cache keeps ``name``'s ImageNet weights (None: torchvision has none)."""
    w = _tv_weights(name)
    if w is None:
        return None
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(w.url).name


def _imagenet_state(name: str, download: bool) -> dict[str, torch.Tensor]:
    w = _tv_weights(name)
    path = imagenet_file(name)
    assert w is not None and path is not None
    if not path.exists():
        if not download:
            raise ConfigError(f"torchvision's ImageNet weights for {name} are not on this machine.")
        try:
            torch.hub.load_state_dict_from_url(w.url, progress=False, check_hash=True)
        except Exception as exc:  # noqa: BLE001 - no internet, a proxy, a full disk: all say the same
            # the library's message names folders and addresses: a student reads this one
            raise ConfigError(f"could not download {name}'s ImageNet weights (no internet, or the download "
                              f"failed: {type(exc).__name__}). Without internet, ask the person who runs the "
                              "server to add them.") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a cut-short or foreign file
        # the path is for the operator's log, not for the student who reads the message
        raise ConfigError(f"the stored ImageNet weights for {name} are not readable ({type(exc).__name__}); ask "
                          "the person who runs the server to delete and download them again.") from None
    state = {_DENSENET_KEY.sub(r"\1\2", k): v for k, v in state.items()}
    if name == "googlenet":  # torchvision keeps the auxiliary classifiers in the file
        state = {k: v for k, v in state.items() if not k.startswith(("aux1.", "aux2."))}
    return state


def _imagenet_note(name: str) -> str:
    w = _tv_weights(name)
    path = imagenet_file(name)
    size = f"{w.meta.get('_file_size', 0):.0f} MB" if w is not None else ""
    if path is not None and path.exists():
        return "torchvision's ImageNet-1k weights, stored on this machine."
    # no file name or folder: a student reads this (the README tells the operator where the files go)
    return (f"torchvision's ImageNet-1k weights: not on this machine. Press 'Download' ({size}, needs "
            "internet), or ask the person who runs the server to add them.")


# -- trained in this app: the offline demo and the Training page's checkpoints ---------------------

DEMO_EPOCHS = 3


def _demo_file(name: str) -> Path:
    return paths.subdir("inspect") / f"{name}-mnist-demo.pt"


def _checkpoint_choice(info: CheckpointInfo, key: str, label: str) -> WeightsChoice:
    """What a usable checkpoint file holds, from its metadata (the model is built on :func:`load`)."""
    c = int(info.settings.get("in_channels", 1))
    side = int(info.settings.get("input_size", 28))
    acc = info.test_accuracy
    note = (f"{info.path.stem}: trained in this app on {info.dataset}"
            + (f", {acc:.1%} test accuracy" if acc is not None else "") + ".")
    mean, std = (info.mean, info.std) if len(info.mean) == len(info.std) == c else ((0.5,) * c, (0.5,) * c)
    return WeightsChoice(key, label, True, note, InputSpec(c, side, side, mean, std),
                         tuple(sorted(info.settings.items())), info.classes or None)


def _demo_choice(name: str) -> WeightsChoice:
    """LeNet-5 / TinyVGG trained on the bundled MNIST digits: made on first use, then read from disk."""
    label = "Trained here on MNIST digits"
    path = _demo_file(name)
    if path.exists():
        info = checkpoint_info(path)
        if not info.error:
            return _checkpoint_choice(info, "mnist", label)
    data = load_dataset("mnist")
    config = TrainConfig(model=name, dataset="mnist")
    settings = {"in_channels": 1, "input_size": 28, "num_classes": 10, **config.model_settings()}
    resolved = cnnviz.get_spec(name).resolve(settings)
    note = (f"{name} trained in this app on the {data.size('train'):,} training digits of the bundled MNIST, "
            f"{DEMO_EPOCHS} epochs: made on first use ({'a few seconds' if name == 'lenet5' else 'about half a minute'}), "
            "then kept on disk.")
    return WeightsChoice("mnist", label, True, note, InputSpec(1, 28, 28, data.mean, data.std),
                         tuple(sorted(resolved.items())), tuple(data.classes))


def _train_demo(name: str) -> Path:
    """Train the demo with :class:`cnnviz.train.TrainingRun` and save it as a checkpoint."""
    run = TrainingRun(model=name, dataset="mnist", epochs=DEMO_EPOCHS, seed=0)
    threads = torch.get_num_threads()
    run.threads = 1  # one thread: far quicker than two that fight other work for a small machine's cores
    try:
        run.run()
    finally:
        torch.set_num_threads(threads)
    return save_checkpoint(run, _demo_file(name).stem, folder=_demo_file(name).parent, overwrite=True)


def _checkpoints(name: str) -> list[WeightsChoice]:
    """The Training page's checkpoints of model ``name``, newest first (unreadable files left out)."""
    out = []
    for info in list_checkpoints():
        if info.error or info.model != name:
            continue
        acc = f", {info.test_accuracy:.0%}" if info.test_accuracy is not None else ""
        out.append(_checkpoint_choice(info, f"ckpt:{info.name}", f"Trained here: {info.name} ({info.dataset}{acc})"))
    return out


def unusable_checkpoints(name: str) -> list[CheckpointInfo]:
    """The checkpoint files that cannot be used, for model ``name`` or for none known, with their reasons."""
    return [info for info in list_checkpoints() if info.error and info.model in ("", name)]


def _trained_model(name: str, key: str) -> nn.Module:
    """The model of the demo (trained now if it is not on disk yet) or of checkpoint ``ckpt:<name>``."""
    if key == "mnist":
        path = _demo_file(name)
        if not path.exists() or checkpoint_info(path).error:  # a damaged demo file is made again
            _train_demo(name)
    else:
        path = paths.checkpoint_dir() / f"{key.removeprefix('ckpt:')}.pt"
    return load_checkpoint(path).model


# -- choices and loading ----------------------------------------------------------------------------

def default_input(name: str) -> InputSpec:
    """The preprocessing for random weights: the model's default input, ImageNet or MNIST statistics."""
    c, h, _ = cnnviz.get_spec(name).default_input
    if c == 1:
        pad = 2 if h == 32 else 0  # MNIST's 28x28 in the centre of a 32x32 LeNet input
        return InputSpec(1, h - 2 * pad, h - 2 * pad, MNIST_MEAN, MNIST_STD, pad)
    if c == 3:
        return InputSpec(3, h, h if h < 64 else round(h * 256 / 224), IMAGENET_MEAN, IMAGENET_STD)
    return InputSpec(c, h, h, (0.5,) * c, (0.5,) * c)


def _imagenet_choice(name: str) -> WeightsChoice | None:
    w = _tv_weights(name)
    if w is None:
        return None
    path = imagenet_file(name)
    t = w.transforms()
    spec = InputSpec(3, int(t.crop_size[0]), int(t.resize_size[0]), tuple(t.mean), tuple(t.std))
    return WeightsChoice("imagenet", "ImageNet (torchvision)", bool(path and path.exists()), _imagenet_note(name),
                         spec, tuple(sorted(PRETRAINED_SETTINGS.get(name, {}).items())),
                         tuple(w.meta["categories"]))


def choices(name: str) -> list[WeightsChoice]:
    """The weights that exist or can be made for zoo model ``name``, most useful first."""
    out: list[WeightsChoice] = []
    if name in MNIST_MODELS:
        out.append(_demo_choice(name))
    out.extend(_checkpoints(name))
    imagenet = _imagenet_choice(name)
    if imagenet is not None:
        out.append(imagenet)
    out.append(WeightsChoice("random", "Random (untrained)", True,
                             "random initialisation (seed 0): the filters and maps show what an untrained network "
                             "does; it predicts nothing.", default_input(name)))
    return out


def find(name: str, key: str) -> WeightsChoice:
    """The choice ``key`` of model ``name``; ConfigError naming the others when there is none."""
    known = {c.key: c for c in choices(name)}
    if key not in known:
        raise ConfigError(f"{name} has no weights {key!r}; choose one of {', '.join(known)}")
    return known[key]


def load(name: str, key: str = "random", download: bool = False) -> Loaded:
    """Model ``name`` with weights ``key`` (see :func:`choices`) in eval mode, channels-last memory."""
    choice = find(name, key)
    if key == "random":
        torch.manual_seed(0)
        model = cnnviz.build(name)
    elif key == "imagenet":
        model = cnnviz.build(name, **dict(choice.settings))
        try:
            model.load_state_dict(_imagenet_state(name, download))
        except RuntimeError as exc:
            raise ConfigError(f"torchvision's weights do not fit the zoo's {name}: {str(exc)[:200]}") from None
    else:
        model = _trained_model(name, key)
    # channels-last memory: convolutions run about twice as fast on a CPU
    return Loaded(name, choice, model.eval().to(memory_format=torch.channels_last))
