"""AppTest: the transfer page's four parts each run their experiment with one click and keep the result."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from cnnviz import jobs
from cnnviz.train import transfer as T
from cnnviz.train.studies import result_from
from tests.app.pages import open_page

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "transfer.py")


def _page(**query: str) -> AppTest:
    return open_page(PAGE, 120, **query)


def _click_and_wait(at: AppTest, label: str, key: str) -> tuple[str, object]:
    """Click, wait for the job (in a worker process) to finish; its id and its result as the page reads it."""
    next(b for b in at.button if b.label == label).click().run()
    job_id = at.session_state[key]
    view = jobs.wait(job_id, 240)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert view.state == "finished", view.error
    return job_id, result_from(view.kind, view.result)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_transfer_cases_run_and_show_what_was_frozen() -> None:
    at = _page(tl_n="2", tl_ep="2")
    assert at.number_input(key="tl_n").value == 2 and "Source task:" in "\n".join(m.value for m in at.markdown)
    job_id, r = _click_and_wait(at, "Run the four cases", "tl_job")
    assert isinstance(r, T.TransferResult)
    assert [c.case for c in r.cases] == list(T.CASES) and r.per_class == 2
    metrics = _metrics(at)
    for c in r.cases:
        assert metrics[c.title] == f"{c.test_accuracy:.1%}"
    table = at.dataframe[0].value
    assert list(table["case"]) == [c.title for c in r.cases]
    assert list(table["trainable parameters"]) == [f"{c.trainable:,}" for c in r.cases]
    assert list(table["frozen"])[1] == "features.block1, features.block2"
    at.query_params["tl_sec"] = "Ensembles"  # another part, then back: the result is still there
    at.run()
    at.query_params["tl_sec"] = "Transfer learning"
    at.run()
    assert at.session_state["tl_job"] == job_id and _metrics(at)[r.cases[0].title]


def test_features_off_the_shelf() -> None:
    at = _page(tl_sec="Features off the shelf", tl_sh_n="3")
    _, r = _click_and_wait(at, "Extract features and fit", "tl_sh_job")
    assert _metrics(at)["Test accuracy"] == f"{r['test_accuracy']:.1%}"
    assert _metrics(at)["Features per image"] == "1,568"


def test_ensemble_part() -> None:
    at = _page(tl_sec="Ensembles", tl_en_k="2", tl_en_n="50", tl_en_ep="1")
    _, r = _click_and_wait(at, "Train the ensemble", "tl_en_job")
    assert len(r.members) == 2 and r.train_size == 50
    assert _metrics(at)["Ensemble"] == f"{r.ensemble_accuracy:.1%}"
    assert _metrics(at)["Memory"] == f"{r.bytes_all / 1024:,.0f} KiB"


def test_multicrop_part() -> None:
    at = _page(tl_sec="Multi-crop testing", tl_mc_n="100", tl_mc_ep="1", tl_mc_crop="24")
    assert len(at.get("image")) == 10  # the ten views of a test image
    _, r = _click_and_wait(at, "Train and compare", "tl_mc_job")
    assert r.crop == 24 and _metrics(at)["10 crops"] == f"{r.ten_crop_accuracy:.1%}"
    assert _metrics(at)["Centre crop"] == f"{r.centre_accuracy:.1%}"


def test_bad_link_values_do_not_break_the_page() -> None:
    at = _page(tl_n="-5", tl_ep="abc", tl_src="imagenet", tl_frz="9")
    assert at.number_input(key="tl_n").value == 3 and at.number_input(key="tl_ep").value == 30
    assert any("Ignored the link" in w.value for w in at.warning)
