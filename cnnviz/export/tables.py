"""The analysis of a configured model as files: the layer table as CSV, the whole report as JSON."""
from __future__ import annotations

import json
from typing import Any

from cnnviz.analysis import Report


def report_csv(report: Report) -> str:
    """The layer table, one row per layer (the report's own CSV)."""
    return report.to_csv()


def report_json(report: Report, settings: dict[str, Any] | None = None, batch_size: int = 32,
                optimizer: str = "adam") -> str:
    """The report as JSON (what ``python -m cnnviz summary --format json`` prints), plus the
    model's settings and the training-memory estimate for ``batch_size`` and ``optimizer``."""
    data = report.to_dict()
    if settings is not None:
        data["settings"] = settings
    data["training_memory"] = report.training_memory(batch_size, optimizer)
    return json.dumps(data, indent=2)
