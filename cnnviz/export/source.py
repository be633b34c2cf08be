"""Standalone PyTorch source for a constructed network: a file that imports only torch.

The exporter walks the module tree that was actually built (factories build their variants in
many ways; the tree is what they agree on):

- a ``torch.nn`` layer becomes a constructor call rebuilt from its attributes, checked by
  building it again (same ``repr``, same parameter shapes);
- any other class (the zoo's blocks, torchvision's) becomes a class of the same name with its
  own ``forward`` source, the methods, functions and constants that code reads (found by
  reading it, recursively), and an ``__init__`` that takes its parts;
- ``build_model()`` is the instance tree: every block called with its layers.

So the parameter names and shapes are the original's by construction, and its weights load
with ``load_state_dict(strict=True)``. Weights start from PyTorch's default initialisation
(a family's own init scheme is not carried over).
"""
from __future__ import annotations

import ast
import builtins
import functools
import importlib
import inspect
import io
import keyword
import re
import textwrap
import tokenize
import types
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from cnnviz.errors import ConfigError

_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
_PAIR_ARGS = frozenset({"kernel_size", "stride", "padding", "dilation", "output_padding", "output_size"})
# Standard-library modules a bundled function may use besides torch.
_STDLIB = frozenset({"math", "collections", "functools", "itertools", "operator", "typing", "warnings"})
# Calls that only log API usage (torchvision): dropped from bundled code, they need torchvision.
_DROPPED_CALLS = frozenset({"_log_api_usage_once"})
_MODULE_STATE = frozenset(vars(nn.Module()))


def _is_torch(cls: type) -> bool:
    return cls.__module__ == "torch" or cls.__module__.startswith("torch.")


def _torch_base(cls: type) -> type:
    """The first torch class in ``cls``'s MRO: what the exported class derives from."""
    return next(c for c in cls.__mro__ if _is_torch(c) and issubclass(c, nn.Module))


# -- literals ---------------------------------------------------------------------------------------
def literal(value: Any) -> str:
    """``value`` as Python source; ConfigError for what has no plain literal."""
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else f'float("{value}")'
    if isinstance(value, torch.dtype):
        return str(value)
    if isinstance(value, (tuple, torch.Size)):
        items = [literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, list):
        return f"[{', '.join(literal(v) for v in value)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise ConfigError(f"cannot write a {type(value).__name__} value ({value!r:.60}) as plain Python")


def _pair(name: str, value: Any, conv: bool = True) -> Any:
    """``(3, 3)`` -> ``3`` for a convolution's kernel size, stride, padding: as people write them
    (convolutions store tuples whatever they were given; other layers keep what they were given)."""
    if conv and name in _PAIR_ARGS and isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return value[0]
    return value


# -- torch.nn layers --------------------------------------------------------------------------------
def _arg_value(module: nn.Module, name: str) -> Any:
    """The constructor argument ``name`` of a torch layer, read back from the layer."""
    if isinstance(module, nn.MultiheadAttention):
        if name == "bias":
            return module.in_proj_bias is not None
        if name == "add_bias_kv":
            return module.bias_k is not None
        if name in ("kdim", "vdim"):  # stored as embed_dim when not given
            value = getattr(module, name)
            return None if value == module.embed_dim else value
    if name == "bias" and not isinstance(getattr(module, "bias", None), (bool, float, int)):
        return getattr(module, "bias", None) is not None
    return getattr(module, name)


def layer_call(module: nn.Module, cls: type | None = None, name: str | None = None) -> str:
    """``nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)`` for a torch layer (or a class
    that only inherits one): required arguments by position, others only where not default."""
    cls = cls or type(module)
    signature = inspect.signature(cls.__init__)
    conv = isinstance(module, nn.modules.conv._ConvNd)
    args: list[str] = []
    for p in list(signature.parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in ("device", "dtype"):
            continue
        try:
            value = _pair(p.name, _arg_value(module, p.name), conv)
        except AttributeError:
            if p.default is p.empty:
                raise ConfigError(f"cannot rebuild {cls.__name__}: it does not keep its argument {p.name!r}") from None
            continue
        if p.default is p.empty:
            args.append(literal(value))
        elif p.name == "stride" and p.default is None and value == getattr(module, "kernel_size", None):
            continue  # pools: stride defaults to the kernel size
        elif value != _pair(p.name, p.default, conv) or type(value) is not type(_pair(p.name, p.default, conv)):
            if isinstance(value, (int, float)) and isinstance(p.default, (int, float)) and value == p.default:
                continue  # 1.0 given for a default of 1: the same layer
            args.append(f"{p.name}={literal(value)}")
    return f"{name or 'nn.' + cls.__name__}({', '.join(args)})"


_checked: dict[str, tuple[str, list]] = {}


def _state_shapes(module: nn.Module) -> list:
    return [(k, tuple(v.shape), v.dtype) for k, v in module.state_dict().items()]


def _check_rebuilt(expr: str, module: nn.Module, namespace: dict[str, Any], as_class: type | None = None) -> None:
    """Build ``expr`` (on the meta device) and compare it with ``module`` (printed as ``as_class``,
    the torch class it inherits its constructor from): a wrong guess fails here."""
    if expr not in _checked:
        with torch.device("meta"):
            rebuilt = eval(expr, dict(namespace))  # noqa: S307 - our own generated constructor call
        _checked[expr] = (repr(rebuilt), _state_shapes(rebuilt))
    rebuilt_repr, rebuilt_state = _checked[expr]
    expected = repr(module)
    if as_class is not None:
        expected = as_class.__name__ + expected.removeprefix(type(module).__name__)
    if rebuilt_repr != expected or rebuilt_state != _state_shapes(module):
        raise ConfigError(f"cannot rebuild {type(module).__name__} from its attributes: {expr} gives {rebuilt_repr}")


# -- reading source ---------------------------------------------------------------------------------
@dataclass
class _Code:
    """One function or method: its source text and the names it reads."""

    text: str
    tree: ast.FunctionDef
    globals_: dict[str, Any]
    self_attrs: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)      # read in the body
    soft_names: set[str] = field(default_factory=set)  # read only in annotations


def _read(func: Callable) -> _Code:
    text = textwrap.dedent(inspect.getsource(func))
    tree = ast.parse(text).body[0]
    if not isinstance(tree, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise ConfigError(f"cannot read the source of {func.__qualname__}")
    code = _Code(text, tree, getattr(func, "__globals__", {}))
    annotations: set[int] = set()
    for node in ast.walk(tree):
        for ann in _annotations(node):
            annotations.update(id(n) for n in ast.walk(ann))
            code.soft_names.update(n.id for n in ast.walk(ann) if isinstance(n, ast.Name))
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not tree:
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    for node in ast.walk(tree):
        if id(node) in annotations or node in tree.decorator_list:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound:
            code.names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            code.self_attrs.add(node.attr)
    code.names -= _DROPPED_CALLS
    code.soft_names -= code.names | bound
    return code


def _annotations(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.arg) and node.annotation is not None:
        return [node.annotation]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
        return [node.returns]
    if isinstance(node, ast.AnnAssign):
        return [node.annotation]
    return []


def _is_dropped_call(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id in _DROPPED_CALLS)


def _edit(code: _Code, renames: dict[str, str], keep_decorator: Callable[[ast.expr], bool]) -> str:
    """The function's text with globals renamed, foreign decorators and logging calls removed."""
    lines = code.text.splitlines()
    # Rename by token position, last first, so earlier positions stay valid.
    spots = []
    if renames:
        previous = None
        tokens = list(tokenize.generate_tokens(io.StringIO(code.text).readline))
        for i, tok in enumerate(tokens):
            after = tokens[i + 1].string if i + 1 < len(tokens) else ""
            if (tok.type == tokenize.NAME and tok.string in renames and previous != "."
                    and after != "="):
                spots.append(tok)
            if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
                previous = tok.string
    for tok in reversed(spots):
        row, col = tok.start
        line = lines[row - 1]
        lines[row - 1] = line[:col] + renames[tok.string] + line[col + len(tok.string):]
    drop: set[int] = set()
    for dec in code.tree.decorator_list:
        if not keep_decorator(dec):
            drop.update(range(dec.lineno, dec.end_lineno + 1))
    for node in ast.walk(code.tree):
        for body_name in ("body", "orelse"):
            body = getattr(node, body_name, None)
            if not isinstance(body, list):
                continue
            for stmt in body:
                if _is_dropped_call(stmt):
                    drop.update(range(stmt.lineno, stmt.end_lineno + 1))
                elif (isinstance(stmt, ast.If) and not stmt.orelse and stmt.body
                      and all(_is_dropped_call(s) for s in stmt.body)):
                    drop.update(range(stmt.lineno, stmt.end_lineno + 1))
    return "\n".join(line for i, line in enumerate(lines, 1) if i not in drop)


# -- the plan of one exported class -----------------------------------------------------------------
@dataclass
class _ClassPlan:
    cls: type
    name: str
    base: type
    layout: str = "fields"  # fields: one argument per part; layers: *layers; named: a dict of parts; leaf
    params: dict[str, None] = field(default_factory=dict)
    buffers: dict[str, bool] = field(default_factory=dict)  # name -> persistent
    children: dict[str, bool] = field(default_factory=dict)  # name -> may be None
    child_lists: list[list[str]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)  # read by the code -> default (first instance's)
    varying: set[str] = field(default_factory=set)  # attrs that differ between instances: arguments
    methods: dict[str, _Code] = field(default_factory=dict)
    class_attrs: dict[str, Any] = field(default_factory=dict)


class _Exporter:
    def __init__(self) -> None:
        self.imports: dict[str, None] = {"import torch": None, "from torch import nn": None}
        self.namespace: dict[str, Any] = {"torch": torch, "nn": nn, "OrderedDict": OrderedDict}
        self.plans: dict[type, _ClassPlan] = {}
        self.taken: dict[str, Any] = {"torch": torch, "nn": nn, "build_model": None, "OrderedDict": OrderedDict}
        self.emitted: dict[int, str] = {}  # id(object) -> name in the file
        self.constants: list[str] = []
        self.functions: list[str] = []

    # names ------------------------------------------------------------------------------------
    def _claim(self, name: str, obj: Any) -> str:
        """A unique name in the file for ``obj`` (``name``, or ``name_2`` ... on a clash)."""
        if id(obj) in self.emitted:
            return self.emitted[id(obj)]
        candidate, n = name, 2
        while candidate in self.taken and self.taken[candidate] is not obj:
            candidate, n = f"{name}_{n}", n + 1
        self.taken[candidate] = obj
        self.emitted[id(obj)] = candidate
        return candidate

    def _import(self, name: str, obj: Any, owner: str) -> str | None:
        """An import line for a torch or standard-library object, or None if it is neither."""
        if isinstance(obj, types.ModuleType):
            root = obj.__name__.split(".")[0]
            if root != "torch" and root not in _STDLIB:
                raise ConfigError(f"{owner} uses the module {obj.__name__}, which is not part of torch")
            parent, _, leaf = obj.__name__.rpartition(".")
            if leaf == name:
                return f"from {parent} import {name}" if parent else f"import {name}"
            return f"import {obj.__name__} as {name}"
        module = getattr(obj, "__module__", None) or ""
        root = module.split(".")[0]
        if root == "torch" or (isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType))
                               and root in _STDLIB) or root == "typing":
            for path in ("torch", "torch.nn", "torch.nn.functional", module) if root == "torch" else (module,):
                try:
                    holder = importlib.import_module(path)
                except ImportError:
                    continue
                for attr in (name, getattr(obj, "__name__", name)):
                    if getattr(holder, attr, None) is obj:
                        return f"from {path} import {attr}" + ("" if attr == name else f" as {name}")
        return None

    def resolve(self, name: str, globals_: dict[str, Any], owner: str, soft: bool = False) -> str:
        """Make global ``name`` (as ``owner``'s module sees it) available in the file; its name there."""
        if name not in globals_:
            if hasattr(builtins, name) or soft:
                return name
            raise ConfigError(f"{owner} reads {name!r}, which cannot be found")
        obj = globals_[name]
        if id(obj) in self.emitted:
            return self.emitted[id(obj)]
        try:
            line = self._import(name, obj, owner)
        except ConfigError:
            if soft:
                return name
            raise
        if line is not None:
            if self.taken.get(name, obj) is not obj:
                raise ConfigError(f"{owner}: two different objects named {name!r}")
            self.taken[name] = obj
            self.emitted[id(obj)] = name
            self.imports[line] = None
            self.namespace[name] = obj
            return name
        if soft:  # an annotation naming something of the library: harmless text under postponed annotations
            return name
        if isinstance(obj, types.FunctionType):
            return self._bundle_function(name, obj)
        if isinstance(obj, type) and issubclass(obj, nn.Module) and obj in self.plans:
            return self.plans[obj].name
        if isinstance(obj, type):
            raise ConfigError(f"{owner} uses the class {obj.__qualname__}, which is not a part of the network")
        text = self.value(obj, name)
        emitted = self._claim(name, obj)
        self.constants.append(f"{emitted} = {text}")
        return emitted

    def _renames(self, code: _Code, owner: str) -> dict[str, str]:
        renames = {}
        for name in sorted(code.names):
            emitted = self.resolve(name, code.globals_, owner)
            if emitted != name:
                renames[name] = emitted
        for name in sorted(code.soft_names):
            self.resolve(name, code.globals_, owner, soft=True)
        return renames

    def _keep_decorator(self, code: _Code) -> Callable[[ast.expr], bool]:
        def keep(dec: ast.expr) -> bool:
            root = dec.func if isinstance(dec, ast.Call) else dec
            while isinstance(root, ast.Attribute):
                root = root.value
            if not isinstance(root, ast.Name):
                return False
            if root.id in ("staticmethod", "classmethod", "property"):
                return True
            obj = code.globals_.get(root.id)
            return obj is torch
        return keep

    def _bundle_function(self, name: str, func: types.FunctionType) -> str:
        emitted = self._claim(name, func)
        code = _read(func)
        renames = self._renames(code, func.__qualname__)
        if emitted != name:
            renames[name] = emitted  # a recursive function calls itself by its new name
        self.functions.append(_edit(code, renames, self._keep_decorator(code)))
        return emitted

    # the instance tree ------------------------------------------------------------------------
    def collect(self, module: nn.Module) -> None:
        """Visit every module once: plan the classes, in the order a reader meets them (blocks first)."""
        cls = type(module)
        if _is_torch(cls):
            if isinstance(module, _CONTAINERS):
                for child in module._modules.values():
                    if child is not None:
                        self.collect(child)
            return
        base = _torch_base(cls)
        plan = self.plans.get(cls)
        if plan is None:
            plan = _ClassPlan(cls, "", base, layout="leaf" if base not in (nn.Module, *_CONTAINERS) else "fields")
        if plan.layout != "leaf":
            for child in module._modules.values():
                if child is not None:
                    self.collect(child)
            for name in module._parameters:
                plan.params[name] = None
            for name in module._buffers:
                plan.buffers[name] = name not in module._non_persistent_buffers_set
            for name, child in module._modules.items():
                plan.children[name] = plan.children.get(name, False) or child is None
            plan.child_lists.append(list(module._modules))
        if cls not in self.plans:
            plan.name = self._claim(cls.__name__, cls)
            self.plans[cls] = plan

    def plan_code(self, plan: _ClassPlan) -> None:
        """The methods ``forward`` needs, and what they read."""
        owners = [c for c in plan.cls.__mro__ if not _is_torch(c) and c is not object]
        queue, seen = ["forward"], set()
        while queue:
            name = queue.pop()
            if name in seen:
                continue
            seen.add(name)
            owner = next((c for c in owners if name in vars(c)), None)
            if owner is None:
                continue
            obj = vars(owner)[name]
            func = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
            if not isinstance(func, types.FunctionType):
                plan.class_attrs[name] = obj
                continue
            code = _read(func)
            if "super" in code.names and any(name in vars(c) for c in owners[owners.index(owner) + 1:]):
                raise ConfigError(f"{plan.cls.__name__}.{name} calls a parent's version; cannot write it as one class")
            plan.methods[name] = code
            queue.extend(sorted(code.self_attrs))

    def read_attrs(self, module: nn.Module, plan: _ClassPlan) -> None:
        """The plain attributes the class's code reads (``self.stride``), default = first instance's."""
        read = set().union(*(c.self_attrs for c in plan.methods.values())) if plan.methods else set()
        parts = plan.children.keys() | plan.params.keys() | plan.buffers.keys()
        for name, value in vars(module).items():
            if name in read and name not in _MODULE_STATE and name not in plan.class_attrs and name not in parts:
                if name not in plan.attrs:
                    plan.attrs[name] = value
                elif not _same(value, plan.attrs[name]):
                    plan.varying.add(name)

    def finish_plans(self, root: nn.Module) -> None:
        for plan in self.plans.values():
            if plan.layout == "leaf":
                continue
            names = plan.child_lists
            for name in plan.children:  # a part some instances do not have is optional
                plan.children[name] = plan.children[name] or any(name not in n for n in names)
            same = all(n == names[0] for n in names)
            if plan.base is not nn.Module and all(n == [str(i) for i in range(len(n))] for n in names):
                plan.layout = "layers"
            elif all(n.isidentifier() and not keyword.iskeyword(n) for n in plan.children) and (
                    plan.base is nn.Module or same):
                plan.layout = "fields"
            else:
                plan.layout = "named"
        for plan in self.plans.values():
            self.plan_code(plan)
        for module in root.modules():
            plan = self.plans.get(type(module))
            if plan is not None:
                self.read_attrs(module, plan)

    # writing ----------------------------------------------------------------------------------
    def value(self, value: Any, owner: str) -> str:
        """A value as source: a literal, a torch function by its dotted name, a bundled function,
        ``partial(...)``, or containers of those."""
        try:
            return literal(value)
        except ConfigError:
            pass
        if isinstance(value, (list, tuple)):
            items = [self.value(v, owner) for v in value]
            return f"[{', '.join(items)}]" if isinstance(value, list) else f"({', '.join(items)}{',' if len(items) == 1 else ''})"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{self.value(k, owner)}: {self.value(v, owner)}" for k, v in value.items()) + "}"
        if isinstance(value, functools.partial):
            self.imports["from functools import partial"] = None
            args = [self.value(value.func, owner), *(self.value(a, owner) for a in value.args),
                    *(f"{k}={self.value(v, owner)}" for k, v in value.keywords.items())]
            return f"partial({', '.join(args)})"
        name = getattr(value, "__name__", None)
        for path, holder in (("torch", torch), ("torch.nn.functional", torch.nn.functional), ("nn", nn)):
            if name and getattr(holder, name, None) is value:
                return f"{path}.{name}"
        if isinstance(value, types.FunctionType) and name:
            return self.resolve(name, {name: value}, owner)
        raise ConfigError(f"{owner} keeps a {type(value).__name__} that cannot be written as plain Python")

    def call(self, module: nn.Module, indent: int) -> str:
        """The expression that builds ``module`` (and everything in it)."""
        cls = type(module)
        pad, inner = " " * indent, " " * (indent + 4)
        if _is_torch(cls) and not isinstance(module, _CONTAINERS):
            expr = layer_call(module)
            _check_rebuilt(expr, module, self.namespace)
            return expr
        if _is_torch(cls):
            children = list(module._modules.items())
            if not children:
                return f"nn.{cls.__name__}()"
            if isinstance(module, nn.ModuleDict):
                parts = [f"{inner}{literal(k)}: {self.call(m, indent + 4)}," for k, m in children]
                return f"nn.ModuleDict({{\n" + "\n".join(parts) + f"\n{pad}}})"
            if all(k == str(i) for i, (k, _) in enumerate(children)):
                parts = [f"{inner}{self.call(m, indent + 4)}," for _, m in children]
                opener = "nn.ModuleList([" if isinstance(module, nn.ModuleList) else "nn.Sequential("
                closer = "])" if isinstance(module, nn.ModuleList) else ")"
                return opener + "\n" + "\n".join(parts) + f"\n{pad}{closer}"
            parts = [f"{inner}({literal(k)}, {self.call(m, indent + 4)})," for k, m in children]
            return "nn.Sequential(OrderedDict([\n" + "\n".join(parts) + f"\n{pad}]))"
        plan = self.plans[cls]
        if plan.layout == "leaf":
            expr = layer_call(module, plan.base, plan.name)
            _check_rebuilt(expr.replace(plan.name + "(", f"nn.{plan.base.__name__}(", 1), module, self.namespace,
                           plan.base)
            return expr
        args: list[str] = []
        if plan.layout == "layers":
            args += [self.call(m, indent + 4) for m in module._modules.values()]
        elif plan.layout == "named":
            parts = [f"{inner}    {literal(k)}: {self.call(m, indent + 8) if m is not None else 'None'},"
                     for k, m in module._modules.items()]
            args.append("{\n" + "\n".join(parts) + f"\n{inner}}}")
        for name in plan.params:
            p = module._parameters.get(name)
            if p is None:
                continue
            grad = "" if p.requires_grad else ", requires_grad=False"
            args.append(f"{name}=nn.Parameter({_zeros(p)}{grad})")
        for name, persistent in plan.buffers.items():
            b = module._buffers.get(name)
            if b is not None:
                args.append(f"{name}={_zeros(b) if persistent else _values(b, plan.name, name)}")
        if plan.layout == "fields":
            for name in plan.children:
                child = module._modules.get(name)
                if child is not None:
                    args.append(f"{name}={self.call(child, indent + 4)}")
        for name, default in plan.attrs.items():
            if name in plan.varying and name in vars(module) and not _same(vars(module)[name], default):
                args.append(f"{name}={self.value(vars(module)[name], plan.name)}")
        if not args:
            return f"{plan.name}()"
        return f"{plan.name}(\n" + "\n".join(f"{inner}{a}," for a in args) + f"\n{pad})"

    def class_source(self, plan: _ClassPlan) -> str:
        base = "nn." + plan.base.__name__ if getattr(nn, plan.base.__name__, None) is plan.base else None
        if base is None:
            line = self._import(plan.base.__name__, plan.base, plan.name)
            if line is None:
                raise ConfigError(f"{plan.name} derives from {plan.base.__qualname__}, which cannot be imported")
            self.imports[line] = None
            base = plan.base.__name__
        out = [f"class {plan.name}({base}):"]
        doc = inspect.getdoc(plan.cls) if "__doc__" in vars(plan.cls) and plan.cls.__doc__ else None
        if doc:  # what the class is; not its original arguments, which this file's __init__ does not take
            doc = re.split(r"^\s*(Args|Arguments|Parameters):\s*$", doc, maxsplit=1, flags=re.M)[0].rstrip()
        if doc:
            out.append(textwrap.indent(f'"""{doc}"""' if '"""' not in doc else repr(doc), "    "))
        for name, value in plan.class_attrs.items():
            out.append(f"    {name} = {self.value(value, plan.name)}")
        nothing = not plan.attrs and not plan.params and not plan.buffers
        nothing = nothing and (plan.layout == "layers" or (plan.layout == "fields" and not plan.children))
        if plan.layout != "leaf" and not nothing:  # else the torch base's __init__ does the same
            out.append("")
            out.append(textwrap.indent(self._init_source(plan), "    "))
        for name, code in plan.methods.items():
            text = _edit(code, self._renames(code, f"{plan.name}.{name}"), self._keep_decorator(code))
            out.append("")
            out.append(textwrap.indent(text, "    "))
        return "\n".join(out)

    def _init_source(self, plan: _ClassPlan) -> str:
        sig: list[str] = []
        body: list[str] = []
        if plan.layout == "layers":
            sig.append("*layers: nn.Module")
            body.append("super().__init__(layers)" if plan.base is nn.ModuleList else "super().__init__(*layers)")
        elif plan.layout == "named":
            sig.append("layers: dict[str, nn.Module | None]")
            body += ["super().__init__()", "for name, layer in layers.items():",
                     "    self.add_module(name, layer)"]
        else:
            body.append("super().__init__()")
        star = [] if plan.layout == "layers" else ["*"]
        keyword_args: list[str] = []
        for name in plan.params:
            keyword_args.append(f"{name}: nn.Parameter")
            body.append(f"self.{name} = {name}")
        for name, persistent in plan.buffers.items():
            keyword_args.append(f"{name}: torch.Tensor")
            body.append(f'self.register_buffer("{name}", {name}' + ("" if persistent else ", persistent=False") + ")")
        if plan.layout == "fields":
            for name, optional in plan.children.items():
                keyword_args.append(f"{name}: nn.Module | None = None" if optional else f"{name}: nn.Module")
                body.append(f"self.{name} = {name}")
        for name, default in plan.attrs.items():
            if name in plan.varying:
                kind = type(default).__name__
                hint = f": {kind}" if isinstance(default, (bool, int, float, str)) else ""
                keyword_args.append(f"{name}{hint} = {self.value(default, plan.name)}" if hint
                                    else f"{name}={self.value(default, plan.name)}")
                body.append(f"self.{name} = {name}")
            else:  # the same in every instance: a constant of the class
                body.append(f"self.{name} = {self.value(default, plan.name)}")
        params = ["self", *sig, *(star if keyword_args else []), *keyword_args]
        head = f"def __init__({', '.join(params)}) -> None:"
        if len(head) > 100:
            head = "def __init__(\n" + "".join(f"    {p},\n" for p in params) + ") -> None:"
        return head + "\n" + textwrap.indent("\n".join(body), "    ")


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - values without a plain equality are "different"
        return False


def _zeros(t: torch.Tensor) -> str:
    dtype = "" if t.dtype == torch.float32 else f", dtype={t.dtype}"
    return f"torch.zeros({', '.join(map(str, t.shape)) or '()'}{dtype})"


def _values(t: torch.Tensor, owner: str, name: str) -> str:
    """A buffer that is not in the state_dict (so not loaded with the weights): its values."""
    if t.is_meta or t.numel() > 4096:
        raise ConfigError(f"{owner}.{name} is a constant of {t.numel()} values outside the weights; cannot write it")
    return f"torch.tensor({literal(t.tolist())}, dtype={t.dtype})"


def module_source(model: nn.Module, *, title: str, example_input: tuple[int, ...] | None = None,
                  how: str = "") -> str:
    """The source of a file that rebuilds ``model`` with only torch: its classes and ``build_model()``.

    ``title`` opens the file's docstring; ``how`` (optional) says how it was made;
    ``example_input`` (C, H, W) makes ``python FILE`` run the network once.
    """
    ex = _Exporter()
    ex.collect(model)
    ex.finish_plans(model)
    classes = [ex.class_source(plan) for plan in ex.plans.values()]
    build = ex.call(model, 4)
    imports = dict(ex.imports)
    if "OrderedDict" in build or any("OrderedDict" in c for c in classes):
        imports["from collections import OrderedDict"] = None
    parts = ['"""' + title.strip(), ""]
    if how:
        parts += [how, ""]
    parts += [
        "Plain PyTorch: this file needs only torch. build_model() returns the network with PyTorch's",
        "default initialisation; the parameter names and shapes are the original's, so trained weights",
        "load with model.load_state_dict(state_dict).",
        '"""',
        "from __future__ import annotations",
        "",
        *[*sorted(line for line in imports if " torch" not in line), ""][:-1 if all(" torch" in i for i in imports) else None],
        *sorted((line for line in imports if " torch" in line), key=lambda line: (line[0] == "f", line)),
    ]
    body = [*ex.constants, *([""] if ex.constants else []), *(f"\n\n{f}" for f in ex.functions),
            *(f"\n\n{c}" for c in classes)]
    parts += ["", *body, "", "", "def build_model() -> nn.Module:",
              '    """The configured network (random weights)."""', f"    return {build}", ""]
    if example_input is not None:
        shape = ", ".join(map(str, (1, *example_input)))
        parts += ["", 'if __name__ == "__main__":', "    model = build_model().eval()",
                  f"    x = torch.randn({shape})",
                  "    with torch.no_grad():", "        print(model(x).shape)", ""]
    return re.sub(r"\n{4,}", "\n\n\n", "\n".join(parts))


def zoo_source(name: str, settings: dict[str, Any] | None = None) -> str:
    """Standalone PyTorch source of zoo model ``name`` with ``settings`` (see :func:`module_source`)."""
    from cnnviz.export.snippet import changed_settings
    from cnnviz.zoo import build, get_spec

    spec = get_spec(name)
    resolved = spec.resolve(settings)
    changed = changed_settings(spec, settings)
    model = build(name, device="meta", **(settings or {}))
    title = f"{name}: {textwrap.shorten(spec.description, 200, placeholder=' ...')}"
    title = textwrap.fill(title, 96)
    command = "python -m cnnviz export " + " ".join([name, *(f"--set {k}={v}" for k, v in changed.items()),
                                                     "--format py"])
    how = f"Written by cnnviz: {command}"
    return module_source(model, title=title, how=how,
                         example_input=(resolved["in_channels"], resolved["input_size"], resolved["input_size"]))
