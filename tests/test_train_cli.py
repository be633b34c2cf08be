"""``python -m cnnviz checkpoints``: the lecturer lists the server's checkpoints and shares one with the class;
a student's list shows their own and the shared ones only."""
from __future__ import annotations

from pathlib import Path

import pytest
import cnnviz
from cnnviz.cli import main
from cnnviz.train import checkpoints as ck


def _save(name: str, owner: str | None, folder: Path) -> Path:
    model = cnnviz.build("mlp")
    meta = {"model": "mlp", "settings": {}, "dataset": "mnist", "owner": owner, "shared": False,
            "metrics": {"test_accuracy": 0.5}}
    return ck.save(model, meta, name=name, folder=folder)


def test_share_and_unshare_change_what_a_student_sees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("CNNVIZ_HOME", str(tmp_path))
    folder = tmp_path / "checkpoints"
    _save("anns", "ann", folder)
    _save("bobs", "bob", folder)

    def seen_by(owner: str) -> set[str]:
        return {c.name for c in ck.list_checkpoints(owner=owner)}

    assert seen_by("bob") == {"bobs"}
    assert main(["checkpoints", "--share", "anns"]) == 0
    assert "anns: shared with the class" in capsys.readouterr().out
    assert seen_by("bob") == {"anns", "bobs"} and seen_by("ann") == {"anns"}
    assert main(["checkpoints"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 2 and any(line.startswith("anns") and line.endswith("shared") for line in listing)
    assert main(["checkpoints", "--unshare", "anns"]) == 0
    assert seen_by("bob") == {"bobs"}
    assert main(["checkpoints", "--share", "nosuch"]) == 2
    assert "no checkpoint file 'nosuch'" in capsys.readouterr().err


def test_prune_applies_the_count_cap_per_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("CNNVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("CNNVIZ_MAX_CHECKPOINTS", "2")
    folder = tmp_path / "checkpoints"
    for i in range(4):
        _save(f"ann{i}", "ann", folder)
    _save("bob0", "bob", folder)
    assert main(["checkpoints", "--prune"]) == 0
    assert "deleted 2 checkpoints" in capsys.readouterr().out
    assert {c.name for c in ck.list_checkpoints()} == {"ann2", "ann3", "bob0"}  # each owner's newest two
