"""cnnviz: an interactive CNN architecture explorer (the engine).

Build any network of the course by name and analyse it exactly::

    import cnnviz
    model = cnnviz.build("vgg16")
    report = cnnviz.analyze(model, (3, 224, 224))
    print(report)                 # per-layer table
    report.totals.macs            # 15,470,264,320

The names below load on first use (PEP 562): importing a torch-free part of the package, such as
``cnnviz.errors`` or the app's home page, does not pay the 4-8 s of importing torch.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnviz.analysis import Report, analyze, summarize
    from cnnviz.errors import ConfigError
    from cnnviz.zoo import build, get_spec, list_models

# public name -> the submodule that defines it
_HOME = {"Report": "cnnviz.analysis", "analyze": "cnnviz.analysis", "summarize": "cnnviz.analysis",
         "ConfigError": "cnnviz.errors", "build": "cnnviz.zoo", "get_spec": "cnnviz.zoo",
         "list_models": "cnnviz.zoo"}

__all__ = ["ConfigError", "Report", "analyze", "build", "get_spec", "list_models", "summarize"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'cnnviz' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
