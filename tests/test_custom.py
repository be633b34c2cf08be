"""The network builder's grammar and model: round trips, shapes against real forwards, messages, limits."""
from __future__ import annotations

import json
import os

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torchvision.models.resnet import BasicBlock as TvBasicBlock
from torchvision.models.resnet import Bottleneck as TvBottleneck

import cnnviz
from cnnviz.builder import describe
from cnnviz.cli import main
from cnnviz.zoo.custom import (LAYER_KINDS, LENET5_TEXT, MAX_LAYERS, MAX_REPEAT, MAX_TEXT, REPEAT, BuilderError,
                               LayerSpec, _module, build_network, expand, format_network, grammar_help, make_layer,
                               parse, walk)

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=os.environ.get("CI") == "true")

# -- hand-worked numbers ------------------------------------------------------------------------


def test_lenet5_1998_text_gives_the_course_numbers():
    steps, _ = walk(parse(LENET5_TEXT), (1, 32, 32))
    shapes = [s.output_shape for s in steps if s.spec.kind in ("conv", "avgpool", "fc")]
    assert shapes == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120,), (84,), (10,)]
    assert [s.params for s in steps if s.params] == [156, 2416, 48120, 10164, 850]
    assert sum(s.params for s in steps) == 61_706
    fc1 = steps[6]
    assert fc1.note == "flattens 16 x 5 x 5 = 400 inputs" and fc1.formula == "(400 + 1) x 120 = 48,120"
    assert steps[0].formula == "(5x5x1 + 1) x 6 = 156"
    model = cnnviz.build("custom")  # the default text is LeNet-5 on 32x32x1
    assert sum(p.numel() for p in model.parameters()) == 61_706
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 10)
    assert model.get_classifier() is model.head.fc3


def test_lenet5_rows_from_the_analysis():
    d = describe(LENET5_TEXT, (1, 32, 32))
    assert d.ok and d.params == 61_706 and d.macs == 416_520
    assert [r.rf for r in d.rows[:6]] == [5, 5, 6, 14, 14, 16]
    assert [r.jump for r in d.rows[:6]] == [1, 1, 2, 2, 2, 4]
    assert d.rows[0].macs == 28 * 28 * 6 * 25 and d.rows[0].activation_bytes == 6 * 28 * 28 * 4
    assert d.rows[6].modules == ("features.flatten1", "features.fc1") and d.rows[6].macs == 48_000
    assert describe(LENET5_TEXT, (1, 32, 32)) is d  # cached: nothing rebuilt


def test_blocks_are_torchvisions():
    steps, _ = walk(parse("residual(64) residual(128,stride=2) bottleneck(64) bottleneck(64)"), (64, 56, 56))
    assert [s.output_shape for s in steps] == [(64, 56, 56), (128, 28, 28), (256, 28, 28), (256, 28, 28)]

    def count(m: nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    down = nn.Sequential(nn.Conv2d(64, 128, 1, 2, bias=False), nn.BatchNorm2d(128))
    assert steps[0].params == count(TvBasicBlock(64, 64))
    assert steps[1].params == count(TvBasicBlock(64, 128, 2, down))
    down = nn.Sequential(nn.Conv2d(128, 256, 1, bias=False), nn.BatchNorm2d(256))
    assert steps[2].params == count(TvBottleneck(128, 64, 1, down))
    assert steps[3].params == count(TvBottleneck(256, 64))
    model = build_network("residual(64) residual(128,stride=2) bottleneck(64) bottleneck(64)", (64, 56, 56))
    tv = TvBasicBlock(64, 128, 2, nn.Sequential(nn.Conv2d(64, 128, 1, 2, bias=False), nn.BatchNorm2d(128)))
    assert model.features.residual2.state_dict().keys() == tv.state_dict().keys()


def test_ceil_pooling_is_pytorchs():
    # GoogLeNet's first pooling: 112 -> 56 with ceil_mode (55 without); a last window must start inside
    steps, _ = walk(parse("maxpool(3,stride=2,ceil=true) maxpool(3,stride=2) maxpool(2,ceil=true)"), (1, 112, 112))
    assert [s.output_shape[1] for s in steps] == [56, 27, 14]
    steps, _ = walk(parse("maxpool(2,stride=2,padding=1,ceil=true)"), (1, 5, 5))
    assert steps[0].output_shape[1] == nn.MaxPool2d(2, 2, 1, ceil_mode=True)(torch.zeros(1, 1, 5, 5)).shape[-1]


def test_inception_3a_and_separable():
    # GoogLeNet's inception (3a) on 28x28x192 with the paper's 5x5 convs: 256 channels
    steps, _ = walk(parse("inception(64,96,128,16,32,32) separable(64,stride=2)"), (192, 28, 28))
    assert steps[0].output_shape == (256, 28, 28)
    assert steps[0].params == (192 + 1) * 64 + (192 + 1) * 96 + (9 * 96 + 1) * 128 + (192 + 1) * 16 \
        + (25 * 16 + 1) * 32 + (192 + 1) * 32
    assert steps[1].output_shape == (64, 14, 14) and steps[1].params == 9 * 256 + 2 * 256 + 256 * 64 + 2 * 64


# -- the grammar ------------------------------------------------------------------------------


@pytest.mark.parametrize("text,canonical", [
    ("conv(6, 5)\ntanh | avgpool(2) -> fc(10)", "conv(6,5) tanh avgpool(2) fc(10)"),
    ("conv(6,5,padding=same,stride=1)", "conv(6,5,stride=1,padding=same)"),
    ("conv(C=8,K=3x5)", "conv(8,3x5)"),
    ("3 * ( conv(64,3,padding=same) relu ) maxpool(2)", "3*(conv(64,3,padding=same) relu) maxpool(2)"),
    ("separable(32,stride=2) dropout(.25) leakyrelu(0.2) lrn", "separable(32,stride=2) dropout(0.25) leakyrelu(0.2) lrn"),
    ("fc(10,bias=false) softmax", "fc(10,bias=false) softmax"),
    ("maxpool(3, stride=2, ceil=true)", "maxpool(3,stride=2,ceil=true)"),
    ("", ""),
])
def test_canonical_text(text, canonical):
    assert format_network(parse(text)) == canonical
    assert format_network(parse(canonical)) == canonical


def test_repetition_expands_and_keeps_its_top_index():
    layers = parse("conv(8,3) 2*(relu 2*(bn)) fc(10)")
    assert [s.kind for s in layers] == ["conv", REPEAT, "fc"]
    assert [(t, s.kind) for t, s in expand(layers)] == [
        (0, "conv"), (1, "relu"), (1, "bn"), (1, "bn"), (1, "relu"), (1, "bn"), (1, "bn"), (2, "fc")]


def test_spans_and_make_layer():
    text = "conv(6,5) | relu"
    layers = parse(text)
    assert [text[a:b] for a, b in (s.span for s in layers)] == ["conv(6,5)", "relu"]
    assert make_layer("conv", 6, 5, padding="same") == parse("conv(6,5,padding=same)")[0]
    assert make_layer("conv", 6, (5, 3)).text == "conv(6,5x3)"
    assert parse("maxpool(3)")[0].get("stride") == 3  # a pool's stride defaults to its window
    with pytest.raises(BuilderError, match="conv has no argument 'size'"):
        make_layer("conv", 6, size=3)


def test_layer_kinds_table_describes_every_argument():
    assert list(LAYER_KINDS) == ["conv", "maxpool", "avgpool", "gap", "relu", "tanh", "sigmoid", "leakyrelu", "bn",
                                 "dropout", "lrn", "flatten", "fc", "softmax", "residual", "bottleneck", "inception",
                                 "separable"]
    conv = LAYER_KINDS["conv"]
    assert [a.name for a in conv.args] == ["C", "K", "stride", "padding", "dilation", "groups", "bias"]
    assert conv.positional == 2 and conv.arg("padding").type == "padding" and conv.arg("bias").default is True
    assert all(a.help for k in LAYER_KINDS.values() for a in k.args)
    assert "conv(C, K, stride=1, padding=0, dilation=1, groups=1, bias=true)" in grammar_help()


# -- messages -------------------------------------------------------------------------------


@pytest.mark.parametrize("text,message,position", [
    ("conv(6 5)", "expected ',' or ')': '5' at character 8", 7),
    ("conv(6,5) cnv(3)", "unknown layer 'cnv' at character 11; did you mean conv?", 10),
    ("conv(6,5) relu(8)", "relu takes no arguments: '(' at character 15", 14),
    ("conv(6,", "conv K: expected a value: the end of the text at character 8", 7),
    ("conv(6)", "conv at character 1 needs K: write conv(C, K, stride=1, padding=0, dilation=1, groups=1, bias=true)", 0),
    ("conv(6,5,7)", "conv takes 2 positional arguments", 9),
    ("conv(6,stride=1,5)", "a positional argument after a named one", 16),
    ("conv(6,5,bias=maybe)", "conv bias is true or false: 'maybe' at character 15", 14),
    ("conv(0,5)", "conv C must be at least 1: '0' at character 6", 5),
    ("dropout(1.5)", "dropout p must be between 0 and 0.99", 8),
    ("conv(6,5) )", "unmatched ')'", 10),
    ("3*(relu", "expected ')' to close the repetition: the end of the text at character 8", 7),
    ("0*(relu)", "a repetition count is 1 to 100", 0),
    ("2*()", "empty repetition", 0),
    ("conv(6,5)\nrelu $", "unexpected '$' at line 2, character 6", 15),
    ("conv(6,5x5x5)", "unexpected '5x5x5'", 7),
])
def test_malformed_text_is_one_line_naming_the_token(text, message, position):
    with pytest.raises(BuilderError) as err:
        parse(text)
    assert message in str(err.value) and "\n" not in str(err.value)
    if position is not None:
        assert err.value.position == position


@pytest.mark.parametrize("text,shape,message,index", [
    ("conv(6,5) avgpool(2) conv(16,40,padding=1)", (1, 32, 32),
     "layer 3 conv(16,40,padding=1) at character 22: kernel 40 larger than the padded input 16x16", 2),
    ("conv(16,40)", (1, 28, 28), "layer 1 conv(16,40) at character 1: kernel 40 larger than the input 28x28", 0),
    ("conv(6,5) conv(8,3,groups=4)", (1, 32, 32), "6 input channels not divisible by 4 groups", 1),
    ("conv(8,3,groups=3)", (3, 8, 8), "8 output channels not divisible by 3 groups", 0),
    ("conv(8,3,dilation=4)", (3, 8, 8), "dilated kernel 9 (kernel 3, dilation 4) larger than the input 8x8", 0),
    ("maxpool(3,padding=2)", (3, 8, 8), "padding 2 is more than half the window 3", 0),
    ("avgpool(4)", (3, 3, 3), "window 4 larger than the input 3x3", 0),
    ("conv(8,4,stride=2,padding=same)", (3, 8, 8), "padding=same keeps the size only at stride 1", 0),
    ("fc(10) conv(3,3)", (1, 8, 8), "conv needs H x W x C maps, but its input is 10 values", 1),
    ("2*(relu gap) fc(10)", (3, 8, 8), "layer 4 gap at character 9: gap needs H x W x C maps", 3),
])
def test_impossible_layer_names_the_layer_and_the_rule(text, shape, message, index):
    with pytest.raises(BuilderError) as err:
        walk(parse(text), shape, text=text)
    assert message in str(err.value)
    assert err.value.layer_index == index
    with pytest.raises(BuilderError, match=message.split(": ")[-1].replace("(", r"\(").replace(")", r"\)")):
        build_network(text, shape)
    d = describe(text, shape)
    assert d.error is not None and d.rows[-1].error == str(d.error) and d.rows[-1].index == index


def test_limits():
    with pytest.raises(BuilderError, match=f"the limit is {MAX_TEXT:,}"):
        parse("relu " * (MAX_TEXT // 5 + 1))
    with pytest.raises(BuilderError, match="a repetition count is 1 to 100"):
        parse(f"{MAX_REPEAT + 1}*(relu)")
    with pytest.raises(BuilderError, match=f"the limit is {MAX_LAYERS:,}"):
        parse("100*(100*(relu))")
    with pytest.raises(BuilderError, match="nest at most"):
        parse("2*(2*(2*(2*(2*(relu)))))")
    with pytest.raises(BuilderError, match="at most 100,000"):
        parse("conv(100001,3)")
    with pytest.raises(BuilderError, match="the network is empty"):
        build_network("", (1, 8, 8))


def test_the_guard_refuses_before_allocating(monkeypatch):
    monkeypatch.setenv("CNNVIZ_MAX_PARAMS", "1000000")
    text = "fc(2000) fc(1000)"  # 2,000 x 3,073 + 1,000 x 2,001 = 8,147,000 parameters
    with pytest.raises(BuilderError, match="refused before allocating anything: the network has 8,147,000"):
        cnnviz.build("custom", layers=text, in_channels=3, input_size=32, num_classes=1000)
    # the analysis (meta device, nothing allocated) still answers
    assert cnnviz.summarize("custom", layers=text, in_channels=3, input_size=32, num_classes=1000).totals.params \
        == 8_147_000


def test_zoo_entry_checks_the_classes():
    with pytest.raises(BuilderError, match="ends with 5 outputs but there are 10 classes: end it with fc\\(10\\)"):
        cnnviz.build("custom", layers="fc(5)")
    model = cnnviz.build("custom", layers="conv(8,3,padding=same) relu gap fc(5)", num_classes=5, in_channels=3,
                         input_size=16)
    assert model(torch.zeros(1, 3, 16, 16)).shape == (1, 5)
    model.reset_classifier(7)
    assert model(torch.zeros(1, 3, 16, 16)).shape == (1, 7)


def test_cli_summary_compare_and_grammar(capsys):
    assert main(["summary", "custom", "--set", f"layers={LENET5_TEXT}", "--input", "1,32,32"]) == 0
    assert "parameters: 61,706" in capsys.readouterr().out
    assert main(["summary", "custom", "--set", "layers=conv(6,5) relu(", "--input", "1,32,32"]) == 2
    assert capsys.readouterr().err == "error: relu takes no arguments: '(' at character 15\n"
    # commas inside the brackets belong to the text
    assert main(["compare", "lenet5", "custom:layers=conv(8,5) bn relu maxpool(2) conv(16,5) fc(10),num_classes=10",
                 "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[1]["params"] == 208 + 16 + 3216 + (16 * 10 * 10 + 1) * 10  # on 32x32x1
    assert main(["grammar"]) == 0
    out = capsys.readouterr().out
    assert "residual(C, stride=1)" in out and "N*( ... )" in out
    with pytest.raises(SystemExit):
        main(["summary", "--help"])
    assert "python -m cnnviz grammar" in capsys.readouterr().out


# -- properties -------------------------------------------------------------------------------


def _value(arg) -> st.SearchStrategy:
    small = {"C": (1, 6), "N": (1, 12), "K": (1, 4), "stride": (1, 3), "padding": (0, 2), "dilation": (1, 2),
             "groups": (1, 2), "size": (1, 5), "c1": (1, 4), "c3r": (1, 4), "c3": (1, 4), "c5r": (1, 4),
             "c5": (1, 4), "pool_proj": (1, 4)}
    if arg.type == "bool":
        return st.booleans()
    if arg.type == "float":
        return st.sampled_from([0.0, 0.01, 0.2, 0.5]) if arg.name != "p" else st.sampled_from([0.0, 0.1, 0.5])
    lo, hi = small[arg.name]
    whole = st.integers(lo, hi)
    if arg.type == "int":
        return whole
    sizes = st.one_of(whole, st.tuples(whole, whole))
    return st.one_of(sizes, st.just("same")) if arg.type == "padding" else sizes


@st.composite
def layer(draw, depth: int = 0) -> LayerSpec:
    kinds = list(LAYER_KINDS) + (["repeat"] if depth < 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == REPEAT:
        body = draw(st.lists(layer(depth + 1), min_size=1, max_size=3))
        return LayerSpec(REPEAT, (("n", draw(st.integers(1, 3))),), tuple(body))
    args = []
    for a in LAYER_KINDS[kind].args:
        if a.required or draw(st.booleans()):
            args.append((a.name, draw(_value(a))))
    return LayerSpec(kind, tuple(args))


networks = st.lists(layer(), min_size=1, max_size=6)
inputs = st.tuples(st.integers(1, 4), st.integers(1, 12), st.integers(1, 12))


@settings(max_examples=150, **SETTINGS)
@given(layers=networks)
def test_text_network_text_round_trips(layers):
    text = format_network(layers)
    assert parse(text) == layers
    assert format_network(parse(text)) == text


def _plain_forward(layers: list[LayerSpec], shape: tuple[int, int, int]) -> None:
    """The layers as plain modules, without the shape walk's checks: PyTorch's own verdict."""
    x = torch.randn(2, *shape)
    for _, spec in expand(layers):
        if spec.kind == "fc":
            x = x.flatten(1)
        m = _module(spec, tuple(x.shape[1:])).eval()
        with torch.no_grad():
            x = m(x)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # PyTorch's note on its own padding
@settings(max_examples=120, **SETTINGS)
@given(layers=networks, shape=inputs)
def test_every_valid_network_matches_a_real_forward(layers, shape):
    try:
        steps, _ = walk(layers, shape)
    except BuilderError as exc:
        if "needs H x W x C maps" not in str(exc):  # PyTorch reads a flat vector as one unbatched image
            with pytest.raises(Exception):  # noqa: PT011 - any failure of PyTorch's own
                _plain_forward(layers, shape)
        return
    model = build_network(layers, shape).eval()
    seen: dict[str, tuple] = {}
    hooks = [model.get_submodule(names[-1]).register_forward_hook(
        lambda mod, i, o, n=names[-1]: seen.__setitem__(n, tuple(o.shape[1:]))) for names in model.rows]
    with torch.no_grad():
        out = model(torch.randn(2, *shape))
    for h in hooks:
        h.remove()
    assert tuple(out.shape[1:]) == steps[-1].output_shape
    for step, names in zip(steps, model.rows):
        assert seen[names[-1]] == step.output_shape, step.spec.text
        assert sum(p.numel() for n in names for p in model.get_submodule(n).parameters()) == step.params
    d = describe(layers, shape)
    assert d.ok and d.report.totals.params == sum(s.params for s in steps)
    assert [r.output_shape for r in d.rows] == [s.output_shape for s in steps]


grammar_chars = st.text(alphabet="conv(),=*|->x0123456789 \nrelufcpadingsmexbt.", max_size=60)


@settings(max_examples=200, **SETTINGS)
@given(text=st.one_of(grammar_chars, st.text(max_size=40), networks.map(format_network).flatmap(
    lambda t: st.integers(0, max(0, len(t) - 1)).map(lambda i: t[:i] + t[i + 1:]))), shape=inputs)
def test_every_invalid_text_raises_the_one_error(text, shape):
    try:
        layers = parse(text)
        if layers:
            with torch.device("meta"):
                build_network(layers, shape)
        describe(text, shape)
    except BuilderError as exc:
        assert str(exc) and "\n" not in str(exc)


def test_same_text_same_weights_names():
    text = "conv(8,3) bn relu residual(8) inception(2,2,2,2,2,2) separable(4,K=5) lrn gap fc(10)"
    first = cnnviz.build("custom", layers=text, in_channels=3, input_size=16)
    second = cnnviz.build("custom", layers=text, in_channels=3, input_size=16)
    second.load_state_dict(first.state_dict(), strict=True)
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(first.eval()(x), second.eval()(x))


def test_training_needs_class_scores():
    from cnnviz.analysis import ConfigError
    from cnnviz.train import TrainingRun

    with pytest.raises(ConfigError, match="output is 28 x 28 x 10 maps, but training needs one score per class: "
                                          "end it with fc\\(10\\)"):
        TrainingRun(model="custom", settings={"layers": "conv(10,5,padding=same)"}, device="cpu").run()


def test_astronomical_layers_are_refused_not_crashed():
    d = describe("fc(1000000)", (1_000_000, 1_000_000, 1_000))
    assert "more than any computer holds" in str(d.error) and d.rows[-1].index == 0
    d = describe("conv(100000,9000)", (1_000_000, 9_000, 9_000))
    assert "more than any computer holds" in str(d.error)
    d = describe("conv(1000,3,padding=same) fc(1000000)", (3, 100_000, 100_000))  # 1e19 weights in the fc
    assert d.error is not None and d.error.layer_index == 1
