"""cnnviz: an interactive CNN architecture explorer (the engine).

Build any network of the course by name and analyse it exactly::

    import cnnviz
    model = cnnviz.build("vgg16")
    report = cnnviz.analyze(model, (3, 224, 224))
    print(report)                 # per-layer table
    report.totals.macs            # 15,470,264,320
"""
from cnnviz.analysis import Report, analyze, summarize
from cnnviz.errors import ConfigError
from cnnviz.zoo import build, get_spec, list_models

__all__ = ["ConfigError", "Report", "analyze", "build", "get_spec", "list_models", "summarize"]
__version__ = "0.1.0"
