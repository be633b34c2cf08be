"""Every word a person reads (each page, the README, every CLI ``--help``) speaks to students, not to the server.

One checker, :func:`text_faults`, with rule sets per reader: pages get every rule; the README (whose operator
section names environment variables and paths on purpose) gets "seeds" and ``../shared``; CLI help gets "seeds"
and module paths.
"""
from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict
from streamlit.testing.v1 import AppTest
from torchvision.models import list_models as torchvision_names

from cnnviz.cli import build_parser
from cnnviz.ui.words import choice_label, in_words, setting_label
from cnnviz.zoo import list_models as zoo_names
from tests.app.pages import open_page

ROOT = Path(__file__).resolve().parents[2]

RULES: dict[str, re.Pattern[str]] = {
    # the course material is "the course notes"; a random-number seed stays a seed (and the bench's --seeds option)
    "seeds": re.compile(r"(?<!random )(?<!--)\bseeds\b", re.IGNORECASE),
    "shared": re.compile(r"\.\./shared|\bshared/"),
    "path": re.compile(r"~/|(?<![\w:/.])/(?:[\w.-]+/)+[\w.-]*|\b\w+/checkpoints\b|\.cache\b|\.streamlit\b"
                       r"|\b[\w-]+\.pth?\b"),
    "env var": re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b"),
    "module path": re.compile(r"\bcnnviz\.[a-z_]\w*"),
    # a snake_case token that is not a model's name (model names are what the user types and picks)
    "raw id": re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b"),
}
PAGE_RULES = ("seeds", "shared", "path", "env var", "module path", "raw id")
README_RULES = ("seeds", "shared")
CLI_RULES = ("seeds", "module path")
MODEL_NAMES = {spec.name for spec in zoo_names()} | set(torchvision_names())


def text_faults(text: str, rules: tuple[str, ...] = PAGE_RULES) -> list[str]:
    """The pieces of ``text`` a reader should not see, each as ``rule: match``."""
    faults = []
    for rule in rules:
        for match in RULES[rule].finditer(text):
            if rule == "raw id" and (match.group() in MODEL_NAMES or text[match.end():match.end() + 1] == "("):
                continue  # a model's name, or a function the student calls (build_model() of an exported file)
            faults.append(f"{rule}: {match.group()!r}")
    return faults


# -- what a page shows -------------------------------------------------------------------------------
TEXT_FIELDS = {"body", "label", "placeholder", "help", "caption", "content", "options", "delta"}
LABELLED = {"button", "selectbox", "multiselect", "radio", "slider", "select_slider", "number_input",
            "text_input", "toggle", "checkbox", "button_group", "download_button", "file_uploader", "color_picker"}


def _strings(value: object, key: str = "") -> Iterator[str]:
    """String values of a proto (as a dict) under the fields a person reads."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)
    elif isinstance(value, str) and key in TEXT_FIELDS:
        yield value


def _figure_text(spec: str) -> Iterator[str]:
    fig = json.loads(spec)
    layout = fig.get("layout", {})
    for part in [layout] + [v for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))]:
        title = part.get("title") if isinstance(part, dict) else None
        yield (title.get("text", "") if isinstance(title, dict) else title) or ""
    yield from (a.get("text", "") for a in layout.get("annotations", []))
    yield from (str(trace.get("name", "")) for trace in fig.get("data", []))


def visible_text(at: AppTest) -> list[tuple[str, str]]:
    """(element type, text) for everything the run shows: main area and sidebar, every tab and expander."""
    out: list[tuple[str, str]] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        kind = node.type
        if kind == "plotly_chart":
            out.extend((kind, t) for t in _figure_text(proto.spec))
        elif kind in ("dataframe", "table"):
            out.extend((kind, str(c)) for c in node.value.columns)
        elif kind == "html" and re.match(r"\s*<(style|script)\b", getattr(proto, "body", ""), re.IGNORECASE):
            pass  # a style sheet or a script (lecture-mode CSS, the owner cookie): the browser runs it, nobody reads it
        elif kind not in ("code", "latex") and proto is not None:
            out.extend((kind, s) for s in _strings(MessageToDict(proto)))
        icon_button = kind == "button" and proto is not None and proto.icon and proto.help  # its tooltip says it
        if kind in LABELLED and not icon_button and len(re.sub(r"[^A-Za-z]", "", getattr(node, "label", "") or "")) < 2:
            out.append((kind, f"label {node.label!r} is not a word"))  # e.g. a setting shown as "N"
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def _page_faults(at: AppTest) -> list[str]:
    return [f"{kind} {text[:100]!r}: {faults}" for kind, text in visible_text(at)
            if (faults := text_faults(text)) or text.endswith("is not a word")]


PAGE_VIEWS = [
    ("home", {}), ("home", {"hm_acc": "top5"}),
    *[("layer_lab", {"ll_sec": s}) for s in ("Conv & pool arithmetic", "Sliding window", "1x1 & bottlenecks",
                                             "Activations & softmax", "Dropout, BN, LRN, FC")],
    *[("explorer", {"ex_tab": t}) for t in ("Network", "Layer table", "Charts", "Export")],
    ("explorer", {"ex_model": "convpool"}), ("explorer", {"ex_model": "resnet50", "ex_tab": "Layer table"}),
    *[("builder", {"b_tab": t}) for t in ("Every layer's numbers", "Drawing", "Train, compare, export")],
    ("builder", {"b_ch": "fix-broken"}), ("builder", {"b_net": "conv(6,5) relu conv(16,40)"}),
    *[("compare", {"cmp_tab": t}) for t in ("Cumulative MACs", "Parameters per stage", "Receptive field growth")],
    *[("inside", {"in_tab": t}) for t in ("Activation maps", "Filters", "Receptive field", "Grad-CAM")],
    ("inside", {"in_model": "resnet18"}),
    *[("training", {"tr_part": p}) for p in ("Train", "Data", "Experiments")],
    *[("augment", {"ag_sec": s}) for s in ("One method", "Pipeline", "PCA colour", "With vs without")],
    *[("transfer", {"tl_sec": s}) for s in ("Transfer learning", "Features off the shelf", "Ensembles",
                                            "Multi-crop testing")],
    ("practice", {}), ("sequence", {}), ("board", {}), ("layer_lab", {"ll_predict": "1"}), ("explorer", {"ex_predict": "1"}),
]


def test_every_page_is_listed() -> None:
    assert {p.stem for p in (ROOT / "pages").glob("*.py")} == {page for page, _ in PAGE_VIEWS}


@pytest.mark.parametrize("page,query", PAGE_VIEWS, ids=[f"{p}-{'-'.join(map(str, q.values()))}" for p, q in PAGE_VIEWS])
def test_page_text_speaks_to_students(page: str, query: dict[str, str]) -> None:
    at = open_page(str(ROOT / "pages" / f"{page}.py"), 180, **query)
    assert len(visible_text(at)) > 5
    assert _page_faults(at) == []


def test_the_checker_catches_what_it_should() -> None:
    bad = ("The seeds' exercise", "weights in ~/.cache/torch/hub/checkpoints", "set CNNVIZ_MAX_RUNS=4",
           "see cnnviz.train.load_checkpoint", "dataset cifar_standin", "saved as run3.pt", "TORCH_HOME")
    assert all(text_faults(t) for t in bad)
    good = ("The course notes' exercise", "three random seeds", "resnet50 with (N - F + 2P)/S + 1", "top-1/top-5",
            "https://pytorch.org/vision", "vgg16_bn and resnext50_32x4d", "H x W x C")
    assert [t for t in good if text_faults(t)] == []


def test_every_zoo_model_is_described_in_words() -> None:
    """What the explorer and the settings panels show for each model (one AppTest run per model would be slow)."""
    faults = {}
    for spec in zoo_names():
        settings = spec.all_settings
        texts = [in_words(spec.description, [s.name for s in settings])]
        texts += [setting_label(s.name) for s in settings] + [in_words(s.help, [s.name]) for s in settings]
        texts += [choice_label(c) for s in settings for c in s.choices]
        if spec.facts is not None:
            texts += [spec.facts.paper, spec.facts.ilsvrc, spec.facts.notes_numbers, *spec.facts.new_ideas]
        if found := [f for t in texts for f in text_faults(t)]:
            faults[spec.name] = found
    assert faults == {}


# -- the README and the command line ---------------------------------------------------------------
def test_readme_stands_alone() -> None:
    assert text_faults((ROOT / "README.md").read_text(), README_RULES) == []


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_cli_help_speaks_to_students() -> None:
    helps = {p.prog: p.format_help() for p in _parsers(build_parser())}
    assert len(helps) > 5 and "python -m cnnviz train" in helps
    assert {prog: text_faults(text, CLI_RULES) for prog, text in helps.items() if text_faults(text, CLI_RULES)} == {}
