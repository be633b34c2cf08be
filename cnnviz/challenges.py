"""The network builder's challenges: a target, a start text, a hint and a reference solution each.

A challenge's :meth:`Challenge.check` measures a network text against the target and
answers a :class:`Verdict`: one :class:`Criterion` per condition, measured and compared.
The training challenges need a test accuracy: :meth:`Challenge.train_config` is the recipe
(the bundled MNIST, the training lab's defaults) and :func:`train_and_check` runs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from cnnviz.builder import Description, describe
from cnnviz.train.config import TrainConfig
from cnnviz.zoo.custom import LENET5_TEXT, expand

MNIST = (1, 28, 28)


@dataclass(frozen=True)
class Criterion:
    """One condition of a target: what was measured against what was asked.

    ``ok is None`` when it cannot be measured yet (an accuracy before training).
    """

    label: str
    target: str
    measured: str
    ok: bool | None


@dataclass(frozen=True)
class Verdict:
    """A network text against a challenge: the first problem of the text, or one row per criterion."""

    criteria: tuple[Criterion, ...]
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.ok is True for c in self.criteria)

    @property
    def needs_training(self) -> bool:
        return self.error is None and any(c.ok is None for c in self.criteria)


@dataclass(frozen=True)
class Challenge:
    """A target to reach in the builder.

    ``rules`` measures a valid network (its :class:`Description`) and lists the criteria;
    ``accuracy`` (a fraction) is the test accuracy a training challenge needs, ``image_size``
    the size the digits are resized to for it.
    """

    id: str
    title: str
    prompt: str
    start: str
    input_size: tuple[int, int, int]
    hint: str
    solution: str
    rules: Callable[[Description], list[Criterion]]
    accuracy: float | None = None
    image_size: int | None = None

    @property
    def needs_training(self) -> bool:
        return self.accuracy is not None

    def check(self, text: str, accuracy: float | None = None) -> Verdict:
        """``text`` against the target; ``accuracy`` is its measured test accuracy (training challenges)."""
        d = describe(text, self.input_size)
        if d.error is not None:
            return Verdict((), str(d.error))
        if not d.rows:
            return Verdict((), "the network is empty: add a layer")
        criteria = self.rules(d)
        if self.accuracy is not None:
            measured = "not trained yet" if accuracy is None else f"{accuracy:.1%}"
            criteria.append(Criterion("test accuracy on the bundled MNIST", f"at least {self.accuracy:.1%}",
                                      measured, None if accuracy is None else accuracy >= self.accuracy))
        return Verdict(tuple(criteria))

    def train_config(self, text: str, **changes: Any) -> TrainConfig:
        """How a training challenge trains ``text``: the training lab's default recipe on the bundled MNIST."""
        return TrainConfig(model="custom", settings={"layers": text}, dataset="mnist",
                           image_size=self.image_size).replace(**changes)


def _shape(shape: tuple[int, ...] | None) -> str:
    if shape is None:
        return "none"
    return " x ".join(map(str, (*shape[1:], shape[0]))) if len(shape) == 3 else f"{shape[0]:,} values"


def _classifier(d: Description, classes: int = 10) -> Criterion:
    return Criterion("output", f"{classes} class scores", _shape(d.output_shape), d.output_shape == (classes,))


def _at_most_params(limit: int) -> Callable[[Description], list[Criterion]]:
    def rules(d: Description) -> list[Criterion]:
        return [_classifier(d), Criterion("parameters", f"at most {limit:,}", f"{d.params:,}", d.params <= limit)]
    return rules


def _exact_760(d: Description) -> list[Criterion]:
    return [Criterion("output", "32 x 32 x 10", _shape(d.output_shape), d.output_shape == (10, 32, 32)),
            Criterion("parameters", "exactly 760", f"{d.params:,}", d.params == 760)]


# The broken network: LeNet-5 with C5 as a 5x5 convolution (the paper's reading) fed the 28x28
# digits: S4 is 4x4, too small for C5's 5x5 kernels.
BROKEN_TEXT = "conv(6,5) tanh avgpool(2) conv(16,5) tanh avgpool(2) conv(120,5) tanh fc(84) tanh fc(10)"


def _fixed(d: Description) -> list[Criterion]:
    convs = [(r.spec.get("C"), r.spec.get("K")) for r in d.rows if r.spec.kind == "conv"]
    return [_classifier(d),
            Criterion("convolutions", "C1, C3, C5 kept: 6, 16 and 120 filters of 5x5",
                      ", ".join(f"{c} of {k}x{k}" if isinstance(k, int) else f"{c} of {k[0]}x{k[1]}" for c, k in convs)
                      or "none", convs == [(6, 5), (16, 5), (120, 5)])]


RF_TARGET = 28
RF_LAYERS = 4


def _rf(d: Description) -> list[Criterion]:
    kinds = [s.kind for _, s in expand(d.layers)]
    convs = [r for r in d.rows if r.spec.kind == "conv"]
    only_3x3 = all(r.spec.kind in ("conv", "relu", "bn", "tanh", "sigmoid", "leakyrelu") for r in d.rows) \
        and all(r.spec.get("K") in (3, (3, 3)) for r in convs)
    other = sorted({k for k in kinds if k not in ("conv", "relu", "bn", "tanh", "sigmoid", "leakyrelu")})
    rf = d.rows[-1].rf
    size = min(rf) if isinstance(rf, list) else rf if isinstance(rf, int) else None
    return [Criterion("layers", "3x3 convolutions only (and activations or batch norm)",
                      "yes" if only_3x3 else f"also {', '.join(other) or 'other kernels'}", only_3x3),
            Criterion("receptive field", f"at least {RF_TARGET} x {RF_TARGET} px",
                      f"{rf} px" if size is not None else str(rf), size is not None and size >= RF_TARGET),
            Criterion("convolutions", f"at most {RF_LAYERS}", str(len(convs)), 0 < len(convs) <= RF_LAYERS)]


# LeNet-5 (the 1998 text) trained with the training lab's default recipe on the bundled MNIST
# resized to 32x32, as the paper fed its digits (seed 0): a slow test checks it still does.
LENET5_PARAMS = 61_706
LENET5_ACCURACY = 0.974

CHALLENGES: tuple[Challenge, ...] = (
    Challenge(
        id="exact-760",
        title="Exactly 760 parameters",
        prompt="Turn a 32 x 32 x 3 image into 32 x 32 x 10 maps with exactly 760 parameters.",
        start="conv(10,3,padding=same)",
        input_size=(3, 32, 32),
        hint="A convolution has (K x K x input channels + 1) x filters parameters: solve for K with 3 input "
             "channels and 10 filters, and pad so that the size stays 32 x 32.",
        solution="conv(10,5,padding=same)",
        rules=_exact_760,
    ),
    Challenge(
        id="fix-broken",
        title="Fix the broken network",
        prompt="This LeNet-5 reads C5 as a 5x5 convolution, as the 1998 paper does, but it cannot run on the "
               "28 x 28 MNIST digits. Make it run, keeping its three convolutions (6, 16 and 120 filters of 5x5).",
        start=BROKEN_TEXT,
        input_size=MNIST,
        hint="Follow the shapes: S4 is 4 x 4, too small for C5's 5x5 kernels. The paper fed 32 x 32 images: "
             "pad the 28 x 28 digits by 2 pixels on each side in the first convolution.",
        solution="conv(6,5,padding=2) tanh avgpool(2) conv(16,5) tanh avgpool(2) conv(120,5) tanh fc(84) tanh "
                 "fc(10)",
        rules=_fixed,
    ),
    Challenge(
        id="receptive-field",
        title=f"A {RF_TARGET}-pixel receptive field",
        prompt=f"Using only 3x3 convolutions (activations and batch norm allowed), reach a receptive field of at "
               f"least {RF_TARGET} x {RF_TARGET} px on a 32 x 32 image. How few layers does it take? The target: "
               f"{RF_LAYERS} or fewer.",
        start="conv(8,3) relu conv(8,3) relu",
        input_size=(1, 32, 32),
        hint="At stride 1 each 3x3 layer adds 2 pixels: 14 layers. A layer adds 2 x its jump (the distance "
             "between neighbouring units in input pixels), and a stride multiplies the jump of every later layer.",
        solution="conv(8,3,stride=2) relu conv(16,3,stride=2) relu conv(32,3,stride=2) relu conv(64,3,stride=2)",
        rules=_rf,
    ),
    Challenge(
        id="small-mnist",
        title="97% with 10,000 parameters",
        prompt="Design a network of at most 10,000 parameters that reaches at least 97% test accuracy on the "
               "bundled MNIST (28 x 28 digits). LeNet-5 on these digits has 44,426.",
        start=LENET5_TEXT,
        input_size=MNIST,
        hint="The fully connected layers hold most of LeNet-5's parameters. Pool more before the first fc, or "
             "go straight from the last pooling to fc(10); batch norm and ReLU make a small network train fast.",
        solution="conv(8,5) bn relu maxpool(2) conv(16,5) bn relu maxpool(2) fc(10)",
        rules=_at_most_params(10_000),
        accuracy=0.97,
    ),
    Challenge(
        id="halve-lenet",
        title="Half of LeNet-5",
        prompt=f"LeNet-5 has {LENET5_PARAMS:,} parameters and reaches {LENET5_ACCURACY:.1%} on the bundled MNIST "
               f"(resized to 32 x 32, as in the paper). Halve its parameters and lose at most 1 point of accuracy.",
        start=LENET5_TEXT,
        input_size=(1, 32, 32),
        hint="fc(120) alone has 48,120 of the 61,706 parameters: its 400 inputs times 120 outputs. "
             "Narrow it, or pool the 16 maps further before it.",
        solution="conv(6,5) tanh avgpool(2) conv(16,5) tanh avgpool(2) fc(60) tanh fc(10)",
        rules=_at_most_params(LENET5_PARAMS // 2),
        accuracy=round(LENET5_ACCURACY - 0.01, 3),
        image_size=32,
    ),
)


def get_challenge(challenge_id: str) -> Challenge:
    """The challenge with this id; :class:`KeyError` names the ids if there is none."""
    for c in CHALLENGES:
        if c.id == challenge_id:
            return c
    raise KeyError(f"no challenge {challenge_id!r}; the challenges are: {', '.join(c.id for c in CHALLENGES)}")


def train_and_check(challenge: Challenge, text: str, **changes: Any) -> Verdict:
    """Train ``text`` with the challenge's recipe (blocking) and check it with the test accuracy."""
    from cnnviz.train import TrainingRun

    verdict = challenge.check(text)
    if verdict.error is not None or not challenge.needs_training:
        return verdict
    result = TrainingRun(challenge.train_config(text, **changes)).run().result
    if result is None:
        raise RuntimeError("the training run ended without a test result")
    return challenge.check(text, result.test_accuracy)
