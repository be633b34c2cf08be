"""Data augmentation: every method of the course as a ``torchvision.transforms.v2`` pipeline.

A pipeline is a list of :class:`Step` (a method of :data:`METHODS` and its parameters),
fitted to an image size by :class:`Pipeline`; the same description gives the transform
object and its Python code, so the code shown to students is exactly what runs::

    from cnnviz import augment
    pipe = augment.Pipeline([augment.step("flip"), augment.step("rotate", degrees=20)], size=(28, 28))
    out = augment.apply(pipe.transform(), image, seed=0)      # reproducible
    print(augment.pipeline_code(pipe))                        # torchvision.transforms.v2 code

Sizes are given relative to the image (e.g. pad by 1/8 of the side) and turned into pixels
for the pipeline's ``size``, so one recipe fits a 28x28 digit and a 512x512 photo. Every
method keeps the image's shape and dtype, as a network's fixed input size requires.

Two methods are not in torchvision and are written here as v2 transforms:
:class:`ChannelShift` (colour shifting) and :class:`PCAColorAugmentation` (AlexNet's
"fancy PCA", Krizhevsky et al., 2012).
"""
from __future__ import annotations

import contextlib
import enum
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from cnnviz.errors import ConfigError

BILINEAR = v2.InterpolationMode.BILINEAR


# ---------------------------------------------------------------------------------------------
# The two transforms torchvision does not have. They use only torch / torchvision / PIL names,
# so pipeline_code can paste their source into a self-contained snippet.
# ---------------------------------------------------------------------------------------------
def add_offset(inpt, offset):
    """Add ``offset`` (one value per channel, in [0, 1] units) to an image and clamp.

    Works on float tensors in [0, 1], uint8 tensors in [0, 255] (offset x 255) and PIL images;
    keeps the type, shape and dtype.
    """
    if isinstance(inpt, PIL.Image.Image):
        return F.to_pil_image(add_offset(F.pil_to_tensor(inpt), offset))
    if inpt.shape[-3] != offset.numel():
        raise ValueError(f"{offset.numel()} channel offsets for an image with {inpt.shape[-3]} channels")
    shift = offset.reshape(-1, 1, 1)
    if inpt.dtype == torch.uint8:
        out = (inpt.float() + shift * 255).round().clamp(0, 255).to(torch.uint8)
    else:
        out = (inpt + shift.to(inpt.dtype)).clamp(0, 1)
    return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out


class ChannelShift(v2.Transform):
    """Colour shifting: add a random offset, uniform in [-shift, shift], to each channel.

    One offset per channel per call (``shift`` in [0, 1] units: 0.1 is 25 of 255 levels).
    """

    def __init__(self, shift=0.1):
        super().__init__()
        self.shift = float(shift)

    def make_params(self, flat_inputs):
        channels = F.get_dimensions(flat_inputs[0])[0]
        return {"offset": (torch.rand(channels) * 2 - 1) * self.shift}

    def transform(self, inpt, params):
        if isinstance(inpt, tv_tensors.TVTensor) and not isinstance(inpt, tv_tensors.Image):
            return inpt
        return add_offset(inpt, params["offset"])


class PCAColorAugmentation(v2.Transform):
    """AlexNet's PCA colour augmentation (Krizhevsky et al., 2012, section 4.1).

    To every RGB pixel add ``[p1 p2 p3] [a1*l1, a2*l2, a3*l3]^T`` where ``p_i`` and ``l_i`` are
    the eigenvectors (columns of ``eigenvectors``) and eigenvalues of the dataset's 3x3 RGB
    covariance (pixel values in [0, 1]) and ``a_i ~ N(0, sigma)`` is drawn once per call:
    the colour of the light changes, the object does not.
    """

    def __init__(self, eigenvalues, eigenvectors, sigma=0.1):
        super().__init__()
        self.eigenvalues = torch.as_tensor(eigenvalues, dtype=torch.float32).reshape(3)
        self.eigenvectors = torch.as_tensor(eigenvectors, dtype=torch.float32).reshape(3, 3)
        self.sigma = float(sigma)

    def make_params(self, flat_inputs):
        alpha = torch.randn(3) * self.sigma
        return {"offset": self.eigenvectors @ (alpha * self.eigenvalues)}

    def transform(self, inpt, params):
        if isinstance(inpt, tv_tensors.TVTensor) and not isinstance(inpt, tv_tensors.Image):
            return inpt
        return add_offset(inpt, params["offset"])


CUSTOM: dict[str, type[v2.Transform]] = {"ChannelShift": ChannelShift, "PCAColorAugmentation": PCAColorAugmentation}


# ---------------------------------------------------------------------------------------------
# PCA of the RGB values
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PCAStats:
    """The RGB statistics of a set of images (values in [0, 1]).

    ``eigenvectors[:, i]`` is the i-th principal direction; eigenvalues are in decreasing order.
    """

    mean: torch.Tensor  # (3,)
    covariance: torch.Tensor  # (3, 3)
    eigenvalues: torch.Tensor  # (3,)
    eigenvectors: torch.Tensor  # (3, 3), columns
    pixels: int

    @property
    def explained(self) -> torch.Tensor:
        """The share of the colour variance along each principal direction."""
        return self.eigenvalues / self.eigenvalues.sum().clamp_min(1e-12)


def as_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [0, 1]; float images are returned as float32."""
    return images.float() / 255 if images.dtype == torch.uint8 else images.float()


def fit_pca(images: torch.Tensor | Sequence[torch.Tensor]) -> PCAStats:
    """Eigen-decomposition of the 3x3 covariance of all RGB pixels of ``images``.

    ``images``: one (3, H, W) image, a batch (N, 3, H, W), or a list of (3, H, W) images of
    any sizes; uint8 or float in [0, 1]. Computed in float64, as ``numpy.cov`` + ``eigh``.
    """
    items = [images] if isinstance(images, torch.Tensor) and images.dim() == 3 else list(images)
    if not items:
        raise ConfigError("PCA colour augmentation needs at least one image")
    if any(t.dim() != 3 or t.shape[0] != 3 for t in items):
        raise ConfigError("PCA colour augmentation needs colour (RGB) images; this one is grey")
    pixels = torch.cat([as_float(t).reshape(3, -1) for t in items], dim=1).double()
    if pixels.shape[1] < 2:
        raise ConfigError("PCA colour augmentation needs at least two pixels")
    mean = pixels.mean(dim=1)
    centred = pixels - mean[:, None]
    cov = centred @ centred.T / (pixels.shape[1] - 1)
    values, vectors = torch.linalg.eigh(cov)
    order = torch.argsort(values, descending=True)
    values, vectors = values[order].clamp_min(0), vectors[:, order]
    vectors = vectors * torch.where(vectors.sum(dim=0) < 0, -1.0, 1.0)  # a sign that reads well
    return PCAStats(mean.float(), cov.float(), values.float(), vectors.float(), pixels.shape[1])


# ---------------------------------------------------------------------------------------------
# The methods, their parameters and the v2 calls they make
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One parameter of a method: a number in [lo, hi] or one of ``choices``."""

    name: str
    label: str
    default: Any
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    help: str = ""
    choices: tuple[str, ...] = ()

    def check(self, value: Any) -> Any:
        """``value`` converted to the parameter's type, or a :class:`ConfigError`."""
        if self.choices:
            if value not in self.choices:
                raise ConfigError(f"{self.label}: choose one of {', '.join(self.choices)}, not {value!r}")
            return value
        kind = int if isinstance(self.default, int) and not isinstance(self.default, bool) else float
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{self.label}: {value!r} is not a number") from None
        if number != number or (self.lo is not None and number < self.lo) or (self.hi is not None and number > self.hi):
            raise ConfigError(f"{self.label}: {number} is outside {self.lo} to {self.hi}")
        return number


@dataclass(frozen=True)
class Call:
    """One v2 transform: its class name (in ``v2`` or :data:`CUSTOM`) and keyword arguments."""

    cls: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self) -> v2.Transform:
        return (CUSTOM.get(self.cls) or getattr(v2, self.cls))(**self.kwargs)

    def code(self) -> str:
        prefix = "" if self.cls in CUSTOM else "v2."
        return f"{prefix}{self.cls}({', '.join(f'{k}={_literal(v)}' for k, v in self.kwargs.items())})"


@dataclass(frozen=True)
class Context:
    """What a method needs to know to make its calls: the image size and channels, the PCA stats."""

    size: tuple[int, int]
    channels: int
    pca: PCAStats | None


@dataclass(frozen=True)
class Method:
    """An augmentation of the course: what it is called there, what it does, its parameters."""

    key: str
    title: str
    explain: str
    params: tuple[Param, ...]
    make: Callable[[dict[str, Any], Context], list[Call]]
    colour: bool = False  # needs (or only makes sense for) colour images

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


def _px(fraction: float, side: int) -> int:
    return max(0, round(fraction * side))


def _size(ctx: Context) -> list[int]:
    return [ctx.size[0], ctx.size[1]]


def _flip(p: dict, ctx: Context) -> list[Call]:
    calls = []
    if p["horizontal"] > 0:
        calls.append(Call("RandomHorizontalFlip", {"p": p["horizontal"]}))
    if p["vertical"] > 0:
        calls.append(Call("RandomVerticalFlip", {"p": p["vertical"]}))
    return calls


def _crop(p: dict, ctx: Context) -> list[Call]:
    pad = _px(p["padding"], min(ctx.size))
    return [Call("RandomCrop", {"size": _size(ctx), "padding": pad, "padding_mode": p["padding_mode"]})]


def _scale(p: dict, ctx: Context) -> list[Call]:
    lo, hi = sorted((p["scale_min"], p["scale_max"]))
    return [Call("RandomAffine", {"degrees": 0, "scale": (lo, hi), "interpolation": BILINEAR})]


def _resized_crop(p: dict, ctx: Context) -> list[Call]:
    r = p["ratio"]
    return [Call("RandomResizedCrop", {"size": _size(ctx), "scale": (p["area_min"], 1.0),
                                       "ratio": (round(1 / r, 4), r), "antialias": True})]


def _pad(p: dict, ctx: Context) -> list[Call]:
    pad = _px(p["padding"], min(ctx.size))
    return [Call("Pad", {"padding": pad, "padding_mode": p["padding_mode"]}),
            Call("Resize", {"size": _size(ctx), "antialias": True})]


def _rotate(p: dict, ctx: Context) -> list[Call]:
    return [Call("RandomRotation", {"degrees": p["degrees"], "interpolation": BILINEAR})]


def _shear(p: dict, ctx: Context) -> list[Call]:
    sx, sy = p["shear_x"], p["shear_y"]
    shear = (-sx, sx, -sy, sy) if sy else (-sx, sx)
    return [Call("RandomAffine", {"degrees": 0, "shear": shear, "interpolation": BILINEAR})]


def _affine(p: dict, ctx: Context) -> list[Call]:
    t, s = p["translate"], p["scale"]
    return [Call("RandomAffine", {"degrees": p["degrees"], "translate": (t, t),
                                  "scale": (round(1 - s, 4), round(1 + s, 4)),
                                  "shear": p["shear"], "interpolation": BILINEAR})]


def _elastic(p: dict, ctx: Context) -> list[Call]:
    return [Call("ElasticTransform", {"alpha": p["alpha"], "sigma": p["sigma"]})]


def _colour_shift(p: dict, ctx: Context) -> list[Call]:
    return [Call("ChannelShift", {"shift": p["shift"]})]


def _brightness_contrast(p: dict, ctx: Context) -> list[Call]:
    return [Call("ColorJitter", {"brightness": p["brightness"], "contrast": p["contrast"]})]


def _saturation_hue(p: dict, ctx: Context) -> list[Call]:
    return [Call("ColorJitter", {"saturation": p["saturation"], "hue": p["hue"]})]


def _grayscale(p: dict, ctx: Context) -> list[Call]:
    return [Call("RandomGrayscale", {"p": p["p"]})]


def _pca_colour(p: dict, ctx: Context) -> list[Call]:
    if ctx.channels != 3:
        raise ConfigError("PCA colour augmentation needs colour (RGB) images; these are grey")
    if ctx.pca is None:
        raise ConfigError("PCA colour augmentation needs the dataset's RGB statistics: fit them with fit_pca")
    return [Call("PCAColorAugmentation", {"eigenvalues": ctx.pca.eigenvalues, "eigenvectors": ctx.pca.eigenvectors,
                                          "sigma": p["sigma"]})]


_PAD_MODES = ("constant", "edge", "reflect", "symmetric")


def _padding_params(fill: str, tip: str = "") -> tuple[Param, Param]:
    """The border of cropping and padding: its width (a fraction of the shorter side) and its fill."""
    return (Param("padding", "Padding (fraction of the side)", 0.125, 0.0, 0.5, 0.025, tip),
            Param("padding_mode", "Padding fill", fill, choices=_PAD_MODES))


METHODS: dict[str, Method] = {m.key: m for m in (
    Method("flip", "Mirroring / flipping",
           "Mirror the image left-right (and, rarely useful for photos, upside down) at random.",
           (Param("horizontal", "Left-right probability", 0.5, 0.0, 1.0, 0.05),
            Param("vertical", "Up-down probability", 0.0, 0.0, 1.0, 0.05)), _flip),
    Method("crop", "Random cropping",
           "Pad the image, then cut a window of the original size at a random place (AlexNet cut 224x224 "
           "windows out of 256x256 images; CIFAR networks pad 4 pixels and crop 32x32).",
           _padding_params("constant", "4/32 = 0.125 is the CIFAR recipe"), _crop),
    Method("scale", "Scaling",
           "Zoom in or out around the centre by a random factor; the size of the picture stays the same.",
           (Param("scale_min", "Smallest factor", 0.8, 0.3, 1.0, 0.05),
            Param("scale_max", "Largest factor", 1.2, 1.0, 3.0, 0.05)), _scale),
    Method("resized_crop", "Crop after resize (RandomResizedCrop)",
           "Cut a random piece (a share of the area and an aspect ratio) and resize it to the full size: "
           "the Inception / ResNet training recipe, cropping and scaling in one.",
           (Param("area_min", "Smallest share of the area", 0.35, 0.05, 1.0, 0.05, "ImageNet training uses 0.08"),
            Param("ratio", "Largest aspect ratio", 1.3333, 1.0, 2.0, 0.05, "ratios from 1/r to r")), _resized_crop),
    Method("pad", "Padding",
           "Add a border (zeros, copied edge pixels, or a mirror of the inside) and resize back to the "
           "original size: the picture shrinks inside its frame. Not random: every sample is the same.",
           _padding_params("reflect"), _pad),
    Method("rotate", "Rotation", "Rotate by a random angle in [-degrees, degrees]; corners are filled with black.",
           (Param("degrees", "Largest angle (degrees)", 20.0, 0.0, 180.0, 1.0),), _rotate),
    Method("shear", "Shearing", "Slant the image sideways (x) and/or up-down (y) by a random angle.",
           (Param("shear_x", "Largest x shear (degrees)", 20.0, 0.0, 60.0, 1.0),
            Param("shear_y", "Largest y shear (degrees)", 0.0, 0.0, 60.0, 1.0)), _shear),
    Method("affine", "Affine transformation",
           "Rotation, translation, scaling and shearing at once: straight lines stay straight, parallel "
           "lines stay parallel.",
           (Param("degrees", "Largest angle (degrees)", 10.0, 0.0, 180.0, 1.0),
            Param("translate", "Largest shift (fraction of the side)", 0.1, 0.0, 0.5, 0.01),
            Param("scale", "Scale change (+/-)", 0.1, 0.0, 0.9, 0.05),
            Param("shear", "Largest shear (degrees)", 10.0, 0.0, 60.0, 1.0)), _affine),
    Method("elastic", "Local (elastic) warping",
           "Move every pixel by a smooth random displacement field (Simard et al., 2003): strokes bend "
           "as in another person's handwriting. alpha = strength, sigma = smoothness.",
           (Param("alpha", "Strength alpha", 50.0, 0.0, 250.0, 5.0),
            Param("sigma", "Smoothness sigma", 5.0, 0.5, 20.0, 0.5)), _elastic),
    Method("colour_shift", "Colour shifting",
           "Add a random amount to each of R, G and B: the picture looks the same to a person but its "
           "numbers are different for the network.",
           (Param("shift", "Largest shift per channel (of 1.0)", 0.1, 0.0, 0.5, 0.01),), _colour_shift),
    Method("brightness_contrast", "Brightness and contrast",
           "Multiply the brightness by a random factor in [1 - b, 1 + b] and move the contrast likewise.",
           (Param("brightness", "Brightness b", 0.4, 0.0, 1.0, 0.05),
            Param("contrast", "Contrast c", 0.4, 0.0, 1.0, 0.05)), _brightness_contrast),
    Method("saturation_hue", "Saturation and hue",
           "Make colours more or less vivid (saturation) and turn the colour wheel (hue, up to 0.5 of a turn).",
           (Param("saturation", "Saturation s", 0.6, 0.0, 1.0, 0.05),
            Param("hue", "Hue h (turns)", 0.1, 0.0, 0.5, 0.01)), _saturation_hue, colour=True),
    Method("grayscale", "Grayscale", "Drop the colour with probability p (the output keeps its 3 channels).",
           (Param("p", "Probability", 0.5, 0.0, 1.0, 0.05),), _grayscale, colour=True),
    Method("pca_colour", "PCA colour augmentation (AlexNet)",
           "Shift all pixels along the principal directions of the dataset's RGB colours, by amounts "
           "proportional to their eigenvalues: the shift PCA 'decides automatically'.",
           (Param("sigma", "sigma of alpha", 0.1, 0.0, 5.0, 0.05, "AlexNet used 0.1; more exaggerates the shift"),),
           _pca_colour, colour=True),
)}


@dataclass(frozen=True)
class Step:
    """A method of :data:`METHODS` with its (checked) parameters."""

    method: str
    params: dict[str, Any]

    @property
    def spec(self) -> Method:
        return METHODS[self.method]

    def label(self) -> str:
        values = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.spec.title} ({values})" if values else self.spec.title


def step(method: str, **params: Any) -> Step:
    """A :class:`Step` with the method's defaults for the parameters not given."""
    if method not in METHODS:
        raise ConfigError(f"unknown augmentation {method!r}; choose one of {', '.join(METHODS)}")
    spec = METHODS[method]
    names = {p.name: p for p in spec.params}
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ConfigError(f"{spec.title} has no parameter {unknown[0]!r}; it has {', '.join(names) or 'none'}")
    return Step(method, {name: p.check(params.get(name, p.default)) for name, p in names.items()})


@dataclass(frozen=True)
class Pipeline:
    """Steps applied in order to images of ``size`` (H, W) with ``channels`` channels.

    ``pca`` holds the RGB statistics that the PCA colour step uses.
    """

    steps: Sequence[Step]
    size: tuple[int, int]
    channels: int = 3
    pca: PCAStats | None = None

    def calls(self) -> list[Call]:
        ctx = Context((int(self.size[0]), int(self.size[1])), self.channels, self.pca)
        if min(ctx.size) < 2:
            raise ConfigError(f"images of {ctx.size[0]}x{ctx.size[1]} pixels are too small to augment")
        return [call for s in self.steps for call in s.spec.make(s.params, ctx)]

    def transform(self) -> v2.Compose:
        """The pipeline as one ``v2.Compose`` (of ``v2.Identity()`` when it has no steps)."""
        return v2.Compose([call.build() for call in self.calls()] or [v2.Identity()])


def _literal(value: Any) -> str:
    """Python source for a transform argument."""
    if isinstance(value, torch.Tensor):
        return _literal([round(float(v), 6) for v in value.flatten()] if value.dim() <= 1
                        else [[round(float(v), 6) for v in row] for row in value])
    if isinstance(value, enum.Enum):
        return f"v2.{type(value).__name__}.{value.name}"
    if isinstance(value, float):
        return repr(round(value, 6))
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_literal(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return repr(value)


def pipeline_code(pipeline: Pipeline) -> str:
    """The pipeline as self-contained ``torchvision.transforms.v2`` Python code.

    The custom transforms it uses (colour shifting, PCA colour augmentation) are included
    as source, so the snippet runs without cnnviz.
    """
    calls = pipeline.calls()
    lines = ["import torch", "from torchvision.transforms import v2"]
    custom = [c for c in CUSTOM if any(call.cls == c for call in calls)]
    if custom:
        lines += ["import PIL.Image", "from torchvision import tv_tensors",
                  "from torchvision.transforms.v2 import functional as F", "", "",
                  inspect.getsource(add_offset).rstrip()]
        for name in custom:
            lines += ["", "", inspect.getsource(CUSTOM[name]).rstrip()]
        lines += ["", ""]
    else:
        lines.append("")
    body = "".join(f"    {call.code()},\n" for call in calls) or "    v2.Identity(),\n"
    lines.append(f"augment = v2.Compose([\n{body}])")
    h, w = pipeline.size
    lines.append(f"# augmented = augment(image)  # image: a ({pipeline.channels}, {h}, {w}) uint8 tensor, "
                 "a float tensor in [0, 1] or a PIL image")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Applying transforms reproducibly
# ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with torch's CPU random generator seeded, restoring its state after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def apply(transform: Callable[[Any], Any], image: Any, seed: int) -> Any:
    """``transform(image)`` with its randomness fixed by ``seed``."""
    with seeded(seed):
        return transform(image)


def samples(transform: Callable[[Any], Any], image: Any, n: int, seed: int) -> list[Any]:
    """``n`` random results of ``transform`` on one image, the same for the same ``seed``."""
    with seeded(seed):
        return [transform(image) for _ in range(n)]


def augment_batch(transform: Callable[[Any], Any], images: torch.Tensor, seed: int | None = None) -> torch.Tensor:
    """Each image of an (N, C, H, W) batch with its own random draw (v2 on a batch draws once)."""
    context = seeded(seed) if seed is not None else contextlib.nullcontext()
    with context:
        return torch.stack([transform(img) for img in images])


def to_tensor(img: PIL.Image.Image) -> torch.Tensor:
    """A PIL image -> (C, H, W) uint8 tensor."""
    return F.pil_to_tensor(img)


# ---------------------------------------------------------------------------------------------
# With and without: the same small network trained on the same few images
# ---------------------------------------------------------------------------------------------
RECOMMENDED: dict[str, tuple[Step, ...]] = {
    # digits: small shifts, turns and warps keep a digit the same digit; a mirror would not
    "mnist": (Step("affine", {"degrees": 10.0, "translate": 0.1, "scale": 0.1, "shear": 10.0}),
              Step("elastic", {"alpha": 30.0, "sigma": 4.0})),
    "digits8x8": (Step("affine", {"degrees": 10.0, "translate": 0.12, "scale": 0.1, "shear": 5.0}),),
    # shapes and textures: mirrors, crops and colour changes keep the class
    "cifar_standin": (Step("flip", {"horizontal": 0.5, "vertical": 0.0}),
                      Step("crop", {"padding": 0.125, "padding_mode": "constant"}),
                      Step("brightness_contrast", {"brightness": 0.3, "contrast": 0.3})),
}
