"""The app's first page starts without torch: importing what app.py and the home page's top need does not load it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _loaded_after(code: str) -> set[str]:
    """Top-level packages among torch/torchvision loaded by ``code``, in a fresh interpreter."""
    probe = code + "\nimport sys; print(' '.join(m for m in ('torch', 'torchvision') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_navigation_and_home_page_imports_leave_torch_out() -> None:
    assert _loaded_after("import cnnviz, cnnviz.errors, cnnviz.ui.heap, cnnviz.ui.home, cnnviz.ui.state") == set()


def test_the_package_names_still_load_on_use() -> None:
    code = ("import cnnviz, cnnviz.analysis, cnnviz.zoo\n"
            "assert cnnviz.summarize is cnnviz.analysis.summarize and cnnviz.build is cnnviz.zoo.build\n"
            "from cnnviz import ConfigError, Report, list_models\n"
            "assert 'lenet5' in {s.name for s in list_models()}")
    assert _loaded_after(code) == {"torch"}
