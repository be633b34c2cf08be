"""The few lines that build a configured zoo model with cnnviz, and its torchvision twin.

:func:`pytorch_code` writes the ``cnnviz.build(...)`` call for a model and its settings,
plus the equivalent torchvision line when torchvision has the same network with the
same settings.
"""
from __future__ import annotations

import textwrap
from typing import Any

from cnnviz.zoo import ModelSpec, get_spec

# torchvision builder keyword arguments that mean the same as the zoo setting of that name,
# by twin name prefix (the longest matching prefix wins).
_TWIN_ARGS: dict[str, frozenset[str]] = {
    "alexnet": frozenset({"num_classes", "dropout"}),
    "vgg": frozenset({"num_classes", "dropout"}),
    "densenet": frozenset({"num_classes", "drop_rate", "bn_size"}),
    "googlenet": frozenset({"num_classes", "dropout", "aux_logits", "transform_input"}),
    "inception_v3": frozenset({"num_classes", "dropout", "aux_logits", "transform_input"}),
    "resnet": frozenset({"num_classes", "zero_init_residual", "groups", "width_per_group"}),
    # resnext / wide_resnet builders fix groups and width_per_group themselves
    "resnext": frozenset({"num_classes", "zero_init_residual"}),
    "wide_resnet": frozenset({"num_classes", "zero_init_residual"}),
    "mobilenet_v2": frozenset({"num_classes", "width_mult", "dropout"}),
    "shufflenet_v2": frozenset({"num_classes"}),
    "squeezenet": frozenset({"num_classes", "dropout"}),
    "efficientnet": frozenset({"num_classes", "dropout"}),
    "mobilenet_v3": frozenset({"num_classes", "dropout"}),
    "mnasnet": frozenset({"num_classes", "dropout"}),
    "regnet": frozenset({"num_classes"}),
    "convnext": frozenset({"num_classes"}),
    "swin": frozenset({"num_classes"}),
    "vit": frozenset({"num_classes"}),
}
# A twin whose network depends on the input size: the argument that takes it (ViT's position embedding).
_TWIN_INPUT_ARG: dict[str, str] = {"vit": "image_size"}
# Arguments a twin line always passes because torchvision's default differs from the zoo's.
_TWIN_ALWAYS: dict[str, frozenset[str]] = {"googlenet": frozenset({"aux_logits"})}
# Settings that describe the input, not the network: never a reason to drop the twin.
_INPUT_ONLY = frozenset({"input_size"})


def _lookup(table: dict[str, frozenset[str]], twin: str) -> frozenset[str]:
    keys = [k for k in table if twin.startswith(k)]
    return table[max(keys, key=len)] if keys else frozenset()


def changed_settings(spec: ModelSpec, settings: dict[str, Any] | None) -> dict[str, Any]:
    """The settings that differ from the model's defaults, checked and converted, in schema order."""
    resolved = spec.resolve(settings)
    defaults = spec.defaults()
    return {k: v for k, v in resolved.items() if v != defaults[k]}


def torchvision_twin(name: str, settings: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]] | None:
    """``(builder name, keyword arguments)`` of the same network in torchvision, or None if none exists."""
    spec = get_spec(name)
    if spec.torchvision is None:
        return None
    changed = changed_settings(spec, settings)
    twin = spec.torchvision
    if spec.family == "vgg" and "batch_norm" in changed:  # vgg16 with batch norm is torchvision's vgg16_bn
        twin = twin + "_bn" if changed.pop("batch_norm") else twin.removesuffix("_bn")
    allowed = _lookup(_TWIN_ARGS, twin)
    if any(key not in allowed and key not in _INPUT_ONLY for key in changed):
        return None
    resolved = spec.resolve(settings)
    kwargs = {k: v for k, v in changed.items() if k in allowed}
    kwargs.update({k: resolved[k] for k in _lookup(_TWIN_ALWAYS, twin)})
    kwargs = dict(sorted(kwargs.items(), key=lambda kv: list(resolved).index(kv[0])))
    input_arg = next((arg for prefix, arg in _TWIN_INPUT_ARG.items() if twin.startswith(prefix)), None)
    if input_arg and "input_size" in changed:
        kwargs[input_arg] = changed["input_size"]
    return twin, kwargs


def _py(value: Any) -> str:
    """A Python literal, strings in double quotes as most code is written."""
    if isinstance(value, str) and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return repr(value)


def _call(func: str, first: list[str], kwargs: dict[str, Any]) -> str:
    args = first + [f"{k}={_py(v)}" for k, v in kwargs.items()]
    return f"{func}({', '.join(args)})"


def pytorch_code(name: str, settings: dict[str, Any] | None = None) -> str:
    """Python code that builds zoo model ``name`` with ``settings`` (random weights).

    Only settings that differ from the defaults are written. Where torchvision has the same
    network with the same settings, an equivalent ``torchvision.models`` line follows.
    """
    spec = get_spec(name)
    resolved = spec.resolve(settings)
    changed = changed_settings(spec, settings)
    shape = (1, resolved["in_channels"], resolved["input_size"], resolved["input_size"])
    lines = [
        "import torch",
        "import cnnviz",
        "",
        *textwrap.wrap(textwrap.shorten(spec.description, 150, placeholder=" ..."), 78,
                       initial_indent="# ", subsequent_indent="# "),
        f"model = {_call('cnnviz.build', [_py(name)], changed)}",
        f"x = torch.randn{shape}  # one {'x'.join(map(str, shape[1:]))} input",
        "logits = model(x)",
    ]
    twin = torchvision_twin(name, settings)
    if twin is not None:
        builder, kwargs = twin
        lines += [
            "",
            "# The same network in torchvision (weights=None: random weights; the pretrained",
            "# ImageNet weights would be downloaded with weights=\"DEFAULT\"):",
            "import torchvision",
            f"model = {_call('torchvision.models.' + builder, ['weights=None'], kwargs)}",
        ]
    elif spec.torchvision is not None:
        lines += ["", f"# torchvision's {spec.torchvision} has no option for these settings; use the cnnviz line."]
    return "\n".join(lines) + "\n"
