"""The app's first page starts without torch: importing what app.py and the home page's top need does not load it."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _loaded_after(code: str) -> set[str]:
    """Top-level packages among torch/torchvision loaded by ``code``, in a fresh interpreter."""
    probe = code + "\nimport sys; print(' '.join(m for m in ('torch', 'torchvision') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def _imports(path: Path) -> list[str]:
    """The modules a file imports at its top level."""
    tree = ast.parse(path.read_text())
    return [alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names] + \
        [node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module]


def test_the_navigation_and_home_page_imports_leave_torch_out() -> None:
    modules = sorted({m for f in ("app.py", "pages/home.py") for m in _imports(ROOT / f)})
    assert "cnnviz.ui.home" in modules
    assert _loaded_after("import cnnviz, cnnviz.errors\n" + "\n".join(f"import {m}" for m in modules)) == set()


def test_the_package_names_still_load_on_use() -> None:
    code = ("import cnnviz, cnnviz.analysis, cnnviz.zoo\n"
            "assert cnnviz.summarize is cnnviz.analysis.summarize and cnnviz.build is cnnviz.zoo.build\n"
            "from cnnviz import ConfigError, Report, list_models\n"
            "assert 'lenet5' in {s.name for s in list_models()}")
    assert _loaded_after(code) == {"torch"}
