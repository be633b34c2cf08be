"""The transfer / ensemble / multi-crop / augmentation experiments as job engine functions: progress events
out, Stop honoured at the next report, the result as JSON and back as the experiment's own result class."""
from __future__ import annotations

import json

import pytest

from cnnviz.errors import ConfigError
from cnnviz.jobs.kinds import KINDS
from cnnviz.train.ensemble import EnsembleResult, MemberResult
from cnnviz.train.studies import STUDIES, result_from, study_task

TINY_ENSEMBLE = {"dataset": "mnist", "k": 2, "train_size": 40, "epochs": 1, "settings": {"width": 4}}


def test_every_study_is_a_job_kind() -> None:
    assert set(STUDIES) <= set(KINDS)


def test_a_study_reports_progress_and_returns_json_read_back_as_its_result() -> None:
    events: list[dict] = []
    data = study_task("ensemble")({**TINY_ENSEMBLE, "owner": "ann"}, events.append, lambda: False)
    assert json.loads(json.dumps(data)) == data  # what the job layer stores and sends
    assert events and all(e["type"] == "progress" and 0.0 <= e["fraction"] <= 1.0 for e in events)
    result = result_from("ensemble", data)
    assert isinstance(result, EnsembleResult) and len(result.members) == 2
    assert all(isinstance(m, MemberResult) for m in result.members)
    assert result.ensemble_accuracy == data["ensemble_accuracy"]


def test_stop_ends_a_study_at_its_next_report() -> None:
    asked = []

    def should_stop() -> bool:
        asked.append(True)
        return True

    assert study_task("ensemble")(dict(TINY_ENSEMBLE), lambda e: None, should_stop) == {}
    assert len(asked) == 1  # the first report stopped it: nothing trained after


def test_bad_study_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unexpected keyword"):
        study_task("multicrop")({"nosuch": 1}, lambda e: None, lambda: False)
    with pytest.raises(ConfigError, match="list of"):
        study_task("augment_gap")({"steps": "flip"}, lambda e: None, lambda: False)
    steps = [{"method": "flip", "params": {"horizontal": 0.5, "vertical": 0.0}}]
    with pytest.raises(ConfigError, match="training images"):
        study_task("augment_gap")({"steps": steps, "train_size": 5}, lambda e: None, lambda: False)
