"""Input images for the inspection tools: bundled photos and digits, uploads, preprocessing.

Every image is a PIL image in mode ``RGB`` or ``L``. :func:`decode_upload` turns any
user bytes into one (or raises :class:`ConfigError` with a message to show as is);
:func:`preprocess` takes it to the tensor a model expects and returns every stage
on the way (convert, resize, crop, scale to [0, 1], normalise) so a page can show them.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps

from cnnviz.data.preprocess import IMAGENET_MEAN, IMAGENET_STD
from cnnviz.errors import ConfigError

MAX_UPLOAD_MB = 20
"""The upload limit in MB of 2**20 bytes: the uploader's "Limit 20MB" counts the same way."""
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 2**20
MAX_UPLOAD_PIXELS = 25_000_000
"""Decoded pixels an upload may have (a 6000x4000 photo has 24M), checked on the header before decoding."""
MAX_ASPECT = 10
"""Longer side over shorter side: a 10000x10 strip would become 256000x256 once its short side is resized."""
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
# skimage.data images shipped inside the package (no download).
PHOTOS: dict[str, str] = {
    "chelsea": "Chelsea the cat",
    "astronaut": "Astronaut Eileen Collins",
    "coffee": "A cup of coffee",
    "rocket": "A rocket on the launch pad",
    "camera": "A cameraman (grey)",
    "coins": "Old coins (grey)",
}
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)


def photo(name: str) -> Image.Image:
    """One of the bundled :data:`PHOTOS`."""
    if name not in PHOTOS:
        raise ConfigError(f"unknown photo {name!r}; choose one of {', '.join(PHOTOS)}")
    import skimage.data

    return Image.fromarray(np.asarray(getattr(skimage.data, name)()))


def mnist_count() -> int:
    """How many held-out MNIST test digits :func:`mnist_digit` can show."""
    from cnnviz.data import load_dataset

    return load_dataset("mnist").size("test")


def mnist_digit(index: int) -> tuple[Image.Image, int]:
    """Held-out test digit number ``index`` of the bundled MNIST (white on black, 28x28) and its label.

    These digits are never seen by training (:mod:`cnnviz.data` keeps the test split apart).
    """
    from cnnviz.data import load_dataset

    data = load_dataset("mnist")
    n = data.size("test")
    if not 0 <= index < n:
        raise ConfigError(f"MNIST digit {index}: choose a number from 0 to {n - 1}")
    pixels = data.images["test"][index, 0].numpy()
    return Image.fromarray(pixels, mode="L"), int(data.labels["test"][index])


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """Composite a transparent image onto white."""
    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit or float grey -> 8-bit grey, scaled by the image's own range (float32, scaled in place)."""
    arr = np.asarray(img, dtype=np.float32)
    lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo:
        return Image.new("L", img.size)
    arr -= lo
    arr *= 255 / (hi - lo)
    return Image.fromarray(arr.round().astype(np.uint8), mode="L")


def normalise_mode(img: Image.Image) -> Image.Image:
    """Any PIL image -> ``RGB`` or ``L`` (alpha on white, CMYK/palette/YCbCr to RGB, 16-bit scaled)."""
    mode = img.mode
    if mode in ("RGB", "L"):
        return img
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        return _flatten_alpha(img)
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _to_8bit(img)
    if mode == "1":
        return img.convert("L")
    return img.convert("RGB")


def _size_text(w: int, h: int) -> str:
    return f"{w:,}x{h:,} pixels"


def probe(data: bytes, name: str = "upload", max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[str, int, int]:
    """Format, width and height of user bytes, read from the header only; ConfigError when they are refused.

    Refuses files above ``max_bytes``, other formats, bytes that are not an image, and images
    over the pixel budget (:data:`MAX_UPLOAD_PIXELS`, or Pillow's ``MAX_IMAGE_PIXELS`` when
    lower) or more elongated than :data:`MAX_ASPECT`: nothing is decoded yet.
    """
    if len(data) > max_bytes:
        raise ConfigError(f"{name}: the file is {len(data) / 2**20:.1f} MB; the limit is "
                          f"{max_bytes / 2**20:.0f} MB. Use a smaller image.")
    if not data:
        raise ConfigError(f"{name}: the file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own budget is checked below
            img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ConfigError(f"{name}: the image is too large to decode safely (more than "
                          f"{Image.MAX_IMAGE_PIXELS:,} pixels).") from None
    except Image.UnidentifiedImageError:
        raise ConfigError(f"{name}: this is not an image file (or not one of "
                          f"{', '.join(FORMATS)}).") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ConfigError(f"{name}: the image could not be read (is the file complete?): {exc}") from None
    if img.format not in FORMATS and img.format != "MPO":
        raise ConfigError(f"{name}: {img.format} images are not supported; use "
                          f"{', '.join(FORMATS[:-1])} or {FORMATS[-1]}.")
    w, h = img.size
    limit = min(MAX_UPLOAD_PIXELS, Image.MAX_IMAGE_PIXELS or MAX_UPLOAD_PIXELS)
    if w * h > limit:
        raise ConfigError(f"{name}: the image is {_size_text(w, h)} ({w * h / 1e6:,.1f} million), too large to "
                          f"decode safely: the limit is {limit / 1e6:,.1f} million pixels. Use a smaller image.")
    if min(w, h) < 1 or max(w, h) > MAX_ASPECT * min(w, h):
        raise ConfigError(f"{name}: the image is {_size_text(w, h)}, {max(w, h) / max(1, min(w, h)):,.0f} times "
                          f"longer than wide; the limit is {MAX_ASPECT}:1. Crop it to a less elongated picture.")
    return str(img.format), w, h


def _shrunk_size(w: int, h: int, shorter: int | None) -> tuple[int, int]:
    """(w, h) scaled down so that the shorter side is ``shorter`` (never up)."""
    if shorter is None or min(w, h) <= shorter:
        return w, h
    scale = shorter / min(w, h)
    return max(shorter, round(w * scale)), max(shorter, round(h * scale))


def decode_upload(data: bytes, name: str = "upload", max_bytes: int = MAX_UPLOAD_BYTES,
                  shorter: int | None = None) -> Image.Image:
    """Decode user bytes (PNG, JPEG, WebP, BMP, GIF's first frame) into an ``RGB`` or ``L`` image.

    :func:`probe` checks the header first (size, format, pixel and aspect budgets), so nothing
    big is decoded for a refused file. With ``shorter``, the image comes back shrunk so that its
    shorter side is at most ``shorter`` pixels: JPEGs are decoded at a reduced scale directly,
    and the full-size copy is dropped before the colour conversion. Raises :class:`ConfigError`
    for refused, broken or cut-short files.
    """
    fmt, w, h = probe(data, name, max_bytes)
    target = _shrunk_size(w, h, shorter)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # probe() checked the budget
            img = Image.open(io.BytesIO(data))
            img.seek(0)
            if fmt in ("JPEG", "MPO") and target != (w, h):
                img.draft(img.mode if img.mode in ("RGB", "L") else "RGB", target)
            img.load()
            img = ImageOps.exif_transpose(img) or img
            if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
                img = img.convert("I")
            if img.mode == "P":
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
            target = _shrunk_size(img.width, img.height, shorter)
            if target != img.size:
                img = img.resize(target, Image.BILINEAR, reducing_gap=2.0)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ConfigError(f"{name}: the image could not be decoded (is the file complete?): {exc}") from None
    return normalise_mode(img.copy())


@dataclass(frozen=True)
class InputSpec:
    """What a model expects: channels, resize (shorter side), centre crop, zero padding, mean/std."""

    channels: int
    size: int
    resize: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    pad: int = 0

    @property
    def input_shape(self) -> tuple[int, int, int]:
        side = self.size + 2 * self.pad
        return self.channels, side, side


@dataclass(frozen=True)
class Stage:
    """One preprocessing step: a title, what it did, and the picture after it (floats in [0, 1])."""

    title: str
    detail: str
    image: np.ndarray


@dataclass(frozen=True)
class Prepared:
    """The result of :func:`preprocess`: the model input, the stages, and the picture the model sees."""

    tensor: torch.Tensor
    stages: tuple[Stage, ...]
    shown: np.ndarray


def _array(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32) / 255.0


def fit_digit(img: Image.Image) -> Image.Image:
    """MNIST-style: the digit's bounding box scaled to fit 20x20, centred by its mass in 28x28.

    Expects white ink on black (invert first if the background is light).
    """
    arr = np.asarray(img, dtype=np.float32)
    ys, xs = np.nonzero(arr > 0.1 * arr.max()) if arr.max() > 0 else ((), ())
    if len(ys) == 0:
        return Image.new("L", (28, 28))
    box = img.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    scale = 20 / max(box.size)
    box = box.resize((max(1, round(box.width * scale)), max(1, round(box.height * scale))), Image.BILINEAR)
    b = np.asarray(box, dtype=np.float32)
    total = b.sum() or 1.0
    cy = (b.sum(axis=1) * np.arange(b.shape[0])).sum() / total
    cx = (b.sum(axis=0) * np.arange(b.shape[1])).sum() / total
    out = Image.new("L", (28, 28))
    top = int(np.clip(round(14 - cy), 0, 28 - box.height))
    left = int(np.clip(round(14 - cx), 0, 28 - box.width))
    out.paste(box, (left, top))
    return out


def preprocess(img: Image.Image, spec: InputSpec, digit: bool = False) -> Prepared:
    """Take ``img`` to a (1, C, H, W) tensor the way ``spec`` says, keeping every stage.

    ``digit=True`` (a hand-drawn or uploaded digit for an MNIST model) inverts a light
    background and fits the digit into the 20x20 centre as MNIST does.
    """
    if spec.channels not in (1, 3):
        raise ConfigError(f"the image views need a model with 1 or 3 input channels, not {spec.channels}")
    img = normalise_mode(img)
    stages = [Stage("Original", f"{img.width}x{img.height} pixels, {'colour' if img.mode == 'RGB' else 'grey'}",
                    _array(img))]
    want = "L" if spec.channels == 1 else "RGB"
    if img.mode != want:
        img = img.convert(want)
        detail = "to grey: 0.299 R + 0.587 G + 0.114 B" if want == "L" else "grey copied to R, G and B"
        stages.append(Stage("Colour", detail, _array(img)))
    if digit and want == "L":
        if np.asarray(img).mean() > 127:
            img = ImageOps.invert(img)
            stages.append(Stage("Invert", "dark ink on light paper -> white on black, as MNIST", _array(img)))
        img = fit_digit(img)
        stages.append(Stage("Fit digit", "bounding box scaled into 20x20, centred by mass in 28x28", _array(img)))
    if min(img.size) != spec.resize:
        w, h = img.size
        scale = spec.resize / min(w, h)
        new = (max(spec.resize, round(w * scale)), max(spec.resize, round(h * scale)))
        img = img.resize(new, Image.BILINEAR)
        stages.append(Stage("Resize", f"shorter side to {spec.resize}: {w}x{h} -> {new[0]}x{new[1]} (bilinear)",
                            _array(img)))
    if img.size != (spec.size, spec.size):
        w, h = img.size
        left, top = (w - spec.size) // 2, (h - spec.size) // 2
        img = img.crop((left, top, left + spec.size, top + spec.size))
        stages.append(Stage("Centre crop", f"the middle {spec.size}x{spec.size} of {w}x{h}", _array(img)))
    x = _array(img)
    if spec.pad:
        x = np.pad(x, [(spec.pad, spec.pad), (spec.pad, spec.pad)] + [(0, 0)] * (x.ndim - 2))
        stages.append(Stage("Pad", f"{spec.pad} black pixels on each side -> {x.shape[1]}x{x.shape[0]}", x))
    chw = x[None] if x.ndim == 2 else x.transpose(2, 0, 1)
    stages.append(Stage("Scale to [0, 1]", "pixel values / 255", x))
    mean = np.asarray(spec.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(spec.std, dtype=np.float32)[:, None, None]
    norm = (chw - mean) / std
    lo, hi = float(norm.min()), float(norm.max())
    view = (norm - lo) / (hi - lo) if hi > lo else np.zeros_like(norm)
    view = view[0] if spec.channels == 1 else view.transpose(1, 2, 0)
    stages.append(Stage("Normalise", f"(x - mean) / std with mean {_fmt(spec.mean)}, std {_fmt(spec.std)}: "
                                     f"values now {lo:.2f} to {hi:.2f} (shown stretched)", view))
    return Prepared(torch.from_numpy(np.ascontiguousarray(norm))[None], tuple(stages), x)


def _fmt(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in values) + ")"
