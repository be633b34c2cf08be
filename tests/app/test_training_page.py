"""AppTest: the Training lab renders its three parts; a run is a job named by the link, so it lives on across
reruns, page parts, reloads and a second tab of the same browser, and no other browser sees it."""
from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from cnnviz import jobs
from cnnviz.ui.owner import KEY
from cnnviz.ui.training import JOB
from tests.app.pages import open_page

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "training.py")


def _page(**query: str) -> AppTest:
    return open_page(PAGE, 120, **query)


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _job(at: AppTest) -> jobs.JobView:
    return jobs.get(at.query_params[JOB][0] if isinstance(at.query_params[JOB], list) else at.query_params[JOB])


def _wait_for_steps(job_id: str, steps: int, timeout: float = 180) -> None:
    """Until the job has trained ``steps`` batches (a worker's first run loads torch and the data: slow on a
    busy machine)."""
    deadline = time.monotonic() + timeout
    while (jobs.get(job_id).last("progress") or {}).get("step", 0) < steps:
        assert time.monotonic() < deadline, f"fewer than {steps} training steps after {timeout} s"
        time.sleep(0.05)


def test_train_part_renders_defaults_and_device() -> None:
    at = _page()
    assert any("Device: **cpu" in c.value for c in at.caption)
    assert _button(at, "Train").disabled is False
    assert at.selectbox(key="tr_model").value == "lenet5"
    assert at.selectbox(key="tr_m_lenet5_variant").value == "modern"  # the training default
    assert at.toggle(key="tr_m_lenet5_batch_norm").value is True
    assert any("press **Train**" in i.value for i in at.info)


def test_lecture_mode_hides_the_advanced_settings() -> None:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["lecture"] = True
    at.query_params["tr_wd"] = "0.001"  # a hidden setting still follows the link
    at.run()
    assert not at.exception
    assert not [e for e in at.expander if e.label == "More training settings"]
    assert not [n for n in at.number_input if n.key == "tr_wd"]
    _button(at, "Train").click().run()
    view = _job(at)
    assert view.state in ("queued", "running")
    jobs.cancel(view.id, view.owner)
    result = jobs.wait(view.id, 120).result
    assert result is None or (result["config"]["weight_decay"] == 0.001 and result["config"]["schedule"] == "cosine")


def test_a_run_continues_across_reruns_parts_reloads_and_tabs() -> None:
    at = _page(tr_subset="512", tr_ep="40", tr_aug="none")
    _button(at, "Train").click().run()
    assert not at.exception
    view = _job(at)
    assert view.state in ("queued", "running") and view.kind == "train"
    _wait_for_steps(view.id, 3)
    at.number_input(key="tr_lr").set_value(0.01).run()  # a widget change: a full rerun
    assert _job(at).id == view.id and not _job(at).ended
    at.query_params["tr_part"] = "Data"  # another part of the page
    at.run()
    at.query_params["tr_part"] = "Train"
    at.run()
    assert not at.exception and _job(at).id == view.id and _button(at, "Train").disabled  # one run at a time
    # a reload or a second tab of the same browser (same owner key, same link) finds the run and its progress
    tab = AppTest.from_file(PAGE, default_timeout=120)
    tab.session_state[KEY] = at.session_state[KEY]
    tab.query_params[JOB] = view.id
    tab.run()
    assert not tab.exception and _button(tab, "Train").disabled
    assert any("images/s" in (p.proto.text or "") for p in tab.get("progress"))
    # another browser with the same link sees nothing of it
    other = _page(**{JOB: view.id})
    assert not _button(other, "Train").disabled and any("no run of this browser" in w.value for w in other.warning)
    _button(at, "Stop training").click().run()
    assert jobs.wait(view.id, 60).state == "stopped"
    at.run()
    assert not at.exception
    assert any(s.value == "Result on the held-out test split" for s in at.subheader)
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Test accuracy"].rstrip("%")) > 10.0
    assert any("stopped by you" in c.value for c in at.caption)
    assert any("Last run: lenet5, stopped." in c.value for c in at.caption)
    assert _button(at, "Train").disabled is False


def test_data_part_shows_the_dataset_and_preprocessing() -> None:
    at = _page(tr_part="Data", tr_ds="digits8x8")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Image size"] == "8x8x1" and metrics["Classes"] == "10"
    assert len(at.get("plotly_chart")) == 5
    at.selectbox(key="tr_pre_b").set_value("zca_whitened").run()
    assert not at.exception
    at = _page(tr_part="Data", tr_ds="cifar_standin")
    assert any("A stand-in, not CIFAR-10" in i.value for i in at.info)


def test_the_lenet5_trained_here_says_how_it_differs_from_the_course_network() -> None:
    import cnnviz

    at = _page()
    note = next(c.value for c in at.caption if "not quite the course's" in c.value)
    # the course notes' LeNet-5: 32x32 input, 28x28x6, 14x14x6, 10x10x16, 5x5x16, 120, 84, 10, about 60K parameters
    assert "takes 32x32 images (MNIST padded by 2 pixels" in note
    assert "maps 28x28x6, 14x14x6, 10x10x16, 5x5x16, 61,706 parameters" in note
    trained = cnnviz.build("lenet5", in_channels=1, input_size=28, variant="modern", batch_norm=True)
    assert f"maps 24x24x6, 12x12x6, 8x8x16, 4x4x16, {sum(p.numel() for p in trained.parameters()):,} parameters" in note
    assert "ReLU, max pooling and batch norm" in note


def test_a_run_stopped_early_is_kept_only_on_request_and_listed_for_its_owner_only() -> None:
    from cnnviz.train import list_checkpoints

    for keep in ("0", "1"):
        # batches of 4 over the 3,600 bundled training digits: 900 steps to the one epoch that would make the run
        # worth keeping, so the Stop below lands well before it even on a loaded machine
        at = _page(tr_subset="4096", tr_ep="1000", tr_bs="4", tr_aug="none", tr_keep=keep)
        _button(at, "Train").click().run()
        view = _job(at)
        _wait_for_steps(view.id, 1)
        _button(at, "Stop training").click().run()
        assert jobs.wait(view.id, 60).state == "stopped"
        at.run()
        name = jobs.get(view.id).result["checkpoint"]
        mine = {c.name for c in list_checkpoints(owner=at.session_state[KEY])}
        if keep == "1":
            assert name in mine and any(name in s.value for s in at.success)
            assert name not in {c.name for c in list_checkpoints(owner="someone-else")}
        else:
            assert name is None and any("kept only with" in c.value for c in at.caption)


def test_a_part_choice_that_comes_back_empty_keeps_the_last_part() -> None:
    """The part is a choice that cannot be cleared; if its widget still answers None (its state lost between two
    quick reruns, which once showed the experiments instead of the Train button), the page keeps the last part."""
    at = _page(tr_part="Data").run()
    at.button_group(key="tr_part").set_value(None).run()
    assert not at.exception
    assert "tr_part" not in at.query_params or at.query_params["tr_part"] in ("Data", ["Data"])
    assert not any(b.label == "Run experiment" for b in at.button)
    assert at.button_group(key="tr_part").value == "Data"
