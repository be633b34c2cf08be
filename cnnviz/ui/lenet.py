"""The one sentence that tells a student how the LeNet-5 trained in the app differs from the course's."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

import cnnviz
from cnnviz.analysis import ConfigError
from cnnviz.ui.charts import shape_text


def _maps(settings: Mapping[str, Any]) -> tuple[list[str], int, int]:
    """The conv and pooling output shapes (H x W x C), the parameter count and the input side of a LeNet-5."""
    report = cnnviz.summarize("lenet5", **dict(settings))
    maps = [shape_text(r.output_shape) for r in report.layers
            if r.type == "Conv2d" or "Pool" in r.type or r.type == "Subsampling"][:4]
    return maps, report.totals.params, report.input_shape[-1]


@st.cache_data(show_spinner=False, max_entries=64)
def lenet_note(settings: tuple[tuple[str, Any], ...]) -> str | None:
    """Why the LeNet-5 with these settings is not the course's 32x32 network, in one sentence; None if it is."""
    try:
        ours, params, side = _maps(dict(settings))
    except ConfigError:  # settings that cannot be built: the page says why where they are set
        return None
    course, course_params, course_side = _maps({})
    variant = dict(settings).get("variant", "classic")
    if side == course_side and variant == "classic":
        return None
    extras = [what for on, what in ((variant == "modern", "ReLU"), (variant == "modern", "max pooling"),
                                    (bool(dict(settings).get("batch_norm")), "batch norm")) if on]
    return (f"This LeNet-5 is not quite the course's: the course's takes {course_side}x{course_side} images "
            f"(MNIST padded by 2 pixels, as in the 1998 paper; maps {', '.join(course)}, {course_params:,} "
            f"parameters), while this one takes the {side}x{side} digits as they are (maps {', '.join(ours)}, "
            f"{params:,} parameters)"
            + (f" and uses {', '.join(extras[:-1])}{' and ' if len(extras) > 1 else ''}{extras[-1]}, which "
               "learn MNIST in seconds" if extras else "")
            + "; the explorer shows the course's network.")
