"""The model registry: build any zoo model by name with settings (timm style).

Each family module registers its factories with :func:`register`. A factory is a
plain function taking keyword arguments only: the three common settings
``in_channels``, ``input_size`` and ``num_classes`` plus the family's own
:class:`Setting` s. :func:`build` validates the user's settings against the
schema, fills in defaults and calls the factory.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from cnnviz.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    """One knob of a model family, with what a UI needs to draw a widget for it."""

    name: str
    default: Any
    help: str
    choices: tuple = ()
    min: float | None = None
    max: float | None = None

    @property
    def kind(self) -> str:
        if self.choices:
            return "choice"
        return {bool: "bool", int: "int", float: "float"}.get(type(self.default), "str")

    def coerce(self, value: Any) -> Any:
        """Convert ``value`` (maybe a string from the CLI or a URL) to this setting's type."""
        kind = self.kind
        try:
            if kind == "bool":
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low in {"1", "true", "yes", "on"}:
                        value = True
                    elif low in {"0", "false", "no", "off"}:
                        value = False
                    else:
                        raise ValueError(value)
                value = bool(value)
            elif kind == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                value = int(str(value).strip()) if isinstance(value, str) else int(value)
            elif kind == "float":
                value = float(value)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError(value)
            elif kind == "choice":
                choice_type = type(self.choices[0])
                value = choice_type(value) if not isinstance(value, str) or choice_type is str else choice_type(value.strip())
        except (TypeError, ValueError):
            raise ConfigError(f"setting {self.name}: {value!r} is not a valid {kind}") from None
        if self.choices and value not in self.choices:
            raise ConfigError(f"setting {self.name}: {value!r} is not one of {', '.join(map(str, self.choices))}")
        if self.min is not None and value < self.min:
            raise ConfigError(f"setting {self.name}: {value} is below the minimum {self.min:g}")
        if self.max is not None and value > self.max:
            raise ConfigError(f"setting {self.name}: {value} is above the maximum {self.max:g}")
        return value


@dataclass(frozen=True)
class PaperFacts:
    """What the course says about a network: where it comes from and what was new."""

    paper: str
    year: int
    ilsvrc: str = ""
    new_ideas: tuple[str, ...] = ()
    notes_numbers: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its factory, settings schema and description."""

    name: str
    family: str
    factory: Callable[..., nn.Module]
    settings: tuple[Setting, ...]
    default_input: tuple[int, int, int]
    num_classes: int
    description: str
    facts: PaperFacts | None = None
    torchvision: str | None = None
    min_input: int = 1
    common: tuple[Setting, ...] = field(default=(), compare=False)

    @property
    def all_settings(self) -> tuple[Setting, ...]:
        return self.common + self.settings

    def defaults(self) -> dict[str, Any]:
        return {s.name: s.default for s in self.all_settings}

    def resolve(self, settings: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overridden by ``settings``, each value checked and converted."""
        known = {s.name: s for s in self.all_settings}
        out = self.defaults()
        for key, value in (settings or {}).items():
            if key not in known:
                raise ConfigError(
                    f"{self.name} has no setting {key!r}; its settings are: {', '.join(known)}"
                )
            out[key] = known[key].coerce(value)
        return out


_REGISTRY: dict[str, ModelSpec] = {}


def _common_settings(default_input: tuple[int, int, int], num_classes: int, min_input: int) -> tuple[Setting, ...]:
    c, h, _ = default_input
    return (
        Setting("in_channels", c, "Input channels (1 = grey, 3 = RGB)", min=1, max=1_000_000),
        Setting("input_size", h, "Input height = width in pixels", min=min_input, max=1_000_000),
        Setting("num_classes", num_classes, "Number of output classes", min=1, max=100_000),
    )


def register(
    name: str,
    *,
    family: str,
    description: str,
    default_input: tuple[int, int, int] = (3, 224, 224),
    num_classes: int = 1000,
    settings: tuple[Setting, ...] = (),
    facts: PaperFacts | None = None,
    torchvision: str | None = None,
    min_input: int = 1,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: register ``factory`` under ``name``."""

    def deco(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelSpec(
            name=name,
            family=family,
            factory=factory,
            settings=tuple(settings),
            default_input=tuple(default_input),
            num_classes=num_classes,
            description=description,
            facts=facts,
            torchvision=torchvision,
            min_input=min_input,
            common=_common_settings(tuple(default_input), num_classes, min_input),
        )
        return factory

    return deco


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        close = [n for n in _REGISTRY if name.lower() in n or n in name.lower()]
        hint = f" Did you mean: {', '.join(close[:5])}?" if close else " See `python -m cnnviz list`."
        raise ConfigError(f"unknown model {name!r}.{hint}") from None


def list_models(family: str | None = None) -> list[ModelSpec]:
    return [s for s in _REGISTRY.values() if family is None or s.family == family]


def build(name: str, *, device: str | torch.device | None = None, **settings: Any) -> nn.Module:
    """Build model ``name`` with ``settings`` (others at their defaults).

    ``device="meta"`` builds without allocating or initialising weights: what the
    analysis needs, and fast even for VGG-16's 138M parameters.
    """
    spec = get_spec(name)
    resolved = spec.resolve(settings)
    ctx = torch.device(device) if device is not None else contextlib.nullcontext()
    try:
        with ctx:
            model = spec.factory(**resolved)
    except ConfigError:
        raise
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:
        raise ConfigError(f"{name}: cannot build with these settings: {exc}") from None
    model.cnnviz_name = name
    model.cnnviz_settings = resolved
    return model
