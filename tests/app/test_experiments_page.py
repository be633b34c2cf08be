"""AppTest: the Experiments part runs exactly the CLI's experiment as a job, says whether this run showed the
lesson, and switching experiments shows the new one's results or nothing, never the previous one's."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from cnnviz import experiments, jobs
from cnnviz.ui.experiments import JOB
from tests.app.pages import open_page

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "training.py")


def _page(**query: str) -> AppTest:
    return open_page(PAGE, 120, tr_part="Experiments", **query)


def test_each_experiment_states_its_lesson_and_how():
    for name in ("depth", "dropout"):
        at = _page(tr_exp=name)
        assert not at.exception
        text = " ".join(m.value for m in at.markdown)
        assert experiments.info(name).lesson in text and "experiment " + name in " ".join(c.value for c in at.caption)


def test_one_click_runs_the_clis_job_and_switching_shows_nothing_of_it():
    at = _page(tr_exp="overfit", tr_exp_size="quick")
    next(b for b in at.button if b.label == "Run experiment").click().run()
    job_id = at.query_params[JOB]
    job_id = job_id[0] if isinstance(job_id, list) else job_id
    view = jobs.wait(job_id, 180)
    assert view.state == "finished" and view.kind == "experiment" and view.label == "overfit"
    at.run()
    assert not at.exception
    shown, words = experiments.lesson("overfit", view.result)
    said = [m.value for m in (at.success if shown else at.warning)]
    assert any("showed the lesson" in s for s in said) and any(words.split(":")[0] in s for s in said)
    assert at.dataframe[0].value["run"].tolist() == ["tiny"]
    next(s for s in at.selectbox if s.label == "Experiment").select("dropout").run()  # not overfit's result
    assert not at.exception and not at.success and not at.dataframe
    assert any("Run experiment" in i.value for i in at.info)
