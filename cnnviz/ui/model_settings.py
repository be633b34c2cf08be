"""Pick a zoo model and set its settings, every value bound to the URL under a key prefix.

The widgets are drawn from the model's :class:`~cnnviz.zoo.ModelSpec` schema, so a new
setting in the zoo appears on every page without page changes. Keys are
``<prefix>model`` and ``<prefix><setting>`` (``ex_model``, ``ex_input_size``, ...). When
the user picks another model, the old model's settings are dropped (from the page and
the URL) so the new one starts at its own defaults.

:func:`cached_report` is the cached analysis every page shares.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import cnnviz
from cnnviz.analysis import ConfigError, Report
from cnnviz.ui.state import ignored, url_number, url_select, url_text_area, url_toggle
from cnnviz.ui.words import choice_label, in_words, setting_label
from cnnviz.zoo import ModelSpec, Setting, get_spec, list_models

_KEEP = "_keep_"  # cnnviz.ui.state keeps a widget's last value under this prefix

FAMILY_ORDER = ("simple", "lenet", "alexnet", "vgg", "nin", "inception", "resnet", "densenet", "mobile",
                "after_resnet")
FAMILY_LABELS = {
    "simple": "Basics", "lenet": "LeNet", "alexnet": "AlexNet / ZFNet", "vgg": "VGG", "nin": "Network in Network",
    "inception": "Inception", "resnet": "ResNet", "densenet": "DenseNet", "mobile": "Mobile nets",
    "after_resnet": "after ResNet",
}
ADVANCED = frozenset({"in_channels", "dropout", "drop_rate", "zero_init_residual", "transform_input", "bn_size"})
"""Settings that lecture mode hides (they keep their value; most do not change any number)."""

OPEN_MIN = frozenset({"input_size"})
"""Settings whose widget accepts values below the schema's minimum, so the engine's message explains the limit."""

Settings = tuple[tuple[str, Any], ...]


def family_label(family: str) -> str:
    return FAMILY_LABELS.get(family, family.replace("_", " ").title())


def model_names() -> list[str]:
    """Every zoo model, grouped by family in the order of the course."""
    order = {f: i for i, f in enumerate(FAMILY_ORDER)}
    specs = sorted(list_models(), key=lambda s: order.get(s.family, len(order)))  # stable: keeps zoo order
    return [s.name for s in specs]


def model_label(name: str) -> str:
    """``resnet50`` -> ``ResNet · resnet50`` (the selectbox shows the family)."""
    return f"{family_label(get_spec(name).family)} · {name}"


def pick_model(key: str, default: str, label: str = "Model") -> str:
    """A selectbox of every zoo model (grouped by family), bound to the URL under ``key``."""
    return url_select(label, key, model_names(), default, format_func=model_label,
                      help="Every network of the course, grouped by family.")


def _setting_widget(setting: Setting, key: str) -> Any:
    label, helptext = setting_label(setting.name), in_words(setting.help, [setting.name])
    if setting.kind == "bool":
        return url_toggle(label, key, setting.default, help=helptext)
    if setting.kind == "choice":
        return url_select(label, key, setting.choices, setting.default, help=helptext, format_func=choice_label)
    if setting.kind in ("int", "float"):
        cast = int if setting.kind == "int" else float
        lo = None if setting.min is None else cast(setting.min)
        if setting.name in OPEN_MIN:  # let the engine say why a small input does not fit
            lo = cast(1)
        hi = None if setting.max is None else cast(setting.max)
        extra: dict[str, Any] = {}
        if cast is float:
            extra = {"step": 0.05 if (hi or 1.0) <= 1.0 else 0.25, "format": "%.4g"}
        return url_number(label, key, cast(setting.default), min_value=lo, max_value=hi, help=helptext, **extra)
    if setting.kind == "str":  # a text setting: the builder's network, which a link carries
        return url_text_area(label, key, setting.default, help=helptext)
    return setting.default


def hidden_value(key: str, default: Any, parse: Callable[[str], Any]) -> Any:
    """The value of a control that is not drawn (lecture mode): what the page or the URL had, else ``default``.

    The URL's value is checked by ``parse`` exactly as the drawn widget would check it; a bad
    one is ignored with the same warning, once (the value used is kept for the next reruns).
    """
    if _KEEP + key in st.session_state:
        return st.session_state[_KEEP + key]
    value = default
    raw = st.query_params.get(key)
    if raw is not None:
        try:
            value = parse(raw)
        except (ValueError, TypeError, OverflowError, ConfigError) as exc:
            ignored(key, raw, exc)
    st.session_state[_KEEP + key] = value
    return value


def forget_settings(prefix: str, name: str) -> None:
    """Drop model ``name``'s settings under ``prefix`` from the page state and the URL."""
    for s in get_spec(name).all_settings:
        key = prefix + s.name
        for k in (key, _KEEP + key):
            if k in st.session_state:
                del st.session_state[k]
        if key in st.query_params:
            del st.query_params[key]


@dataclass
class ModelForm:
    """The rendered settings of one model: values, and a slot under each widget for its error."""

    name: str
    prefix: str
    values: dict[str, Any]
    slots: dict[str, DeltaGenerator] = field(default_factory=dict)
    top: DeltaGenerator | None = None

    @property
    def spec(self) -> ModelSpec:
        return get_spec(self.name)

    @property
    def changed(self) -> dict[str, Any]:
        """Settings that differ from the defaults."""
        defaults = self.spec.defaults()
        return {k: v for k, v in self.values.items() if v != defaults.get(k)}

    @property
    def frozen(self) -> Settings:
        """The changed settings as a hashable, sorted tuple: the cache key."""
        return tuple(sorted(self.changed.items()))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (int(self.values["in_channels"]), int(self.values["input_size"]), int(self.values["input_size"]))

    def show_error(self, exc: ConfigError) -> str | None:
        """Show ``exc`` under the widget that caused it (or above the settings); return that setting."""
        culprit = find_culprit(self.name, self.changed, exc)
        slot = self.slots.get(culprit) if culprit else None
        target = slot or self.top
        if target is not None:
            target.error(str(exc), icon="⚠️")
        return culprit


def model_settings(name: str, prefix: str, lecture: bool = False) -> ModelForm:
    """Render ``name``'s settings (in the current container) bound to the URL under ``prefix``.

    In lecture mode the :data:`ADVANCED` settings are hidden and keep their value.
    """
    seen_key = f"{_KEEP}{prefix}seen_model"
    seen = st.session_state.get(seen_key)
    if seen is not None and seen != name:
        forget_settings(prefix, seen)
    st.session_state[seen_key] = name
    form = ModelForm(name=name, prefix=prefix, values={}, top=st.empty())
    for setting in get_spec(name).all_settings:
        key = prefix + setting.name
        if lecture and setting.name in ADVANCED:
            form.values[setting.name] = hidden_value(key, setting.default, setting.coerce)
            continue
        form.values[setting.name] = _setting_widget(setting, key)
        form.slots[setting.name] = st.empty()
    return form


@st.cache_data(max_entries=256, show_spinner=False)
def cached_report(name: str, settings: Settings, include_extra: bool = False) -> Report:
    """``cnnviz.summarize`` for ``name`` with ``settings`` (pairs), cached across reruns and sessions."""
    return cnnviz.summarize(name, include_extra=include_extra, **dict(settings))


def find_culprit(name: str, changed: dict[str, Any], exc: ConfigError) -> str | None:
    """The setting whose value causes ``exc``: named in the message, or the one whose default fixes it."""
    message = str(exc)
    for key in changed:
        if message.startswith(f"setting {key}:"):
            return key
    order = sorted(changed, key=lambda k: k != "input_size")  # the input size is the usual suspect
    for key in order:
        trial = {k: v for k, v in changed.items() if k != key}
        try:
            cached_report(name, tuple(sorted(trial.items())))
        except ConfigError:
            continue
        return key
    return None
