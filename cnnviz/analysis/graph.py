"""The model as a graph of layers with shapes, found by a shape-only forward pass.

The model's own ``forward`` runs on a meta-device input (no memory, no
arithmetic). Every leaf layer with a rule in :mod:`cnnviz.analysis.counting` is
replaced for the duration by a stub that checks its input, computes its output
shape and returns an empty meta tensor, so even BatchNorm costs microseconds
and the weights are never touched (they may live on the CPU, the GPU or the
meta device). The functional operations between layers (``+`` of a ResNet
shortcut, ``torch.cat`` of Inception and DenseNet, ``flatten``, channel shuffle
views) run for real on the meta tensors and are seen through a
``TorchFunctionMode``. Every tensor remembers the row that produced it and its
receptive field, so merges take the union of their inputs' fields.
"""
from __future__ import annotations

import copy
import gc
import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from cnnviz.analysis import receptive_field as rfm
from cnnviz.analysis.counting import FUNCTIONAL_COST, FUNCTIONAL_MACS, LayerMath, Shape, Window, _pool, has_rule_base, rule_for
from cnnviz.errors import ConfigError


@dataclass
class Node:
    """One executed layer or functional operation."""

    index: int
    name: str
    type: str
    module_name: str  # the owning module ("" for the root)
    inputs: list[int]
    input_shapes: list[Shape]
    out_shape: Shape
    params: int
    trainable_params: int
    macs: int | None
    extra_flops: int | None
    activation_bytes: int
    rf: rfm.RF
    note: str = ""
    depth: int = 0
    kernel: tuple[int, int] | None = None
    stride: tuple[float, float] | None = None


@dataclass
class Block:
    """One call of a container module: the rows it produced."""

    name: str
    type: str
    first: int
    last: int
    depth: int


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    input_shape: Shape = ()
    input_bytes: int = 0


@dataclass
class _TensorInfo:
    node: int  # -1 for the input
    rf: rfm.RF
    # (H, W, C) rather than (C, H, W): ConvNeXt and Swin permute for LayerNorm, Linear and attention
    channels_last: bool = False


_VIEW_OPS = {
    "view", "reshape", "transpose", "permute", "contiguous", "chunk", "split", "unsqueeze", "squeeze",
    "__getitem__", "expand", "to", "float", "double", "half", "type_as", "detach", "clone", "unflatten",
    "narrow", "select", "t", "view_as", "reshape_as", "unbind", "tensor_split", "movedim", "swapaxes",
}
_QUERY_OPS = {"size", "dim", "numel", "__get__", "is_contiguous", "__len__", "__format__", "__repr__",
              "element_size", "stride", "storage_offset", "__bool__", "__index__", "__int__", "nelement",
              "get_device", "data_ptr", "__hash__", "__eq__", "ndimension", "is_floating_point", "__setstate__",
              "requires_grad_", "__reduce_ex__", "untyped_storage"}
_MERGE_OPS = {"add", "add_", "__add__", "__iadd__", "__radd__", "mul", "mul_", "__mul__", "__rmul__", "__imul__",
              "sub", "__sub__", "cat", "concat", "stack", "div", "__truediv__"}
_INPLACE_OPS = {"add_", "__iadd__", "mul_", "__imul__", "relu_"}
_FUNCTIONAL_POOLS = {"max_pool2d", "_max_pool2d", "max_pool2d_with_indices", "avg_pool2d"}

_lock = threading.Lock()


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def _to_meta(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj if obj.device.type == "meta" else obj.detach().to("meta")
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_meta(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_meta(v) for k, v in obj.items()}
    return obj


def _spatial_kept(in_shape: Shape, out_shape: Shape) -> bool:
    """Do the last two (height, width) dimensions survive? ``x[:, 0]`` keeps them, ``flatten`` does not."""
    return len(in_shape) >= 2 and len(out_shape) >= 2 and tuple(in_shape[-2:]) == tuple(out_shape[-2:])


def _fast_cat(args: tuple, kwargs: dict) -> torch.Tensor | None:
    """``torch.cat`` of meta tensors by shape arithmetic (the meta kernel is slow: DenseNet has 120 cats)."""
    tensors = args[0] if args else kwargs.get("tensors")
    dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    if not isinstance(tensors, (list, tuple)) or not tensors or not isinstance(dim, int):
        return None
    if not all(isinstance(t, torch.Tensor) and t.device.type == "meta" for t in tensors):
        return None
    first = tensors[0].shape
    dim = dim % len(first)
    if any(len(t.shape) != len(first) or t.dtype != tensors[0].dtype
           or any(a != b for i, (a, b) in enumerate(zip(t.shape, first)) if i != dim) for t in tensors):
        return None  # let torch.cat raise its own error
    shape = list(first)
    shape[dim] = sum(t.shape[dim] for t in tensors)
    return torch.empty(shape, device="meta", dtype=tensors[0].dtype)


class _Recorder(TorchFunctionMode):
    def __init__(self, tracer: "_Tracer") -> None:
        super().__init__()
        self.tracer = tracer

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = _fast_cat(args, kwargs) if func in (torch.cat, torch.concat) else None
        if out is None:
            try:
                out = func(*args, **kwargs)
            except RuntimeError:
                # weights on the CPU or GPU used by a functional call (F.linear(x, self.qkv.weight)):
                # run it on meta copies; the tracer still sees the originals
                if not any(t.device.type != "meta" for t in _tensors((args, kwargs))):
                    raise
                out = func(*_to_meta(args), **_to_meta(kwargs))
        if not self.tracer.inside_leaf:
            self.tracer.functional(func, args, kwargs, out)
        return out


class _Tracer:
    def __init__(self, model: nn.Module, dtype_bytes: int) -> None:
        self.model = model
        self.graph = Graph()
        self.info: dict[int, _TensorInfo] = {}
        self.keep: list[torch.Tensor] = []  # keeps ids unique while tracing
        self.inside_leaf = 0
        self.stack: list[str] = [""]
        # per entry of ``stack``: the channels-last (H, W, C) map shapes that entered that module, so that
        # a reshape back from windows or tokens to such a shape (Swin's window reverse) is known to be one
        self.maps_in: list[set[Shape]] = [set()]
        self.calls: dict[str, int] = {}
        self.counted: dict[int, str] = {}  # id(parameter) -> the row that counted it
        self.pending: dict[int, tuple[nn.Parameter, ...]] = {}  # id(tensor made from parameters only) -> them
        self.failed_in: str | None = None  # the innermost module an exception left
        self.dtype_bytes = dtype_bytes

    # -- bookkeeping -------------------------------------------------------
    def track(self, t: torch.Tensor, node: int, rf: rfm.RF, channels_last: bool = False) -> None:
        self.keep.append(t)
        self.info[id(t)] = _TensorInfo(node, rf, channels_last)

    def lookup(self, t: torch.Tensor) -> _TensorInfo | None:
        return self.info.get(id(t))

    def unique_name(self, base: str) -> str:
        n = self.calls.get(base, 0) + 1
        self.calls[base] = n
        return base if n == 1 else f"{base}:{n}"

    def add_node(self, **kw: Any) -> Node:
        node = Node(index=len(self.graph.nodes), depth=len(self.stack) - 1, **kw)
        self.graph.nodes.append(node)
        return node

    def weights_in(self, tensors: list[torch.Tensor]) -> tuple[nn.Parameter, ...]:
        """The parameters among ``tensors``, and those that tensors made from parameters alone carry."""
        found: list[nn.Parameter] = []
        for t in tensors:
            if isinstance(t, nn.Parameter):
                found.append(t)
            elif self.pending and (carried := self.pending.get(id(t))):
                found.extend(carried)
        return tuple(found)

    @contextmanager
    def leaf(self) -> Iterator[None]:
        self.inside_leaf += 1
        try:
            yield
        finally:
            self.inside_leaf -= 1

    def _params(self, params: Any, row: str) -> tuple[int, int, str]:
        """Count each parameter tensor once, for the first row that uses it.

        Returns (params, trainable, note): a tensor counted by an earlier row (a module called twice,
        ``conv2.weight = conv1.weight``) adds nothing here, and the note says whose it is.
        """
        total = trainable = 0
        shared: list[str] = []
        for p in params:
            if p is None:
                continue
            first = self.counted.get(id(p))
            if first is None:
                self.counted[id(p)] = row
                total += p.numel()
                trainable += p.numel() if p.requires_grad else 0
            elif first != row and first not in shared:
                shared.append(first)
        return total, trainable, f"shared with {', '.join(shared)}" if shared else ""

    # -- leaf layers -------------------------------------------------------
    def leaf_stub(self, name: str, module: nn.Module, rule: Callable[..., LayerMath]) -> Callable:
        def stub(*args: Any, **kwargs: Any) -> torch.Tensor:
            # nothing here is a traced operation: without the recorder, shape and dtype lookups stay cheap
            with torch._C.DisableTorchFunction():
                return body(*args, **kwargs)

        def body(*args: Any, **kwargs: Any) -> Any:
            x = args[0] if args else next(iter(kwargs.values()))
            if not isinstance(x, torch.Tensor):
                raise ConfigError(f"{name} ({type(module).__name__}): expected a tensor input", layer=name)
            src = self.lookup(x)
            shape = tuple(x.shape[1:])
            try:
                lm = rule(name, module, shape, args, kwargs) if getattr(rule, "takes_call", False) \
                    else rule(name, module, shape)
            except ConfigError:
                raise
            except Exception as exc:  # a rule that meets a call it does not know: still a message, not a traceback
                raise ConfigError(f"{name} ({type(module).__name__}): cannot analyse this call: {exc}",
                                  layer=name) from None
            full = list(lm.out_shape)
            full.insert(lm.batch_dim, x.shape[lm.batch_dim])
            out = torch.empty(full, device="meta", dtype=x.dtype)
            in_rf = src.rf if src else rfm.IDENTITY
            rf = _apply(in_rf, lm.window, lm.is_global)
            row = self.unique_name(name)
            # a leaf's own tensors (no generator walk); MultiheadAttention also owns out_proj
            own = module.parameters() if module._modules else module._parameters.values()
            params, trainable, shared = self._params(own, row)
            inplace = bool(getattr(module, "inplace", False))
            passthrough = isinstance(module, (nn.Dropout, nn.Dropout2d, nn.Identity, nn.Flatten))
            # a per-position layer (LayerNorm, Linear, GELU, Dropout) on a channels-last map keeps it so
            last = bool(src and src.channels_last) and _per_position(shape, lm.out_shape)
            note = "; ".join(n for n in (lm.note, "in place: no new memory" if inplace else "", shared,
                                         _CHANNELS_LAST_NOTE if last else "") if n)
            node = self.add_node(
                name=row, type=type(module).__name__, module_name=name,
                inputs=[src.node] if src else [],
                input_shapes=[_chw(shape) if src and src.channels_last else shape],
                out_shape=_chw(lm.out_shape) if last else lm.out_shape,
                params=params, trainable_params=trainable, macs=lm.macs, extra_flops=lm.extra_flops,
                activation_bytes=0 if (inplace or passthrough) else math.prod(lm.out_shape) * self.dtype_bytes,
                rf=rf, note=note,
                kernel=lm.window.kernel if lm.window else None, stride=lm.window.stride if lm.window else None,
            )
            self.track(out, node.index, rf, last)
            if isinstance(module, nn.MaxPool2d) and module.return_indices:
                # x, idx = pool(x): the indices come from the same row (MaxUnpool2d reads them)
                idx = torch.empty(full, device="meta", dtype=torch.int64)
                self.track(idx, node.index, rf)
                return out, idx
            if isinstance(module, nn.MultiheadAttention):
                weights = None
                if lm.attention_weights:
                    weights = torch.empty(lm.attention_weights, device="meta", dtype=x.dtype)
                    self.track(weights, node.index, rf)
                return out, weights
            return out

        return stub

    def opaque(self, name: str, module: nn.Module, forward: Callable) -> Callable:
        """A layer without a counting rule: run it on meta tensors for its shape."""

        def run(*args: Any, **kwargs: Any) -> Any:
            ins = [t for t in _tensors((args, kwargs))]
            srcs = [self.lookup(t) for t in ins]
            with self.leaf():
                target = module
                if any(p.device.type != "meta" for p in module.parameters()) or any(
                        b.device.type != "meta" for b in module.buffers()):
                    target = copy.deepcopy(module)
                    for sub in target.modules():  # the copy must not inherit the tracing stubs
                        sub.__dict__.pop("forward", None)
                    target.to("meta")
                try:
                    out = target(*args, **kwargs) if target is not module else forward(*args, **kwargs)
                except Exception as exc:
                    raise ConfigError(f"{name} ({type(module).__name__}): cannot run on this input: "
                                      f"{str(exc).splitlines()[0][:300]}", layer=name) from None
            known = [s for s in srcs if s]
            outs = _tensors(out)
            names = [self.unique_name(name if len(outs) == 1 else f"{name}[{i}]") for i in range(len(outs))]
            params, trainable, shared = self._params(module.parameters(), names[0] if names else name)
            for i, t in enumerate(outs):
                shape = tuple(t.shape[1:])
                in_shape = tuple(ins[0].shape[1:]) if ins else ()
                if known and _spatial_kept(in_shape, shape):
                    rf = rfm.union([s.rf for s in known])
                    note = "no counting rule for this layer type: MACs unknown; receptive field assumed unchanged"
                else:
                    rf = rfm.UNKNOWN
                    note = "no counting rule for this layer type: MACs and receptive field unknown"
                if shared:
                    note += f"; {shared}"
                node = self.add_node(
                    name=names[i], type=type(module).__name__,
                    module_name=name, inputs=[s.node for s in known], input_shapes=[tuple(t.shape[1:]) for t in ins],
                    out_shape=shape, params=params if i == 0 else 0, trainable_params=trainable if i == 0 else 0,
                    macs=None, extra_flops=None, activation_bytes=math.prod(shape) * self.dtype_bytes, rf=rf,
                    note=note)
                self.track(t, node.index, rf)
            return out

        return run

    def container(self, name: str, module: nn.Module, forward: Callable, as_layer: bool = False) -> Callable:
        """A module traced through. ``as_layer``: a layer that brings its own forward (a channels-first
        LayerNorm that permutes around ``F.layer_norm``); when it makes one row, the row is the layer's."""

        def run(*args: Any, **kwargs: Any) -> Any:
            first = len(self.graph.nodes)
            self.stack.append(name)
            self.maps_in.append({tuple(t.shape[1:]) for t in _tensors((args, kwargs))
                                 if (info := self.lookup(t)) and info.channels_last})
            try:
                out = forward(*args, **kwargs)
            except Exception:
                if self.failed_in is None:
                    self.failed_in = name
                raise
            finally:
                self.stack.pop()
                self.maps_in.pop()
            if as_layer and len(self.graph.nodes) == first + 1 and isinstance(out, torch.Tensor):
                node = self.graph.nodes[first]
                node.name, node.type, node.module_name = self.unique_name(name), type(module).__name__, name
                node.out_shape, node.depth = tuple(out.shape[1:]), len(self.stack) - 1
                info = self.lookup(out)
                last = bool(info and info.channels_last)
                if last:
                    node.out_shape = _chw(node.out_shape)
                else:  # computed channels last inside, permuted back: the layer's output is channels first
                    node.note = "; ".join(n for n in node.note.split("; ") if n != _CHANNELS_LAST_NOTE)
                self.track(out, node.index, info.rf if info else node.rf, last)
            elif len(self.graph.nodes) > first:
                self.graph.blocks.append(Block(name, type(module).__name__, first, len(self.graph.nodes) - 1,
                                               len(self.stack) - 1))
            return out

        return run

    # -- functional operations --------------------------------------------
    def functional(self, func: Callable, args: tuple, kwargs: dict, out: Any) -> None:
        op = getattr(func, "__name__", str(func))
        if op in _QUERY_OPS:
            return
        ins = _tensors((args, kwargs))
        srcs = [s for s in (self.lookup(t) for t in ins) if s]
        outs = _tensors(out)
        weights = self.weights_in(ins)
        if not srcs:
            if weights:  # class_token.expand(...), bias_table[index]: counted where they meet the data
                for t in outs:
                    self.keep.append(t)
                    self.pending[id(t)] = weights
            return
        if not outs:
            return
        first_in = next(t for t in ins if self.lookup(t))
        in_shape = tuple(first_in.shape[1:])
        in_last = srcs[0].channels_last
        if op == "__getitem__" and (window := _slice_window(args, in_shape, in_last)) is not None:
            for t in outs:  # a spatial subsample keeps the layout
                self.track(t, srcs[0].node, srcs[0].rf.through(window.kernel, window.stride, window.padding), in_last)
            return
        if op in _VIEW_OPS:
            for t in outs:
                shape = tuple(t.shape[1:])
                kept = _spatial_kept(in_shape, shape) or _channels_moved(op, args)
                rf = srcs[0].rf if kept else rfm.GLOBAL
                back_to_map = len(in_shape) != 3 and shape in self.maps_in[-1]
                self.track(t, srcs[0].node, rf, back_to_map or _last_after_view(op, args, in_shape, shape, in_last))
            return
        out_shape = tuple(outs[0].shape[1:])
        window, is_global = None, False
        # elementwise and per-position operations keep a channels-last layout; the branches below say otherwise
        last = in_last and _per_position(in_shape, out_shape)
        if op in _MERGE_OPS:
            rf = rfm.union([s.rf for s in srcs])
            if op in {"cat", "concat"}:  # Swin's patch merging joins four channels-last maps along the channels
                dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
                last = all(s.channels_last for s in srcs) and dim in (-1, 3) and len(out_shape) == 3
            elif op == "stack":
                last = False
            else:  # an operand of equal shape shares the layout: x + attn(norm(x)) in Swin
                last = len(out_shape) == 3 and any(
                    info.channels_last for t in ins if (info := self.lookup(t)) and tuple(t.shape[1:]) == out_shape)
        elif op == "flatten":
            rf = srcs[0].rf if _spatial_kept(in_shape, out_shape) else rfm.GLOBAL
        elif op in _FUNCTIONAL_POOLS:
            window = _functional_window(op, args, kwargs)
            rf = srcs[0].rf.through(window.kernel, window.stride, window.padding, window.dilation)
        elif op == "pad" and len(out_shape) == 3 and len(in_shape) == 3:
            pads = list(args[1] if len(args) > 1 else kwargs["pad"]) + [0, 0, 0, 0, 0, 0]
            # F.pad lists the last dimension first: (W, H) channels first, (C, W, H) channels last
            last = in_last and pads[0] == pads[1] == 0
            window = Window((1, 1), (1, 1), (pads[4], pads[2]) if last else (pads[2], pads[0]))
            rf = srcs[0].rf.through(window.kernel, window.stride, window.padding)
        elif op.startswith("adaptive_") and len(out_shape) == 3:
            lm = _adaptive_like(in_shape, out_shape)
            window, is_global = lm.window, lm.is_global
            rf = _apply(srcs[0].rf, window, is_global)
        elif out_shape == in_shape or (len(out_shape) == 3 and _spatial_kept(in_shape, out_shape)):
            rf = srcs[0].rf  # elementwise
        else:
            rf = rfm.UNKNOWN
        mac_rule = FUNCTIONAL_MACS.get(op)
        macs: int | None = None
        if mac_rule is not None:
            macs, extra_flops, window = mac_rule(args, kwargs, outs[0])
            rf = _apply(srcs[0].rf, window, False) if window else rfm.union([s.rf for s in srcs])
        cost = None if mac_rule is not None else FUNCTIONAL_COST.get(op)
        if op in _FUNCTIONAL_POOLS:
            cost = window.kernel[0] * window.kernel[1]
        elif op.startswith("adaptive_"):
            cost = None
        numel = math.prod(out_shape)
        extra = cost * numel if cost is not None else (math.prod(in_shape) if op.startswith("adaptive_") else None)
        if mac_rule is not None:
            extra = extra_flops
        inplace = op in _INPLACE_OPS or bool(kwargs.get("inplace")) or op in {"flatten", "dropout"}
        short = {"__iadd__": "add", "__add__": "add", "__radd__": "add", "add_": "add", "__mul__": "mul",
                 "__rmul__": "mul", "__imul__": "mul", "mul_": "mul", "relu_": "relu", "_max_pool2d": "max_pool2d",
                 "max_pool2d_with_indices": "max_pool2d", "concat": "cat"}.get(op, op)
        owner = self.stack[-1]
        row = self.unique_name(f"{owner}.{short}" if owner else short)
        params, trainable, shared = self._params(weights, row)
        if macs is None and (cost is not None or extra is not None):
            macs = 0
        input_shapes = []
        for t in ins:
            if info := self.lookup(t):
                shape = tuple(t.shape[1:])
                same_layout = info.channels_last or (last and op in _MERGE_OPS and shape == out_shape)
                input_shapes.append(_chw(shape) if same_layout else shape)
        node = self.add_node(
            name=row, type=short, module_name=owner,
            inputs=[s.node for s in srcs], input_shapes=input_shapes,
            out_shape=_chw(out_shape) if last else out_shape, params=params, trainable_params=trainable, macs=macs,
            extra_flops=extra, activation_bytes=0 if inplace else numel * self.dtype_bytes, rf=rf,
            note="; ".join(n for n in ("in place: no new memory" if op in _INPLACE_OPS else "", shared,
                                       _CHANNELS_LAST_NOTE if last else "") if n),
            kernel=window.kernel if window else None, stride=window.stride if window else None)
        for t in outs:
            self.track(t, node.index, rf, last)


def _apply(rf: rfm.RF, window: Window | None, is_global: bool) -> rfm.RF:
    if is_global:
        return rfm.GLOBAL
    if window is None:
        return rf
    return rf.through(window.kernel, window.stride, window.padding, window.dilation)


_CHANNELS_LAST_NOTE = "computed channels last"


def _chw(shape: Shape) -> Shape:
    """A channels-last (H, W, C) shape written as every other row is: (C, H, W)."""
    return (shape[2], shape[0], shape[1])


def _per_position(in_shape: Shape, out_shape: Shape) -> bool:
    """Does an operation on an (H, W, C) map keep every position (LayerNorm, Linear, GELU, Dropout, x + y)?"""
    return len(in_shape) == 3 and len(out_shape) == 3 and in_shape[:2] == out_shape[:2]


def _last_after_view(op: str, args: tuple, in_shape: Shape, out_shape: Shape, in_last: bool) -> bool:
    """Is a view's output channels last? ``permute(0, 2, 3, 1)`` makes it so, ``permute(0, 3, 1, 2)`` undoes it;
    a view that keeps the shape keeps the layout; any other reshape (windows, tokens) is not a map."""
    if op == "permute" and _channels_moved(op, args):
        dims = args[1] if len(args) == 2 and isinstance(args[1], (list, tuple)) else args[1:]
        return not in_last and len(in_shape) == 3 if tuple(dims) == (0, 2, 3, 1) else False
    return in_last and out_shape == in_shape


def _channels_moved(op: str, args: tuple) -> bool:
    """``x.permute(0, 2, 3, 1)`` and back (channels last for a LayerNorm or Linear, as ConvNeXt and Swin do):
    every unit keeps its place, so its receptive field stays."""
    if op != "permute" or not args:
        return False
    dims = args[1] if len(args) == 2 and isinstance(args[1], (list, tuple)) else args[1:]
    return tuple(dims) in {(0, 2, 3, 1), (0, 3, 1, 2)}


def _slice_window(args: tuple, in_shape: Shape, channels_last: bool = False) -> Window | None:
    """A slice like ``x[:, :, ::2, ::2]`` (``x[..., ::2, ::2, :]`` channels last) subsamples: a 1x1 window
    with the slice's step as stride."""
    index = args[1] if len(args) > 1 else None
    if len(in_shape) != 3 or not isinstance(index, tuple) or len(index) != 4:
        return None
    spatial = index[1:3] if channels_last else index[2:]
    if not all(isinstance(i, slice) for i in spatial):
        return None
    steps = tuple(i.step or 1 for i in spatial)
    starts = tuple(-(i.start or 0) for i in spatial)
    return Window((1, 1), steps, starts)  # type: ignore[arg-type]


def _functional_window(op: str, args: tuple, kwargs: dict) -> Window:
    names = (["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode"] if "max" in op
             else ["input", "kernel_size", "stride", "padding", "ceil_mode"])
    bound = dict(zip(names, args))
    bound.update(kwargs)
    pool = (nn.MaxPool2d if "max" in op else nn.AvgPool2d)(
        bound["kernel_size"], bound.get("stride") or None, bound.get("padding", 0), **(
            {"dilation": bound.get("dilation", 1)} if "max" in op else {}), ceil_mode=bool(bound.get("ceil_mode", False)))
    x = bound["input"]
    return _pool("functional", pool, tuple(x.shape[1:])).window  # type: ignore[return-value]


def _adaptive_like(in_shape: Shape, out_shape: Shape) -> LayerMath:
    from cnnviz.analysis.counting import _adaptive

    return _adaptive("functional", nn.AdaptiveAvgPool2d(tuple(out_shape[1:])), in_shape)


def trace(model: nn.Module, input_shape: Shape, dtype: torch.dtype = torch.float32) -> Graph:
    """Run ``model`` on a meta input of ``input_shape`` (C, H, W) and return its layer graph."""
    if any(int(s) <= 0 for s in input_shape):
        raise ConfigError(f"input shape {'x'.join(map(str, input_shape))}: every size must be positive")
    dtype_bytes = torch.empty((), dtype=dtype, device="meta").element_size()
    tracer = _Tracer(model, dtype_bytes)
    patched: list[nn.Module] = []
    with _lock:  # the stubs are set on the module instances: one trace of a model at a time
        was_training: list[nn.Module] = []  # set to eval for the trace, back to training after
        gc_was_enabled = gc.isenabled()
        gc.disable()  # a trace makes many small objects; a collection in the middle triples its time
        try:
            # The stubs and the eval mode are written into each module's __dict__ directly:
            # nn.Module.__setattr__ and .eval() cost milliseconds on a 500-module net.
            for name, module in model.named_modules():
                rule = rule_for(module)
                forward = module.forward
                if rule is not None:
                    stub = tracer.leaf_stub(name, module, rule)
                elif (len(module._modules) == 0 and module is not model and not has_rule_base(module)
                      and (next(module.parameters(recurse=False), None) is not None
                           or next(module.buffers(recurse=False), None) is not None)):
                    # a custom layer with weights: its MACs are unknown. A custom layer without
                    # weights (a shortcut that slices and pads, say) is traced through instead.
                    stub = tracer.opaque(name, module, forward)
                else:
                    stub = tracer.container(name, module, forward, as_layer=not module._modules and has_rule_base(module))
                module.__dict__["forward"] = stub
                patched.append(module)
                if module.training:
                    was_training.append(module)
                    module.__dict__["training"] = False
            x = torch.empty((1, *input_shape), device="meta", dtype=dtype)
            tracer.track(x, -1, rfm.IDENTITY)
            with torch.no_grad(), _Recorder(tracer):
                model(x)
        except ConfigError:
            raise
        except Exception as exc:  # whatever the model's own code raises: a message naming where, never a traceback
            where = tracer.failed_in
            module = model.get_submodule(where) if where else model
            what = f"{where} ({type(module).__name__})" if where else "the network"
            raise ConfigError(f"{what} cannot run on a {'x'.join(map(str, input_shape))} input: "
                              f"{(str(exc).splitlines() or [type(exc).__name__])[0][:300]}", layer=where) from None
        finally:
            for module in patched:
                module.__dict__.pop("forward", None)
            for module in was_training:
                module.__dict__["training"] = True
            if gc_was_enabled:
                gc.enable()
    tracer.graph.input_shape = tuple(input_shape)
    tracer.graph.input_bytes = math.prod(input_shape) * dtype_bytes
    return tracer.graph
