"""The inspection engine: images, activations, filters, effective receptive fields, Grad-CAM."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import cnnviz
from cnnviz.errors import ConfigError
from cnnviz.inspect import activations as act_mod
from cnnviz.inspect import erf as erf_mod
from cnnviz.inspect import filters, gradcam, images, weights


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _photo_like(w: int = 40, h: int = 30) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


# -- images -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP"])
def test_decode_formats(fmt: str) -> None:
    img = _photo_like()
    out = images.decode_upload(_encode(img, fmt))
    assert out.mode == "RGB" and out.size == img.size
    if fmt in ("PNG", "BMP"):
        assert np.array_equal(np.asarray(out), np.asarray(img))


def test_gif_gives_its_first_frame() -> None:
    red, blue = Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))
    buf = io.BytesIO()
    red.save(buf, format="GIF", save_all=True, append_images=[blue])
    out = images.decode_upload(buf.getvalue())
    assert out.mode == "RGB"
    assert tuple(np.asarray(out)[4, 4]) == (255, 0, 0)


def test_modes_are_converted() -> None:
    cmyk = Image.new("CMYK", (6, 6), (0, 255, 255, 0))  # red in CMYK
    red = np.asarray(images.decode_upload(_encode(cmyk, "JPEG"))).astype(int)[3, 3]
    assert np.abs(red - [255, 0, 0]).max() <= 3
    deep = Image.fromarray(np.array([[0, 1000], [2000, 4000]], dtype=np.uint16))
    grey = images.decode_upload(_encode(deep, "PNG"))
    assert grey.mode == "L" and np.asarray(grey).tolist() == [[0, 64], [128, 255]]
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))  # fully transparent -> the white background
    assert np.asarray(images.decode_upload(_encode(rgba, "PNG"))).min() == 255
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    assert tuple(np.asarray(images.decode_upload(_encode(pal, "PNG")))[0, 0]) == (10, 200, 30)
    assert images.decode_upload(_encode(Image.new("L", (5, 5), 7), "PNG")).mode == "L"


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"this is not an image at all", "not an image"),
    (_encode(Image.new("RGB", (64, 64), (1, 2, 3)), "TIFF"), "not supported"),
])
def test_bad_bytes_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        images.decode_upload(data)


def test_truncated_and_huge_files_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    png = _encode(_photo_like(64, 64), "PNG")
    with pytest.raises(ConfigError, match="could not be decoded"):
        images.decode_upload(png[: len(png) // 2])
    with pytest.raises(ConfigError, match="limit is"):
        images.decode_upload(png, max_bytes=1000)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ConfigError, match="too large to decode safely"):
        images.decode_upload(png)


def test_preprocess_imagenet_stages() -> None:
    img = images.photo("chelsea")  # 451x300
    spec = images.InputSpec(3, 224, 256, images.IMAGENET_MEAN, images.IMAGENET_STD)
    prep = images.preprocess(img, spec)
    assert [s.title for s in prep.stages] == ["Original", "Resize", "Centre crop", "Scale to [0, 1]", "Normalise"]
    assert prep.tensor.shape == (1, 3, 224, 224)
    resized = img.resize((385, 256), Image.BILINEAR)
    crop = np.asarray(resized.crop((80, 16, 304, 240)), dtype=np.float32) / 255
    expect = (crop - np.array(spec.mean, dtype=np.float32)) / np.array(spec.std, dtype=np.float32)
    assert np.allclose(prep.tensor[0].permute(1, 2, 0).numpy(), expect, atol=1e-5)
    assert prep.shown.shape == (224, 224, 3)


def test_preprocess_grey_digit_with_padding() -> None:
    drawing = Image.new("L", (280, 280), 255)  # dark stroke on white paper, off centre
    drawing.paste(0, (30, 40, 70, 200))
    spec = images.InputSpec(1, 28, 28, images.MNIST_MEAN, images.MNIST_STD, pad=2)
    prep = images.preprocess(drawing, spec, digit=True)
    titles = [s.title for s in prep.stages]
    assert titles[:3] == ["Original", "Invert", "Fit digit"] and "Pad" in titles
    assert prep.tensor.shape == (1, 1, 32, 32)
    ink = prep.shown > 0.5
    ys, xs = np.nonzero(ink)
    assert ys.max() - ys.min() + 1 == 20  # the tall stroke fills the 20-pixel box
    assert abs(ys.mean() - 15.5) < 1.5 and abs(xs.mean() - 15.5) < 1.5  # centred (28 + 2 * 2 pad)


def test_bundled_sources() -> None:
    for name in images.PHOTOS:
        assert images.photo(name).mode in ("RGB", "L")
    digit, label = images.mnist_digit(0)
    assert digit.size == (28, 28) and 0 <= label <= 9
    assert images.mnist_count() == 1000
    assert images.mnist_digit(999)[1] == 9  # 100 test digits per class, in order
    with pytest.raises(ConfigError):
        images.mnist_digit(1000)


# -- activations ------------------------------------------------------------------------------------

class Twice(nn.Module):
    """Uses one ReLU module twice, as torchvision's ResNet blocks do."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 3, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv2(self.relu(self.conv1(x))))


def test_activations_equal_a_manual_forward_pass() -> None:
    torch.manual_seed(0)
    model = Twice()
    report = cnnviz.analyze(model, (1, 9, 9))
    x = torch.randn(1, 1, 9, 9)
    got = act_mod.activations(model, x, report, ["conv1", "relu", "conv2", "relu:2"])
    with torch.no_grad():
        c1 = model.conv1(x)
        c2 = model.conv2(torch.relu(c1))
    assert torch.allclose(got["conv1"], c1) and (got["conv1"] < 0).any()  # not overwritten by the in-place ReLU
    assert torch.allclose(got["relu"], torch.relu(c1))
    assert torch.allclose(got["conv2"], c2)
    assert torch.allclose(got["relu:2"], torch.relu(c2))
    assert model.relu.inplace and model.training  # restored


def test_zoo_activations_and_layer_names() -> None:
    torch.manual_seed(0)
    model = cnnviz.build("lenet5")
    report = cnnviz.analyze(model, (1, 32, 32))
    names = act_mod.spatial_layers(model, report)
    assert names[0] == "features.c1" and "flatten" not in names
    x = torch.randn(1, 1, 32, 32)
    got = act_mod.activations(model, x, report, ["features.s4"])["features.s4"]
    with torch.no_grad():
        assert torch.allclose(got, model.eval().features(x))
    with pytest.raises(ConfigError, match="no layer"):
        act_mod.activations(model, x, report, ["nope"])


def test_block_output_of_a_concat_is_reachable() -> None:
    model = cnnviz.build("googlenet", input_size=64)
    report = cnnviz.analyze(model, (3, 64, 64))
    ref = act_mod.resolve(model, report, "inception3a.cat")
    assert (ref.module, ref.call) == ("inception3a", 1)
    out = act_mod.activations(model, torch.randn(1, 3, 64, 64), report, ["inception3a.cat"])["inception3a.cat"]
    assert out.shape == (1, 256, 8, 8)


def test_channel_stats_sorting() -> None:
    a = torch.stack([torch.full((2, 2), v) for v in (0.5, -1.0, 3.0)])
    assert [r["channel"] for r in act_mod.channel_stats(a, "mean")] == [2, 0, 1]
    assert [r["channel"] for r in act_mod.channel_stats(a, "-mean")] == [1, 0, 2]
    rows = act_mod.channel_stats(a)
    assert rows[1]["mean"] == -1.0 and rows[0]["active"] == 1.0 and rows[1]["active"] == 0.0


def test_mosaic_tiles_and_pools() -> None:
    maps = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    out, h, w = act_mod.mosaic(maps, columns=2, max_side=2)
    assert (h, w) == (2, 2) and out.shape == (2, 5)
    assert np.isnan(out[:, 2]).all() and out[0, 0] == maps[0, :2, :2].mean()


def test_memory_budget_is_checked_before_running() -> None:
    report = cnnviz.summarize("vgg16", (3, 1024, 1024))
    with pytest.raises(ConfigError, match="refused before allocating"):
        act_mod.check_budget(report)
    small = cnnviz.summarize("vgg16")
    act_mod.check_budget(small, backward=True)
    with pytest.raises(ConfigError, match="refused before allocating"):
        act_mod.activations(cnnviz.build("vgg11", device="meta"), torch.zeros(1, 3, 1024, 1024),
                            cnnviz.summarize("vgg11", (3, 1024, 1024)), ["features.0"])


def test_predict_top_k() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor([0.0, 2.0, 1.0]))
    top = act_mod.predict(model, torch.zeros(1, 1, 2, 2), ["a", "b", "c"], k=2)
    assert [t[1] for t in top] == ["b", "c"] and top[0][2] > top[1][2]


# -- filters ----------------------------------------------------------------------------------------

def test_first_layer_patches() -> None:
    vgg = cnnviz.build("vgg11", width_mult=0.25)
    rgb = filters.first_layer_patches(vgg)
    assert rgb.shape == (16, 3, 3, 3) and rgb.min() >= 0 and rgb.max() <= 1
    assert np.isclose(np.abs(rgb - 0.5).max(), 0.5)
    lenet = cnnviz.build("lenet5")
    with torch.no_grad():
        lenet.features.c1.weight[0].zero_()
    grey = filters.first_layer_patches(lenet)
    assert grey.shape == (6, 5, 5) and np.allclose(grey[0], 0.5)
    deep = filters.channel_kernels(lenet, "features.c3", 3)
    assert deep.shape == (6, 5, 5) and np.allclose(deep, lenet.features.c3.weight[3].detach().numpy())
    with pytest.raises(ConfigError):
        filters.channel_kernels(lenet, "features.c3", 16)


# -- receptive fields -------------------------------------------------------------------------------

def _plain_stack() -> nn.Sequential:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.Conv2d(4, 4, 3, stride=2, padding=1),
        nn.Conv2d(4, 4, 3, padding=2, dilation=2), nn.Conv2d(4, 3, 5, stride=2, padding=1),
    ).double()


@pytest.mark.parametrize("layer, unit", [("1", (3, 4)), ("2", (0, 0)), ("2", (11, 5)), ("3", (2, 3)), ("3", (0, 4)), ("3", (4, 4))])
def test_erf_matches_the_theoretical_field_on_a_plain_stack(layer: str, unit: tuple[int, int]) -> None:
    model = _plain_stack()
    report = cnnviz.analyze(model, (2, 23, 23), dtype=torch.float64)
    x = torch.randn(1, 2, 23, 23, dtype=torch.float64)
    erf = erf_mod.effective_rf(model, x, report, layer, *unit)
    assert erf.support() == erf.clipped_box()
    assert erf.mass_inside() == pytest.approx(1.0)


def test_erf_stays_inside_the_theoretical_field_with_relus() -> None:
    model = cnnviz.build("resnet18", input_size=64, width_mult=0.25)
    report = cnnviz.analyze(model, (3, 64, 64))
    x = torch.randn(1, 3, 64, 64)
    for layer, (y, x_) in [("layer1.0.relu:2", (3, 9)), ("layer2.1.conv1", (0, 7)), ("layer3.0.relu", (2, 1))]:
        erf = erf_mod.effective_rf(model, x, report, layer, y, x_)
        t, l, b, r = erf.clipped_box()
        support = erf.support()
        assert support is not None
        assert t <= support[0] and l <= support[1] and support[2] <= b and support[3] <= r
        assert erf.mass_inside() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="outside"):
        erf_mod.effective_rf(model, x, report, "layer3.0.relu", 9, 0)


@pytest.mark.parametrize("stride, rf", [(1, 7), (2, 15), (3, 27)])
def test_three_3x3_against_one_big_conv(stride: int, rf: int) -> None:
    stack, single = erf_mod.compare_stacks(channels=4, stride=stride)
    assert stack.rf == single.rf == rf
    assert stack.params == 3 * 9 * 16 and single.params == rf * rf * 16
    inside = single.erf[stride**3: stride**3 + rf, stride**3: stride**3 + rf]
    assert np.allclose(inside, 1.0)  # one conv with equal weights: every pixel counts the same
    assert (stack.erf > 0).sum() <= rf * rf
    if stride == 1:  # the stack counts paths: the centre sees 7 x 7 = 49 times more paths than a corner
        mid = stack.erf[1:8, 1:8]
        assert mid[3, 3] == 1.0 and np.isclose(mid[0, 0], 1 / 49)


# -- Grad-CAM ---------------------------------------------------------------------------------------

class TwoDetectors(nn.Module):
    """Channel 0 fires on bright red, channel 1 on bright blue; class c = mean of channel c."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1, bias=False)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[1.0, -1, 0], [0, -1, 1]])[:, :, None, None])
            self.fc.weight.copy_(torch.eye(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.relu(self.conv(x))).flatten(1))


def test_grad_cam_highlights_the_right_region() -> None:
    model = TwoDetectors()
    x = torch.zeros(1, 3, 16, 16)
    x[0, 0, 2:6, 2:6] = 1.0  # a red square top left
    x[0, 2, 10:14, 9:15] = 0.5  # a dimmer blue patch bottom right
    report = cnnviz.analyze(model, (3, 16, 16))
    red = gradcam.grad_cam(model, x, report, "relu")
    assert red.target == 0  # the red square wins
    ys, xs = np.nonzero(red.heatmap > 0.5)
    assert ys.min() >= 1 and ys.max() <= 6 and xs.min() >= 1 and xs.max() <= 6
    blue = gradcam.grad_cam(model, x, report, "relu", target=1)
    peak = np.unravel_index(blue.heatmap.argmax(), blue.heatmap.shape)
    assert 10 <= peak[0] <= 13 and 9 <= peak[1] <= 14
    assert red.heatmap[12, 12] == 0 and blue.heatmap[3, 3] == 0


@pytest.mark.parametrize("name", ["lenet5", "resnet18"])
def test_grad_cam_shape_and_range(name: str) -> None:
    torch.manual_seed(0)
    settings = {"input_size": 64, "width_mult": 0.25} if name == "resnet18" else {}
    model = cnnviz.build(name, **settings)
    shape = (1, 32, 32) if name == "lenet5" else (3, 64, 64)
    report = cnnviz.analyze(model, shape)
    cam = gradcam.grad_cam(model, torch.randn(1, *shape), report)
    assert cam.heatmap.shape == shape[1:]
    assert cam.heatmap.min() >= 0 and cam.heatmap.max() <= 1
    assert cam.coarse.shape == report.row(gradcam.default_layer(model, report)).output_shape[1:]


# -- weights ----------------------------------------------------------------------------------------

def test_random_and_missing_imagenet_weights(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    found = {c.key: c for c in weights.choices("resnet18")}
    assert list(found) == ["imagenet", "random"]
    assert not found["imagenet"].ready and "not on this machine" in found["imagenet"].note
    assert found["imagenet"].input.size == 224 and len(found["imagenet"].labels) == 1000
    assert not found["random"].trained and found["random"].input.input_shape == (3, 224, 224)
    with pytest.raises(ConfigError, match="not on this machine"):
        weights.load("resnet18", "imagenet")

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ConfigError, match="could not download.*ask the person who runs the server"):
        weights.load("resnet18", "imagenet", download=True)
    with pytest.raises(ConfigError, match="has no weights"):
        weights.load("nin", "imagenet")


@pytest.mark.parametrize("name", ["resnet18", "googlenet"])
def test_imagenet_weights_from_the_hub_cache(name: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    torch.manual_seed(0)
    if name == "googlenet":  # the file keeps the auxiliary classifiers; torchvision uses transform_input
        reference = torchvision.models.googlenet(aux_logits=True, init_weights=False, transform_input=True)
    else:
        reference = torchvision.models.resnet18()
    path = weights.imagenet_file(name)
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    choice = weights.find(name, "imagenet")
    assert choice.ready and choice.trained and choice.labels[1] == "goldfish"
    loaded = weights.load(name, "imagenet")
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(loaded.model(x), reference.eval()(x), atol=1e-4)


def test_demo_is_trained_once_and_checkpoints_are_listed(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    from cnnviz.train import TrainingRun, save_checkpoint

    monkeypatch.setenv("CNNVIZ_HOME", str(tmp_path))  # a home of its own: other tests may have made the demo
    monkeypatch.setattr(weights, "DEMO_EPOCHS", 1)
    before = weights.find("lenet5", "mnist")
    assert before.trained and before.input.input_shape == (1, 28, 28) and "first use" in before.note
    loaded = weights.load("lenet5", "mnist")
    after = weights.find("lenet5", "mnist")
    assert after.settings == before.settings and after.input == before.input and "test accuracy" in after.note
    right = 0
    for i in range(0, 1000, 50):
        img, label = images.mnist_digit(i)
        x = images.preprocess(img, after.input).tensor
        right += act_mod.predict(loaded.model, x, after.labels, k=1)[0][1] == str(label)
    assert right >= 16  # of 20 held-out digits, after one epoch
    stamp = weights._demo_file("lenet5").stat().st_mtime
    weights.load("lenet5", "mnist")
    assert weights._demo_file("lenet5").stat().st_mtime == stamp  # read from disk, not trained again

    run = TrainingRun(model="tinyvgg", dataset="mnist", epochs=1, subset=128, seed=0).run()
    save_checkpoint(run, "tiny-test")
    found = {c.key: c for c in weights.choices("tinyvgg")}
    assert "ckpt:tiny-test" in found and found["ckpt:tiny-test"].labels == tuple(str(d) for d in range(10))
    assert weights.load("tinyvgg", "ckpt:tiny-test").model.training is False


def test_mass_side_measures_where_the_gradient_is() -> None:
    grad = np.zeros((11, 11))
    grad[5, 5] = 9.0
    grad[1:10, 1:10] += 0.01  # a faint 9x9 halo
    erf = erf_mod.EffectiveRF(grad, (1, 1, 9, 9), 1.0)
    assert erf.mass_side(0.9) == 1 and erf.mass_side(0.999) == 9
    assert erf_mod.EffectiveRF(np.ones((7, 7)), (0, 0, 6, 6), 1.0).mass_side(0.5) == 5  # 25 of 49 pixels
