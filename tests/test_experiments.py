"""The one-click experiments: registry, JSON shape and run labels, the lesson checks, the CLI, and (slow lane,
``CNNVIZ_SLOW_TESTS=1``) every experiment at its CPU default size showing its lesson."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnviz import experiments
from cnnviz.errors import ConfigError
from cnnviz.experiments.depth import init_gradients

ROOT = Path(__file__).resolve().parents[1]
LABELS = {"depth": ("plain20", "plain56", "resnet20", "resnet56"), "activations": ("sigmoid", "tanh", "relu"),
          "batchnorm": ("no_bn", "bn"), "dropout": ("no_dropout", "dropout"), "mlp_vs_cnn": ("mlp", "lenet5"),
          "overfit": ("tiny",), "augment": ("plain", "augmented"),
          "transfer": ("scratch", "new_head", "freeze_early", "finetune_all"), "ensemble": ("members", "ensemble"),
          "multicrop": ("centre_crop", "ten_crop")}
RUN_KEYS = {"train_accuracy": float, "test_accuracy": float, "train_loss": float, "test_loss": float, "params": int}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnviz", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def check_run(run: dict) -> None:
    for key, kind in RUN_KEYS.items():
        assert isinstance(run[key], kind), key
    assert 0.0 <= run["train_accuracy"] <= 1.0 and 0.0 <= run["test_accuracy"] <= 1.0
    assert run["params"] > 0


def test_the_registry_lists_the_issues_experiments_with_their_labels():
    assert experiments.NAMES == tuple(LABELS)
    for row in experiments.list_experiments():
        assert row.runs == LABELS[row.name] and row.title and row.lesson and row.notes


def test_bad_names_seeds_and_sizes_are_config_errors():
    with pytest.raises(ConfigError, match="choose one of depth"):
        experiments.run("nope")
    with pytest.raises(ConfigError, match="seed"):
        experiments.run("overfit", seed=-1, size="tiny")
    with pytest.raises(ConfigError, match="quick or full"):
        experiments.run("overfit", size="huge")


@pytest.mark.parametrize("name", list(LABELS))
def test_json_shape_and_run_labels(name):
    events = []
    result = experiments.run(name, seed=1, size="tiny", device="cpu", emit=events.append)
    assert list(result) == ["experiment", "seed", "seconds", "device", "runs", "lesson"]
    assert result["experiment"] == name and result["seed"] == 1 and result["device"].startswith("cpu")
    assert tuple(result["runs"]) == LABELS[name]
    for label, run in result["runs"].items():
        for r in run if label == "members" else [run]:
            check_run(r)
    if name == "ensemble":
        assert len(result["runs"]["members"]) == 5
    shown, words = experiments.lesson(name, result)
    assert isinstance(shown, bool) and words in result["lesson"]
    json.dumps(result)  # plain JSON values only
    progress = [e for e in events if e["type"] == "progress"]
    assert progress and {"run", "epoch", "epochs", "images_per_s", "seconds_left", "run_index"} <= set(progress[-1])


def test_plain56_has_smaller_first_layer_gradients_than_resnet56_at_init() -> None:
    """Without batch norm, the plain net's gradients vanish towards the input; the skips carry them back."""
    profile = init_gradients(("plain56", "resnet56"), batch_norm=False)
    plain, res = profile["plain56"], profile["resnet56"]
    assert len(plain) == len(res) == 56  # 55 convs + 1 fc (resnet56's shortcuts are option A: no weights)
    assert plain[0][1] < 0.01 * res[0][1]
    assert plain[0][1] < plain[-1][1]  # smaller at the input than at the output: vanishing
    # with batch norm (He et al.'s nets) the plain net's first-layer gradients are large at initialisation:
    # its trouble is an optimisation problem, not vanishing gradients at the start (the page says so)
    bn = init_gradients(("plain56", "resnet56"), batch_norm=True)
    assert bn["plain56"][0][1] > bn["resnet56"][0][1]


def _run(**numbers: float) -> dict:
    return {"train_accuracy": 0.9, "test_accuracy": 0.9, "train_loss": 0.3, "test_loss": 0.3, "params": 1000,
            **numbers}


def _result(runs: dict) -> dict:
    return {"runs": runs}


def test_depth_lesson_needs_all_three_facts():
    good = {"plain20": _run(train_loss=0.5), "plain56": _run(train_loss=1.0, test_accuracy=0.5),
            "resnet20": _run(train_loss=0.5), "resnet56": _run(train_loss=0.54, test_accuracy=0.61)}
    assert experiments.lesson("depth", _result(good))[0]
    for label, change in (("plain56", {"train_loss": 0.4}), ("resnet56", {"test_accuracy": 0.59}),
                          ("resnet56", {"train_loss": 0.56})):
        bad = {**good, label: {**good[label], **change}}
        assert not experiments.lesson("depth", _result(bad))[0], (label, change)


def test_activation_and_batchnorm_lessons_need_five_points():
    runs = {"sigmoid": _run(test_accuracy=0.5), "tanh": _run(test_accuracy=0.55), "relu": _run(test_accuracy=0.9)}
    assert experiments.lesson("activations", _result(runs))[0]
    runs["tanh"] = _run(test_accuracy=0.54)
    assert not experiments.lesson("activations", _result(runs))[0]
    assert experiments.lesson("batchnorm", _result({"no_bn": _run(test_accuracy=0.1),
                                                    "bn": _run(test_accuracy=0.9)}))[0]
    assert not experiments.lesson("batchnorm", _result({"no_bn": _run(test_accuracy=0.87),
                                                        "bn": _run(test_accuracy=0.9)}))[0]


def test_dropout_and_augment_lessons_need_a_narrower_gap_and_no_lost_accuracy():
    off = _run(train_accuracy=1.0, test_accuracy=0.85)
    for name, labels in (("dropout", ("no_dropout", "dropout")), ("augment", ("plain", "augmented"))):
        assert experiments.lesson(name, _result({labels[0]: off,
                                                 labels[1]: _run(train_accuracy=0.97, test_accuracy=0.86)}))[0]
        assert not experiments.lesson(name, _result({labels[0]: off,  # narrower, but test accuracy lost
                                                     labels[1]: _run(train_accuracy=0.9, test_accuracy=0.84)}))[0]
    assert not experiments.lesson("dropout", _result({"no_dropout": off,  # narrowed by 1 point only
                                                      "dropout": _run(train_accuracy=0.99, test_accuracy=0.85)}))[0]


def test_mlp_overfit_transfer_ensemble_multicrop_lessons():
    assert experiments.lesson("mlp_vs_cnn", _result({"mlp": _run(params=400_000, test_accuracy=0.9),
                                                     "lenet5": _run(params=60_000, test_accuracy=0.95)}))[0]
    assert not experiments.lesson("mlp_vs_cnn", _result({"mlp": _run(params=400_000, test_accuracy=0.96),
                                                         "lenet5": _run(params=60_000, test_accuracy=0.95)}))[0]
    assert experiments.lesson("overfit", _result({"tiny": _run(train_accuracy=1.0, test_accuracy=0.6)}))[0]
    assert not experiments.lesson("overfit", _result({"tiny": _run(train_accuracy=0.98, test_accuracy=0.6)}))[0]
    transfer = {"scratch": _run(test_accuracy=0.6), "new_head": _run(test_accuracy=0.61),
                "freeze_early": _run(test_accuracy=0.7), "finetune_all": _run(test_accuracy=0.65)}
    assert experiments.lesson("transfer", _result(transfer))[0]
    assert not experiments.lesson("transfer", _result({**transfer, "finetune_all": _run(test_accuracy=0.64)}))[0]
    assert not experiments.lesson("transfer", _result({**transfer, "new_head": _run(test_accuracy=0.6)}))[0]
    members = [_run(test_accuracy=a) for a in (0.80, 0.82, 0.84)]
    assert experiments.lesson("ensemble", _result({"members": members, "ensemble": _run(test_accuracy=0.84)}))[0]
    assert not experiments.lesson("ensemble", _result({"members": members, "ensemble": _run(test_accuracy=0.835)}))[0]
    assert experiments.lesson("multicrop", _result({"centre_crop": _run(test_accuracy=0.7),
                                                    "ten_crop": _run(test_accuracy=0.7)}))[0]
    assert not experiments.lesson("multicrop", _result({"centre_crop": _run(test_accuracy=0.7),
                                                        "ten_crop": _run(test_accuracy=0.69)}))[0]


def test_cli_json_is_exactly_the_experiment_object():
    out = cli("experiment", "overfit", "--seed", "2", "--device", "cpu", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert list(data) == ["experiment", "seed", "seconds", "device", "runs", "lesson"]
    assert data["experiment"] == "overfit" and data["seed"] == 2 and list(data["runs"]) == ["tiny"]
    check_run(data["runs"]["tiny"])
    assert experiments.lesson("overfit", data)[1] in data["lesson"]


@pytest.mark.parametrize("args, message", [(("nope",), "unknown experiment 'nope'"),
                                           (("depth", "--size", "huge"), "invalid choice: 'huge'"),
                                           (("depth", "--seed", "x"), "invalid int value"),
                                           (("depth", "--seed", "-3"), "seed must be")])
def test_cli_bad_input_is_a_message_and_exit_code_2(args, message):
    out = cli("experiment", *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


@pytest.mark.skipif(os.environ.get("CNNVIZ_SLOW_TESTS") != "1", reason="slow lane: CNNVIZ_SLOW_TESTS=1")
@pytest.mark.parametrize("name", list(LABELS))
def test_slow_every_experiment_shows_its_lesson_at_the_default_size(name):
    result = experiments.run(name, seed=0, size="quick", device="cpu")
    shown, words = experiments.lesson(name, result)
    assert shown, words


def test_time_left_comes_from_the_measured_run_times_scaled_by_this_runs_speed(tmp_path, monkeypatch):
    from cnnviz.experiments import timing

    monkeypatch.setenv("CNNVIZ_HOME", str(tmp_path))
    monkeypatch.setattr(timing, "REFERENCE", tmp_path / "reference_times.json")  # none at first
    now = [0.0]
    seen: list[dict] = []

    def experiment(clock_steps: list[tuple[float, dict]]) -> timing.TimeLeft:
        timer = timing.TimeLeft("mlp_vs_cnn:quick:cpu", seen.append, clock=lambda: now[0])
        for t, event in clock_steps:
            now[0] = t
            timer(event)
        return timer

    def progress(index: int, step: int) -> dict:
        return {"type": "progress", "run_index": index, "step": step, "steps": 10, "seconds_left": 99.0}

    start = {"type": "start", "runs": ["mlp", "lenet5"]}
    # first time: no history, so the Runner's own estimate goes through untouched
    first = experiment([(0.0, start), (1.0, progress(0, 10)), (2.0, progress(1, 1)), (10.0, progress(1, 10))])
    assert [e.get("seconds_left") for e in seen[1:]] == [99.0, 99.0, 99.0]
    now[0] = 12.0
    first.done()
    # (training, after it): the MLP trained 1 s and evaluated 1 s; LeNet-5 trained 8 s, then 2 s to the end
    assert timing.measured("mlp_vs_cnn:quick:cpu") == {"mlp": (1.0, 1.0), "lenet5": (8.0, 2.0)}
    # second time, twice as slow: the MLP's 1 s of training took 2 s, so 1 s + 10 s remain at half speed: 22 s
    seen.clear()
    experiment([(0.0, start), (2.0, progress(0, 10))])
    assert seen[-1]["seconds_left"] == pytest.approx(22.0)
    timing.record("mlp_vs_cnn:quick:cpu", {"mlp": (3.0, 1.0), "lenet5": (8.0, 2.0)})  # blended with what was kept
    assert timing.measured("mlp_vs_cnn:quick:cpu") == {"mlp": (2.0, 1.0), "lenet5": (8.0, 2.0)}
    # what follows a run's training (e.g. testing on 10 crops) reports a phase: it counts the run's after part and
    # leaves the run's end of training where it was. 12 of 13 measured seconds are done at 14 s, at the speed
    # since the last report at least 8 s back (3 s: 7 measured seconds done): 11 s for 5, so 1 s left is 2.2 s
    # (the whole run's speed, 14 s for 12, would say 1.17 s: the run has slowed down)
    seen.clear()
    timer = experiment([(0.0, start), (1.0, progress(0, 10)), (3.0, progress(1, 5)), (12.0, progress(1, 10)),
                        (14.0, {"type": "progress", "run_index": 1, "phase": "testing", "fraction": 0.5})])
    assert timer.trained == [1.0, 12.0] and seen[-1]["seconds_left"] == pytest.approx(2.2)
    # without a history of its own, a machine uses the reference machine's, which its first run then replaces
    timing.REFERENCE.write_text(json.dumps({"dropout:quick:cpu": {"no_dropout": [4.0, 1.0], "dropout": [5.0, 1.0]}}))
    assert timing.measured("dropout:quick:cpu") == {"no_dropout": (4.0, 1.0), "dropout": (5.0, 1.0)}
    timing.record("dropout:quick:cpu", {"no_dropout": (2.0, 1.0), "dropout": (2.0, 1.0)})
    assert timing.measured("dropout:quick:cpu") == {"no_dropout": (2.0, 1.0), "dropout": (2.0, 1.0)}


def test_the_reference_run_times_cover_every_experiment_at_the_cpu_default_size(tmp_path, monkeypatch):
    from cnnviz.experiments import timing

    monkeypatch.setenv("CNNVIZ_HOME", str(tmp_path))  # nothing measured here: the reference's times stand in
    for name in experiments.NAMES:
        runs = timing.measured(f"{name}:quick:cpu")
        assert runs and all(train > 0 for train, _after in runs.values()), name
