"""The training run: curves, Stop, results, checkpoints, gradients, experiments and the CLI."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from cnnviz import cli as cnnviz_cli
from cnnviz.errors import ConfigError
from cnnviz.train import (TrainingRun, gradient_norms, list_checkpoints, load_checkpoint,
                          read_curves, save_checkpoint)
from cnnviz.train import device as device_mod
from cnnviz.train.config import TrainConfig
from cnnviz.train.device import ThreadTuner
from cnnviz.train.loop import augment_batch, lr_factor
from cnnviz.zoo import build

TINY = dict(dataset="mnist", subset=256, batch_size=64, epochs=2, device="cpu")


@pytest.fixture(scope="module")
def tiny_run() -> TrainingRun:
    return TrainingRun(**TINY).run()


def test_curves_and_results_are_recorded(tiny_run: TrainingRun) -> None:
    run = tiny_run
    assert run.status == "finished" and run.error is None
    steps, epochs = run.history.steps, run.history.epochs
    assert [s["step"] for s in steps] == list(range(1, 9))  # 4 batches per epoch, every one recorded
    assert [e["epoch"] for e in epochs] == [1.0, 2.0]
    assert set(epochs[0]) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert all(0 <= e["val_accuracy"] <= 1 for e in epochs)
    assert steps[0]["loss"] > epochs[-1]["train_loss"]  # it learned something
    assert steps[-1]["lr"] < steps[0]["lr"]  # cosine schedule
    r = run.result
    assert r is not None and r.reason == "finished"
    assert r.confusion.shape == (10, 10) and r.confusion.sum() == 1000  # the whole held-out test split
    wrong = int(r.confusion.sum() - r.confusion.trace())
    assert len(r.mistakes) == min(36, wrong)
    assert r.test_accuracy == pytest.approx(r.confusion.trace() / 1000)
    assert all(m.true != m.predicted for m in r.mistakes)
    confidences = [m.confidence for m in r.mistakes]
    assert confidences == sorted(confidences, reverse=True)  # most confident mistakes first
    assert len(r.per_class_accuracy) == 10 and r.images_seen == 512 and r.epochs_done == 2
    assert run.model is not None and not run.model.training and next(run.model.parameters()).device.type == "cpu"


def test_stop_ends_within_one_batch_and_keeps_what_was_learned() -> None:
    run = TrainingRun(dataset="mnist", epochs=200, device="cpu", augment="none").start()
    deadline = time.monotonic() + 120
    while run.progress.step < 25 and not run.done and time.monotonic() < deadline:
        time.sleep(0.01)
    run.stop()
    at_stop = run.progress.step
    assert run.wait(60)
    assert run.status == "stopped"
    assert run.progress.step <= at_stop + 1  # at most the batch in flight
    assert run.result is not None and run.result.reason == "stopped"
    assert run.result.test_accuracy > 0.5  # far above chance (0.1): the learned weights are kept
    assert run.history.epochs[-1]["epoch"] == pytest.approx(run.progress.step / run._steps_per_epoch)


def _feed(tuner: ThreadTuner, timing: dict[int, float], steps: int) -> list[int]:
    used = []
    for _ in range(steps):
        used.append(tuner.current)
        tuner.step_done(timing[tuner.current])
    return used


def test_thread_tuner_keeps_more_threads_only_when_free_and_faster(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = torch.get_num_threads()
    try:
        monkeypatch.setattr(device_mod, "idle_cores", lambda own: 4.0)
        fast = ThreadTuner(4)
        used = _feed(fast, {1: 0.010, 4: 0.004}, 12)
        assert used[0] == 1 and fast.current == 4 and torch.get_num_threads() == 4
        slow = ThreadTuner(4)  # a busy machine: 4 threads are 10x slower, the trial ends after one step
        used = _feed(slow, {1: 0.010, 4: 0.100}, 12)
        assert slow.current == 1 and used.count(4) == 2  # the set-up step and the one slow step
        monkeypatch.setattr(device_mod, "idle_cores", lambda own: 0.5)
        busy = ThreadTuner(4)
        assert 4 not in _feed(busy, {1: 0.010, 4: 0.001}, 12)  # no free cores: never tried
        assert ThreadTuner(1).current == 1
    finally:
        torch.set_num_threads(saved)


def test_time_limit_stops_the_run() -> None:
    run = TrainingRun(**{**TINY, "epochs": 500, "max_seconds": 0.3}).run()
    assert run.status == "finished" and run.result is not None and run.result.reason == "time limit"
    assert run.result.epochs_done < 500


def test_bad_settings_are_config_errors() -> None:
    for bad, match in ((dict(lr=0.0), "lr must be above 0"), (dict(optimizer="rmsprop"), "optimizer"),
                       (dict(batch_size=0), "batch_size"), (dict(dataset="svhn"), "unknown dataset"),
                       (dict(epochs=1.5), "whole number")):
        with pytest.raises(ConfigError, match=match):
            TrainingRun(**bad)
    run = TrainingRun(model="lenet5", dataset="digits8x8", device="cpu")
    with pytest.raises(ConfigError, match="lenet5 on digits8x8 .*8x8.*below the minimum 16"):
        run.run()
    assert run.status == "failed" and "minimum 16" in run.error


def test_augment_shifts_and_flips_keep_shape() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    assert augment_batch(x, "none", gen) is x
    out = augment_batch(x, "shift", gen, shift=2)
    assert out.shape == x.shape
    assert not torch.equal(out, x) or not torch.equal(augment_batch(x, "shift", gen), x)
    assert lr_factor("cosine", 0.0) == 1.0 and lr_factor("cosine", 1.0) == pytest.approx(0.0)
    assert lr_factor("step", 0.6) == pytest.approx(0.1) and lr_factor("step", 0.8) == pytest.approx(0.01)


def test_checkpoint_round_trip(tiny_run: TrainingRun, tmp_path: Path) -> None:
    path = save_checkpoint(tiny_run, "tiny lenet", folder=tmp_path)
    assert path.name == "tiny-lenet.pt" and not list(tmp_path.glob("*.tmp"))
    ckpt = load_checkpoint(path)
    assert ckpt.model_name == "lenet5" and ckpt.settings["variant"] == "modern" and ckpt.dataset == "mnist"
    assert ckpt.metrics["test_accuracy"] == tiny_run.result.test_accuracy
    assert len(ckpt.classes) == 10 and len(ckpt.epochs) == 2 and len(ckpt.mean) == 1
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(ckpt.model(x), tiny_run.model(x))
    listed = list_checkpoints(tmp_path)
    assert [c.name for c in listed] == ["tiny-lenet"] and listed[0].test_accuracy == ckpt.metrics["test_accuracy"]


def test_corrupted_or_foreign_checkpoints_raise_config_errors(tiny_run: TrainingRun, tmp_path: Path) -> None:
    good = save_checkpoint(tiny_run, "good", folder=tmp_path)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ConfigError, match="cut.pt is not a readable cnnviz checkpoint"):
        load_checkpoint(cut)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ConfigError, match="not a readable"):
        load_checkpoint(junk)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ConfigError, match="not a cnnviz checkpoint"):
        load_checkpoint(foreign)
    code = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), code)  # a pickled object: weights_only refuses to run it
    with pytest.raises(ConfigError, match="not a readable"):
        load_checkpoint(code)
    data = torch.load(good, weights_only=True)
    data["settings"]["batch_norm"] = False  # the weights no longer fit the rebuilt model
    torch.save(data, tmp_path / "mismatch.pt")
    with pytest.raises(ConfigError, match="do not fit lenet5"):
        load_checkpoint(tmp_path / "mismatch.pt")
    with pytest.raises(ConfigError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt")
    errors = {c.name: c.error for c in list_checkpoints(tmp_path)}
    assert errors["good"] == "" and "not a readable" in errors["junk"]


def test_gradient_norms_leave_the_model_as_it_was() -> None:
    torch.manual_seed(0)
    model = build("lenet5", variant="modern", batch_norm=True)
    x, y = torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    norms = gradient_norms(model, (x, y))
    assert [n for n, _ in norms] == ["features.c1", "features.c3", "classifier.c5", "classifier.f6",
                                     "classifier.output"]
    assert all(v > 0 for _, v in norms)
    assert not model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN statistics too


def test_read_curves_in_plain_words() -> None:
    def epochs(pairs: list[tuple[float, float]], val_loss: list[float] | None = None) -> list[dict]:
        return [{"epoch": i + 1, "train_loss": 1.0 / (i + 1), "train_accuracy": t, "val_accuracy": v,
                 "val_loss": (val_loss or [0.5] * len(pairs))[i], "lr": 0.1, "seconds": i} for i, (t, v) in
                enumerate(pairs)]

    over = read_curves(epochs([(0.9, 0.85), (1.0, 0.8), (1.0, 0.8)], [0.4, 0.5, 0.7]))
    assert over.verdict == "overfitting" and "regularization" in " ".join(over.advice)
    assert "lowest after epoch 1" in over.summary
    under = read_curves(epochs([(0.55, 0.54), (0.6, 0.6)]))
    assert under.verdict == "underfitting" and "capacity" in " ".join(under.advice)
    assert read_curves(epochs([(0.98, 0.97), (0.99, 0.98)])).verdict == "good fit"
    assert read_curves(epochs([(0.1, 0.1), (0.11, 0.09)])).verdict == "not learning"
    assert read_curves(epochs([(0.5, 0.5)], [float("nan")])).verdict == "diverged"
    assert read_curves([]).verdict == "too early"




def test_overfit_a_tiny_subset_first() -> None:
    run = TrainingRun(TrainConfig(dataset="mnist", optimizer="adam", lr=3e-3, schedule="none", batch_size=16,
                                  augment="none", subset=64, epochs=25, device="cpu"))
    run.run()
    assert run.status == "finished" and run.train_images == 64
    last = run.history.epochs[-1]
    assert last["train_accuracy"] == 1.0  # the course notes' sanity check: it can memorise 64 images
    assert last["train_accuracy"] - last["val_accuracy"] > 0.1
    assert read_curves(run.history.epochs).verdict == "overfitting"


def _cli(argv: list[str]) -> int:
    return cnnviz_cli.main(["train", *argv])  # in this process: what `python -m cnnviz train ...` runs


def test_cli_json_ends_with_the_four_keys(capsys: pytest.CaptureFixture) -> None:
    rc = _cli(["mlp", "--dataset", "mnist", "--epochs", "1", "--subset", "256", "--json", "--no-save",
               "--set", "hidden=64", "--device", "cpu"])
    out = capsys.readouterr().out
    assert rc == 0
    data = json.loads(out)
    assert list(data)[-4:] == ["test_accuracy", "seconds", "images_per_second", "device"]
    assert data["settings"]["hidden"] == 64 and data["settings"]["input_size"] == 28 and data["train_images"] == 256
    assert 0.1 < data["test_accuracy"] <= 1 and data["images_per_second"] > 0 and data["device"].startswith("cpu")


@pytest.mark.parametrize("argv, message", [
    (["lenet5", "--lr", "-1"], "lr must be above 0"),
    (["lenet5", "--set", "depth=3"], "lenet5 has no setting 'depth'"),
    (["lenet5", "--set", "variant"], "write settings as key=value"),
    (["nosuchnet"], "unknown model 'nosuchnet'"),
    (["lenet5", "--dataset", "digits8x8", "--epochs", "1"], "below the minimum 16"),
])
def test_cli_bad_input_is_one_line_and_exit_code_2(argv: list[str], message: str,
                                                   capsys: pytest.CaptureFixture) -> None:
    rc = _cli(argv + ["--json", "--no-save"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1 and "Traceback" not in err
