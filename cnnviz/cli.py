"""The command line: ``python -m cnnviz list | summary | compare | export | draw | train``."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Sequence

from cnnviz.analysis import ConfigError, Report, human_bytes, human_count, summarize
from cnnviz.analysis.conventions import course_notes
from cnnviz.cli_args import parse_settings
from cnnviz.zoo import get_spec, list_models


def parse_model_arg(text: str) -> tuple[str, dict[str, str]]:
    """``resnet50:stride_placement=paper,width_mult=0.5`` -> name and settings.

    Commas inside brackets belong to the value: ``custom:layers=conv(6,5) relu fc(10)``.
    """
    name, _, rest = text.partition(":")
    return name.strip(), parse_settings([p for p in _top_level_split(rest) if p.strip()]) if rest else {}


def _top_level_split(text: str) -> list[str]:
    """Split ``text`` at the commas that are not inside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth <= 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def _cmd_list(args: argparse.Namespace) -> int:
    specs = list_models(args.family)
    if not specs:
        families = sorted({s.family for s in list_models()})
        raise ConfigError(f"no family {args.family!r}; choose one of {', '.join(families)}")
    if args.format == "json":
        print(json.dumps([{"name": s.name, "family": s.family, "default_input": list(s.default_input),
                           "torchvision": s.torchvision, "description": s.description,
                           "settings": {x.name: x.default for x in s.all_settings}} for s in specs], indent=2))
        return 0
    print(f"{'name':<22} {'family':<10} {'input':<12} {'torchvision twin':<18} description")
    for s in specs:
        shape = "x".join(map(str, s.default_input))
        print(f"{s.name:<22} {s.family:<10} {shape:<12} {s.torchvision or '-':<18} {s.description.splitlines()[0][:70]}")
    return 0


def _report(name: str, settings: dict[str, Any], input_shape: str | None, extra: bool) -> Report:
    return summarize(name, input_shape, include_extra=extra, **settings)


def _cmd_summary(args: argparse.Namespace) -> int:
    report = _report(args.name, parse_settings(args.set), args.input, args.extra)
    if args.format == "json":
        data = report.to_dict()
        data["training_memory"] = report.training_memory(args.batch_size, args.optimizer)
        print(json.dumps(data, indent=2))
    elif args.format == "csv":
        sys.stdout.write(report.to_csv())
    else:
        print(report.to_text(max_depth=args.depth))
        mem = report.training_memory(args.batch_size, args.optimizer)
        print(f"training memory, batch {args.batch_size}, {args.optimizer}: {human_bytes(mem['total'])} "
              f"(weights {human_bytes(mem['weights'])}, gradients {human_bytes(mem['gradients'])}, optimizer "
              f"{human_bytes(mem['optimizer_state'])}, activations {human_bytes(mem['activations'])})")
        for note in course_notes(report):
            print(note)
        print(f"\n{get_spec(args.name).description}")
    return 0


def _cmd_grammar(args: argparse.Namespace) -> int:
    from cnnviz.zoo.custom import grammar_help

    print(grammar_help())
    print('\nUse it as the model custom: python -m cnnviz summary custom --set "layers=conv(6,5) tanh '
          'avgpool(2) ..." --input 1,32,32')
    return 0


def compare_rows(reports: list[Report]) -> list[dict[str, Any]]:
    """The numbers ``compare`` prints, one dict per model."""
    rows = []
    for r in reports:
        t = r.totals
        rf = r.receptive_field
        rows.append({"model": r.model, "input_shape": list(r.input_shape), "output_shape": list(r.output_shape),
                     "params": t.params, "macs": t.macs, "flops": t.flops, "activation_values": t.activation_values,
                     "activation_bytes": t.activation_bytes, "param_bytes": t.param_bytes, "depth": t.depth,
                     "weight_layers_all_branches": r.weighted_layers(),
                     "receptive_field": rf["size"], "jump": rf["jump"]})
    return rows


def _cmd_compare(args: argparse.Namespace) -> int:
    reports = []
    for text in args.names:
        name, settings = parse_model_arg(text)
        reports.append(_report(name, settings, args.input, args.extra))
        reports[-1].model = text
    rows = compare_rows(reports)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    def shape(v: list[int]) -> str:
        return "x".join(map(str, v))

    labels = [("params", "params", lambda v: f"{v:,}"), ("macs", "MACs", human_count),
              ("flops", "FLOPs", human_count), ("activation_values", "activation values", human_count),
              ("activation_bytes", "activation memory", human_bytes), ("param_bytes", "parameter memory", human_bytes),
              ("depth", "Depth (layers with weights)", str),
              ("weight_layers_all_branches", "weight layers, all branches", str),
              ("receptive_field", "receptive field", str), ("jump", "jump", str),
              ("input_shape", "input (CxHxW)", shape), ("output_shape", "output (CxHxW)", shape)]
    first = max(len(title) for _, title, _ in labels) + 2
    width = max(18, *(len(r["model"]) + 2 for r in rows))
    print(f"{'':<{first}}" + "".join(f"{r['model']:>{width}}" for r in rows))
    for key, title, fmt in labels:
        print(f"{title:<{first}}" + "".join(f"{fmt(r[key]):>{width}}" for r in rows))
    return 0


def _whole(lo: int) -> Any:
    """An argparse type: a whole number of at least ``lo`` (argparse exits 2 with the message otherwise)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum {lo}")
        return value

    return parse


def parse_input(text: str | None) -> tuple[int, int, int] | None:
    """``"3,224,224"`` -> ``(3, 224, 224)``."""
    if text is None:
        return None
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigError(f"--input {text!r}: write the input shape as C,H,W, e.g. --input 3,224,224")
    return shape


def _write(path: str, data: bytes) -> int:
    """Write a command's file; an unwritable path is a clear message, not a traceback."""
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"wrote {path} ({human_bytes(len(data))})", file=sys.stderr)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from cnnviz.export import export_file

    data = export_file(args.name, args.format, parse_settings(args.set), parse_input(args.input))
    return _write(args.output, data)


def _cmd_draw(args: argparse.Namespace) -> int:
    from cnnviz.export.drawing import draw_file

    data = draw_file(args.name, args.format, parse_settings(args.set), args.orientation, parse_input(args.input),
                     args.scale)
    return _write(args.output, data)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cnnviz", description="Explore CNN architectures exactly.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list the architecture zoo")
    p.add_argument("--family", help="only this family (e.g. resnet)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("summary", help="per-layer analysis of one model",
                       epilog="Your own network: the model custom with --set \"layers=conv(6,5) tanh avgpool(2) "
                              "...\"; `python -m cnnviz grammar` shows the text form.")
    p.add_argument("name")
    p.add_argument("--input", help="input shape C,H,W (default: the model's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a model setting (repeatable)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.add_argument("--extra", action="store_true", help="add elementwise FLOPs (BN, activations, pooling) to FLOPs")
    p.add_argument("--depth", type=_whole(0), default=None, help="table: hide layers nested deeper than this")
    p.add_argument("--batch-size", type=_whole(1), default=32, help="for the training-memory estimate")
    p.add_argument("--optimizer", choices=["sgd", "sgd_momentum", "adam"], default="adam")
    p.set_defaults(func=_cmd_summary)

    p = sub.add_parser("grammar", help="the network builder's text form (the model custom, --set layers=...)")
    p.set_defaults(func=_cmd_grammar)

    p = sub.add_parser("compare", help="totals of several models side by side (NAME or NAME:key=value,...)")
    p.add_argument("names", nargs="+")
    p.add_argument("--input", help="input shape C,H,W for all (default: each model's)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--extra", action="store_true")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("export", help="write a model as plain PyTorch code, ONNX, or its layer table (CSV/JSON)")
    p.add_argument("name")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a model setting (repeatable)")
    p.add_argument("--input", help="input shape C,H,W (H = W; default: the model's)")
    p.add_argument("--format", choices=["py", "onnx", "csv", "json"], required=True,
                   help="py: a PyTorch file that needs only torch; onnx: the model with random weights; "
                        "csv: the layer table; json: the whole analysis")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("draw", help="draw a model's layer graph (skip connections, branches) as SVG, PNG or PDF")
    p.add_argument("name")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a model setting (repeatable)")
    p.add_argument("--input", help="input shape C,H,W (default: the model's)")
    p.add_argument("--format", choices=["svg", "png", "pdf"], default="svg")
    p.add_argument("--orientation", choices=["horizontal", "vertical"], default="horizontal")
    p.add_argument("--scale", type=float, default=1.0, help="PNG only: pixels per inch / 100 (3 for slides)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write")
    p.set_defaults(func=_cmd_draw)

    from cnnviz import experiments_cli, train_cli

    p = sub.add_parser("train", help="train a model on a dataset (see --help)")
    train_cli.add_arguments(p)
    p.set_defaults(func=train_cli.run)

    p = sub.add_parser("checkpoints", help="list the saved checkpoints; share one with the class, or prune")
    train_cli.add_checkpoint_arguments(p)
    p.set_defaults(func=train_cli.checkpoints)

    p = sub.add_parser("experiment", help="one of the course's one-click experiments (depth, activations, ...)")
    experiments_cli.add_arguments(p)
    p.set_defaults(func=experiments_cli.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: not enough memory for this; try a smaller input or model", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader (``| head``) left: stop quietly, and keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
