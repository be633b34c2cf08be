"""Crafted checkpoint files: listed as unusable with a reason, never built when too big, never run as code."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

import cnnviz
from cnnviz.errors import ConfigError
from cnnviz.train import checkpoints as ck

MARKER = Path("/tmp/cnnviz-pickle-ran")


class Evil:
    def __reduce__(self):
        return os.system, (f"touch {MARKER}",)


def payload(model: str = "lenet5", settings: dict | None = None, state: dict | None = None) -> dict:
    settings = {"variant": "modern", "in_channels": 1, "input_size": 28, "num_classes": 10} if settings is None \
        else settings
    if state is None:
        state = cnnviz.build(model, **settings).state_dict()
    return {"format": ck.FORMAT, "version": ck.VERSION, "model": model, "settings": settings, "state_dict": state,
            "dataset": "mnist", "classes": [str(i) for i in range(10)], "mean": [0.13], "std": [0.31],
            "metrics": {"test_accuracy": 0.9}, "config": {}, "epochs": [], "created": time.time()}


def crafted(folder: Path) -> dict[str, str]:
    """Write the hostile files into ``folder``; file stem -> a phrase its reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    good = payload()
    torch.save(good, folder / "good.pt")
    mismatched = payload(state=cnnviz.build("tinyvgg", in_channels=1, input_size=28).state_dict())
    torch.save(mismatched, folder / "mismatched.pt")
    wrong_shape = payload()
    wrong_shape["state_dict"] = dict(good["state_dict"])
    first = next(iter(wrong_shape["state_dict"]))
    wrong_shape["state_dict"][first] = torch.zeros(3, 3)
    torch.save(wrong_shape, folder / "wrong-shape.pt")
    torch.save(payload(settings={"in_channels": 10**9, "input_size": -4}, state={}), folder / "out-of-range.pt")
    torch.save(payload(settings={"variant": {"not": "a string"}}, state={}), folder / "odd-settings.pt")
    torch.save(payload("vgg16", {"num_classes": 100_000}, state={}), folder / "huge-head.pt")
    data = (folder / "good.pt").read_bytes()
    (folder / "truncated.pt").write_bytes(data[: len(data) // 2])
    torch.save({"format": ck.FORMAT, "evil": Evil()}, folder / "malicious.pt")
    (folder / "not-torch.pt").write_bytes(b"hello")
    return {"mismatched": "do not fit", "wrong-shape": "wrong shape", "out-of-range": "in_channels",
            "odd-settings": "setting variant", "huge-head": "parameters", "truncated": "not a readable",
            "malicious": "not a readable", "not-torch": "not a readable"}


def test_every_crafted_file_is_listed_as_unusable_with_its_reason(tmp_path: Path) -> None:
    MARKER.unlink(missing_ok=True)
    reasons = crafted(tmp_path)
    infos = {i.name: i for i in ck.list_checkpoints(tmp_path)}
    start = time.perf_counter()
    assert ck.list_checkpoints(tmp_path) == sorted(infos.values(), key=lambda c: c.created, reverse=True)
    assert time.perf_counter() - start < 0.5  # a page's rerun reads nothing again: cached per file version
    assert not infos["good"].error and infos["good"].model == "lenet5" and infos["good"].test_accuracy == 0.9
    for stem, phrase in reasons.items():
        assert phrase in infos[stem].error, (stem, infos[stem].error)
    assert infos["huge-head"].model == "vgg16"  # readable: named under its model, with the reason
    assert not MARKER.exists(), "a pickle ran code"


def test_loading_checks_before_building(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reasons = crafted(tmp_path)
    built = []
    import cnnviz.zoo as zoo

    original = zoo.build
    monkeypatch.setattr(zoo, "build", lambda name, **kw: built.append((name, kw.get("device"))) or original(name, **kw))
    for stem, phrase in reasons.items():
        with pytest.raises(ConfigError, match=phrase.replace("_", ".")):
            ck.load_checkpoint(tmp_path / f"{stem}.pt")
    assert all(device == "meta" for _, device in built), built  # nothing real was built for a bad file
    assert ck.load_checkpoint(tmp_path / "good.pt").model_name == "lenet5"
    assert not MARKER.exists()


# -- bounded: what is worth keeping, how many, how old, never overwritten silently ---------------------
def test_prune_keeps_the_newest_and_drops_the_old(tmp_path: Path) -> None:
    now = time.time()
    for i in range(6):
        f = tmp_path / f"run{i}.pt"
        f.write_bytes(b"x")
        os.utime(f, (now - i * 3600, now - i * 3600))
    ancient = tmp_path / "ancient.pt"
    ancient.write_bytes(b"x")
    os.utime(ancient, (now - 40 * 86400, now - 40 * 86400))
    gone = ck.prune_checkpoints(tmp_path, keep=4, max_days=30)
    assert sorted(p.name for p in gone) == ["ancient.pt", "run4.pt", "run5.pt"]
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == [f"run{i}.pt" for i in range(4)]


def test_prune_settings_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNVIZ_MAX_CHECKPOINTS", "0")
    with pytest.raises(ConfigError, match="CNNVIZ_MAX_CHECKPOINTS"):
        ck.prune_checkpoints(tmp_path)


@pytest.mark.parametrize("reason, epochs, keep", [("finished", 0.5, True), ("stopped", 0.02, False),
                                                   ("stopped", 1.0, True), ("time limit", 0.3, False)])
def test_worth_keeping(reason: str, epochs: float, keep: bool) -> None:
    class Result:
        pass

    r = Result()
    r.reason, r.epochs_done = reason, epochs
    assert ck.worth_keeping(r) is keep
    assert ck.worth_keeping(None) is False


def test_a_named_checkpoint_is_never_overwritten(tmp_path: Path) -> None:
    from cnnviz.train import TrainingRun

    run = TrainingRun(model="mlp", dataset="mnist", epochs=1, subset=64, seed=0)
    run.run()
    first = ck.save_checkpoint(run, "same", folder=tmp_path)
    with pytest.raises(ConfigError, match="'same' exists already"):
        ck.save_checkpoint(run, "same", folder=tmp_path)
    assert ck.save_checkpoint(run, "same", folder=tmp_path, overwrite=True) == first
    unnamed = {ck.save_checkpoint(run, folder=tmp_path) for _ in range(3)}
    assert len(unnamed) == 3  # automatic names never collide
