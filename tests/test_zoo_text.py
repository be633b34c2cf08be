"""Zoo models written in the builder's grammar: the same network, or the reason why not."""
from __future__ import annotations

import pytest

import cnnviz
from cnnviz.builder import describe
from cnnviz.zoo.custom import LENET5_TEXT, PRESETS, BuilderError
from cnnviz.zoo_text import zoo_text


@pytest.mark.parametrize("name,settings", [
    ("lenet5", {}), ("alexnet", {}), ("alexnet_paper", {}), ("zfnet", {}), ("vgg11_bn", {}), ("resnet18", {}),
    ("resnet50", {}), ("mobilenet_v1", {}), ("nin", {}), ("mlp", {}), ("tinyvgg", {}),
    ("googlenet", {"batch_norm": False, "branch_5x5": "5x5"}),  # the paper's GoogLeNet
])
def test_the_text_builds_the_same_network(name, settings):
    z = zoo_text(name, settings)
    report = cnnviz.summarize(name, **settings)
    d = describe(z.text, z.input_size)
    assert d.ok and d.params == report.totals.params and d.output_shape == report.output_shape
    assert d.macs == report.totals.macs


def test_lenet5_and_the_presets():
    assert zoo_text("lenet5").text == LENET5_TEXT
    assert zoo_text("alexnet").text == PRESETS["AlexNet"].text
    assert zoo_text("vgg11").text == format_vgg11()
    assert zoo_text("mobilenet_v1").text.startswith("conv(32,3,stride=2,padding=1,bias=false) bn relu separable(64)")
    assert zoo_text("resnet18", {"num_classes": 10, "input_size": 64}).num_classes == 10


def format_vgg11() -> str:
    from cnnviz.zoo.custom import expand, format_network, parse

    return format_network([s for _, s in expand(parse(PRESETS["VGG-11"].text))])


@pytest.mark.parametrize("name,settings,reason", [
    ("mobilenet_v2", {}, "ReLU6 at features.0.2"),
    ("plain18", {}, "a BasicBlock without its skip connection (a plain network) at layer1.0"),
    ("resnet20", {}, "shortcut pads zeros (option A"),
    ("googlenet", {}, "batch norm with eps 0.001 at conv1.bn"),
    ("densenet121", {}, "_DenseBlock's cat"),
    ("squeezenet1_0", {}, "Fire's cat (not a layer of the grammar) at features.3"),
    ("lenet5", {"variant": "paper"}, "at features.act1"),
])
def test_what_cannot_be_written_says_why(name, settings, reason):
    with pytest.raises(BuilderError, match="cannot be written in the builder's grammar") as err:
        zoo_text(name, settings)
    assert reason in str(err.value)


@pytest.mark.parametrize("label", list(PRESETS))
def test_presets_are_their_zoo_networks(label):
    preset = PRESETS[label]
    d = describe(preset.text, preset.input_size)
    twin = {"LeNet-5 (1998)": "lenet5", "AlexNet": "alexnet", "VGG-11": "vgg11", "A MobileNet-style net": "mobilenet_v1"}
    if label == "Empty":
        assert not d.rows and d.error is None
        return
    assert d.ok and d.output_shape == (preset.num_classes,)
    if label in twin:
        assert d.params == cnnviz.summarize(twin[label]).totals.params
    else:  # ResNet-20's layout with projections on the two shortcuts that change shape
        assert d.params == cnnviz.summarize("resnet20").totals.params + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
