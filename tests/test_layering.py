"""The engine's layers, read from the source with ast (imports inside functions count): no import cycle, a
lower layer never imports a higher one, only cnnviz/ui imports streamlit, nothing patches the standard library."""
from __future__ import annotations

import ast
import sys
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Bottom to top; a module's layer is that of its longest listed prefix (the package ``cnnviz`` itself, its
# public names, is listed by its exact name only, so a new module must be placed here). The modules beside
# the layers' packages sit with what they serve: paths and budget with errors (where files go, the
# limits); guard, builder, lab, exercises and zoo_text with the analysis they check or explain; challenges
# with the experiments (the builder's course exercises); lecture sequences with the classroom; the CLI's
# helpers with the CLI. cli and ui share the top.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cnnviz.errors", "cnnviz.paths", "cnnviz.budget"),
    ("cnnviz.zoo",),
    ("cnnviz", "cnnviz.analysis", "cnnviz.guard", "cnnviz.builder", "cnnviz.lab", "cnnviz.exercises",
     "cnnviz.zoo_text"),
    ("cnnviz.export",),
    ("cnnviz.data",),
    ("cnnviz.augment",),
    ("cnnviz.train",),
    ("cnnviz.experiments", "cnnviz.challenges"),
    ("cnnviz.jobs",),
    ("cnnviz.inspect",),
    ("cnnviz.classroom", "cnnviz.sequences"),
    ("cnnviz.cli", "cnnviz.cli_args", "cnnviz.train_cli", "cnnviz.experiments_cli", "cnnviz.__main__",
     "cnnviz.ui"),
)


@lru_cache(maxsize=1)
def modules() -> dict[str, ast.Module]:
    """Every module of cnnviz by dotted name (a package by its own name), parsed."""
    out = {}
    for path in sorted((ROOT / "cnnviz").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(), str(path))
    return out


def _owner(name: str) -> str | None:
    """The cnnviz module that ``name`` (a module, or a name inside one) lives in."""
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imported(tree: ast.Module, here: str) -> set[str]:
    """The cnnviz modules ``tree`` imports, anywhere in it (``from a import b`` counts ``a.b`` if a module)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                package = here.split(".")[: len(here.split(".")) - node.level + (here in _packages())]
                base = ".".join([*package, *([base] if base else [])])
            for a in node.names:  # ``from pkg import submodule`` depends on the submodule, a name on its module
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules() else base)
    return {m for m in (_owner(n) for n in out if n.split(".")[0] == "cnnviz") if m and m != here}


@lru_cache(maxsize=1)
def _packages() -> frozenset[str]:
    return frozenset(str(p.parent.relative_to(ROOT)).replace("/", ".") for p in (ROOT / "cnnviz").rglob("__init__.py"))


def graph() -> dict[str, set[str]]:
    return {name: imported(tree, name) for name, tree in modules().items()}


def layer(name: str) -> int:
    best, rank = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or (prefix != "cnnviz" and name.startswith(prefix + "."))) and len(prefix) > best:
                best, rank = len(prefix), i
    return rank


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_checks_see_a_cycle_and_a_layer_break() -> None:
    # the tools themselves: a cycle is found, and an import from a lower layer up is ranked as one
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    tree = ast.parse("def f():\n    from cnnviz.jobs import submit\n")
    assert imported(tree, "cnnviz.train.run") == {"cnnviz.jobs"}
    assert layer("cnnviz.train.run") < layer("cnnviz.jobs.local") < layer("cnnviz.ui.training")
    assert layer("cnnviz.zoo.resnet") == layer("cnnviz.zoo") < layer("cnnviz.analysis")
    assert layer("cnnviz.nosuch") == -1  # an unplaced module has no layer (test_every_module_has_a_layer)


def test_every_module_has_a_layer() -> None:
    assert not [m for m in modules() if layer(m) < 0], "add the module to LAYERS in tests/test_layering.py"


def test_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_a_lower_layer_never_imports_a_higher_one() -> None:
    up = sorted(f"{m} imports {d}" for m, deps in graph().items() for d in deps if layer(d) > layer(m))
    assert up == []


def test_cli_and_ui_do_not_import_each_other() -> None:
    top = graph()
    ui = {m for m in top if m == "cnnviz.ui" or m.startswith("cnnviz.ui.")}
    assert not [(m, d) for m in top for d in top[m] if (m in ui) != (d in ui) and layer(m) == layer(d)]


def test_only_the_ui_imports_streamlit() -> None:
    users = []
    for name, tree in modules().items():
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "streamlit" for n in names) and not name.startswith("cnnviz.ui"):
                users.append(name)
    assert users == []


def _stdlib_aliases(tree: ast.Module) -> set[str]:
    """Local names bound to a standard-library module (``import os``, ``import multiprocessing.spawn as s``,
    ``from multiprocessing import spawn``)."""
    std = sys.stdlib_module_names
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in std:
                    names.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] in std:
            names.update(a.asname or a.name for a in node.names)  # may be a function: flagged only if assigned to
    return names


def patches(tree: ast.Module) -> list[str]:
    """Assignments to an attribute of a standard-library module or of something imported from one
    (``spawn.get_preparation_data = ...``, ``setattr(os, ...)``, ``del sys.modules[...]`` is not one)."""
    aliases = _stdlib_aliases(tree)
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr")
              and node.args):
            targets = [ast.Attribute(value=node.args[0], attr="?", ctx=ast.Store())]
        for target in targets:
            base = target
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(target, ast.Attribute) and isinstance(base, ast.Name) and base.id in aliases:
                found.append(f"line {node.lineno}: {ast.unparse(target)}")
    return found


def test_the_patch_check_sees_a_patch() -> None:
    tree = ast.parse("import multiprocessing.spawn as s\nfrom os import path\ns.get_preparation_data = len\n"
                     "setattr(path, 'join', len)\nx = s.get_preparation_data\n")
    assert patches(tree) == ["line 3: s.get_preparation_data", "line 4: path.?"]


@pytest.mark.parametrize("name", sorted(modules()))
def test_nothing_patches_the_standard_library(name: str) -> None:
    assert patches(modules()[name]) == []
