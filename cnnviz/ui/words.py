"""Settings and choices in words: what a page shows instead of the zoo's raw setting names and values.

The zoo names settings and choices as Python does (``stride_placement``, ``flatten_fc``); a page
shows "Stride placement" and "flatten + fc". The command line keeps the raw names, which are what
``--set`` takes.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

SETTING_LABELS = {
    "in_channels": "Input channels", "num_classes": "Number of classes", "width_mult": "Width multiplier",
    "aux_logits": "Auxiliary classifiers", "lrn": "LRN", "branch_5x5": "5x5 branch", "bn_size": "Bottleneck size",
    "two_gpu_split": "Two-GPU split", "conv345": "Conv3-5 filters", "depthwise": "Depthwise separable",
    "n": "Convolutions per block", "m": "Blocks",
}
CHOICE_LABELS = {
    "flatten_fc": "flatten + fc", "global_avg": "global average pooling + fc", "scaled_tanh": "scaled tanh",
    "shift_flip": "shift + flip",
}


def setting_label(name: str) -> str:
    """``stride_placement`` -> ``Stride placement``; a one-letter setting gets its meaning (convpool's n, m)."""
    return SETTING_LABELS.get(name, name.replace("_", " ").capitalize())


def choice_label(value: Any) -> str:
    """``flatten_fc`` -> ``flatten + fc``; other values with their underscores as spaces."""
    return CHOICE_LABELS.get(value, str(value).replace("_", " ")) if isinstance(value, str) else str(value)


def in_words(text: str, settings: Iterable[str]) -> str:
    """``text`` with each of ``settings`` named by its label: ``stride_placement=paper`` -> *Stride placement* = paper.

    Only names with an underscore are replaced: a one-letter name would match ordinary words.
    """
    names = sorted((s for s in settings if "_" in s), key=len, reverse=True)
    if not names:
        return text
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b(?:=(['\"]?)([\w.-]+)\2)?")

    def word(m: re.Match[str]) -> str:
        label = f"*{setting_label(m.group(1)).lower()}*"
        return f"{label} = {choice_label(m.group(3))}" if m.group(3) else label

    return pattern.sub(word, text)
