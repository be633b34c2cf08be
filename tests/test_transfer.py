"""Transfer learning: frozen weights stay frozen, trainable counts are right, the cases run."""
from __future__ import annotations

import os

import pytest
import torch
import torchvision
from torch import nn

from cnnviz.train import transfer as T
from cnnviz.train.tensors import TensorRun, train_tensors
from cnnviz.errors import ConfigError
from cnnviz.zoo import build


def _net(batch_norm: bool = False, classes: int = 5) -> nn.Module:
    torch.manual_seed(0)
    return build("tinyvgg", width=4, blocks=2, batch_norm=batch_norm, num_classes=classes)


def _splits(n: int = 48, classes: int = 3) -> T.Splits:
    g = torch.Generator().manual_seed(1)
    y = torch.arange(n) % classes
    x = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    x[:, :, :10] = (y * 100).to(torch.uint8)[:, None, None, None]  # a learnable cue
    return {"train": (x, y), "val": (x[:12], y[:12]), "test": (x[12:24], y[12:24])}


def _train(prep: T.Prepared, epochs: int = 3, **kwargs) -> TensorRun:
    return train_tensors(prep.model, _splits(), ["a", "b", "c"], (0.5,), (0.25,), frozen=prep.frozen,
                           dataset="mnist", model="tinyvgg", epochs=epochs, lr=1e-2, batch_size=16, **kwargs)


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_stages_in_order() -> None:
    assert T.stages(_net()) == ["features.block1", "features.block2", "head.fc"]
    assert T.stages(build("resnet18", device="meta")) == ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"]


@pytest.mark.parametrize(("case", "frozen"), [("head", ["features.block1", "features.block2"]),
                                              ("later", ["features.block1"]), ("finetune", []), ("scratch", [])])
def test_frozen_weights_do_not_change_and_the_rest_does(case: str, frozen: list[str]) -> None:
    prep = T.prepare(case, _net(batch_norm=True), num_classes=3, frozen_stages=1)
    assert prep.frozen == frozen
    before = _snapshot(prep.model)
    run = _train(prep)
    after = _snapshot(run.model)
    assert run.model is prep.model and run.status == "finished"
    for name, value in before.items():
        if name.endswith("num_batches_tracked"):
            continue
        is_frozen = any(name.startswith(f + ".") for f in frozen)
        if is_frozen:  # weights, biases and batch-norm running statistics all unchanged
            assert torch.equal(value, after[name]), f"{case}: frozen {name} changed"
        elif name.endswith(("weight", "bias")):
            assert not torch.equal(value, after[name]), f"{case}: trainable {name} did not train"


def test_trainable_parameter_counts() -> None:
    source = _net(classes=5)
    head = T.prepare("head", source, 3)
    fc = head.model.get_classifier()
    assert isinstance(fc, nn.Linear) and fc.out_features == 3
    assert head.trainable == fc.in_features * 3 + 3
    later = T.prepare("later", source, 3, frozen_stages=1)
    block1 = sum(p.numel() for p in later.model.features.block1.parameters())
    assert later.trainable == later.total - block1
    assert later.total == head.total == sum(p.numel() for p in head.model.parameters())
    for case in ("finetune", "scratch"):
        prep = T.prepare(case, source, 3)
        assert prep.trainable == prep.total
    assert T.prepare("finetune", source, 3).lr_factor == pytest.approx(0.1)
    assert T.prepare("head", source, 3).lr_factor == 1.0
    # the source network itself is never modified
    assert source.get_classifier().out_features == 5 and all(p.requires_grad for p in source.parameters())


def test_finetune_copies_the_source_and_scratch_does_not() -> None:
    source = _net()
    tuned = T.prepare("finetune", source, 3).model
    fresh = T.prepare("scratch", source, 3).model
    w = "features.block1.conv1.weight"
    assert torch.equal(tuned.state_dict()[w], source.state_dict()[w])
    assert not torch.equal(fresh.state_dict()[w], source.state_dict()[w])


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown transfer case"):
        T.prepare("freeze_all", _net(), 3)
    with pytest.raises(ConfigError, match="freeze between"):
        T.prepare("later", _net(), 3, frozen_stages=5)
    with pytest.raises(ConfigError, match="target classes"):
        T.run_transfer("mnist", target=[5, 5])
    with pytest.raises(ConfigError, match="per target class"):
        T.run_transfer("mnist", per_class=0)
    with pytest.raises(ConfigError, match="runs on"):
        T.run_transfer("digits8x8")


def test_task_splits_renumber_and_count() -> None:
    from cnnviz.data import load_dataset

    data = load_dataset("mnist")
    splits = T.task_splits(data, (5, 6, 7), per_class=4)
    x, y = splits["train"]
    assert x.shape == (12, 1, 28, 28) and sorted(y.tolist()) == [0] * 4 + [1] * 4 + [2] * 4
    test_y = splits["test"][1]
    assert set(test_y.tolist()) == {0, 1, 2}
    assert len(test_y) == int(sum((data.labels["test"] == c).sum() for c in (5, 6, 7)))


def test_source_network_is_cached_and_the_cases_run() -> None:
    first = T.source_network("mnist", epochs=1)
    again = T.source_network("mnist", epochs=1)
    assert not first.cached and again.cached and first.task.source == (0, 1, 2, 3, 4, 8, 9)
    for (k, a), b in zip(first.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), k
    seen = []
    result = T.run_transfer("mnist", per_class=3, epochs=2, source_epochs=1, cases=("scratch", "head"),
                            progress=lambda m, f: seen.append(f))
    assert [c.case for c in result.cases] == ["scratch", "head"]
    assert result.target_classes == ["5", "6", "7"] and result.test_size > 200
    assert result.case("head").trainable < result.case("scratch").trainable
    assert seen == sorted(seen) and seen[-1] == 1.0
    shelf = result.off_the_shelf
    assert shelf is not None and 0 <= shelf["test_accuracy"] <= 1 and shelf["features"] == 32 * 7 * 7


def test_imagenet_weights_are_used_only_from_the_hub_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert T.imagenet_file() is None
    with pytest.raises(ConfigError, match="not in"):
        T.imagenet_source()
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.manual_seed(3)
    weights = torchvision.models.resnet18().state_dict()
    torch.save(weights, tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth")
    src = T.imagenet_source()
    assert torch.equal(src.model.state_dict()["layer1.0.conv1.weight"], weights["layer1.0.conv1.weight"])
    result = T.run_transfer("cifar_standin", pretrained="imagenet", per_class=2, epochs=1, image_size=32,
                            cases=("head",), features=False)
    assert result.source_model == "resnet18" and result.case("head").trainable == 512 * 3 + 3


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("CNNVIZ_SLOW_TESTS") != "1", reason="the full experiment: set CNNVIZ_SLOW_TESTS=1")
def test_transfer_beats_scratch_on_little_data() -> None:
    result = T.run_transfer("mnist")
    scratch = result.case("scratch").test_accuracy
    assert all(result.case(k).test_accuracy > scratch for k in ("head", "later", "finetune"))
