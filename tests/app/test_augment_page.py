"""AppTest: the augmentation studio's four parts, every method, and the one-click with/without comparison."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz import augment as A
from cnnviz import jobs
from cnnviz.inspect.images import photo
from cnnviz.train.studies import result_from
from tests.app.pages import open_page

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "augment.py")


def _page(**query: str) -> AppTest:
    at = open_page(PAGE, 120, **query)
    assert not at.error, [e.value for e in at.error]
    return at


def _code(at: AppTest) -> str:
    return "\n".join(c.value for c in at.code)


@pytest.mark.parametrize("method", list(A.METHODS))
def test_each_method_shows_its_results_and_code(method: str) -> None:
    at = _page(ag_m=method)
    assert at.selectbox(key="ag_m").value == method
    expected = {call.cls for call in A.Pipeline([A.step(method)], size=(160, 241),
                                                  pca=A.fit_pca(A.to_tensor(photo("chelsea")))).calls()}
    code = _code(at)
    for cls in expected:
        assert f"{cls}(" in code
    names = {p.name for p in A.METHODS[method].params}
    for key in names:  # each parameter has its widget, bound to the URL (a link names only changed values)
        assert f"ag_1_{method}_{key}" in at.session_state


def test_a_parameter_change_changes_the_code() -> None:
    at = _page(ag_m="rotate")
    assert "degrees=20.0" in _code(at)
    at.slider(key="ag_1_rotate_degrees").set_value(45.0).run()
    assert "degrees=45.0" in _code(at) and at.query_params["ag_1_rotate_degrees"] == "45.0"


def test_pipeline_part_builds_the_code_in_order() -> None:
    at = _page(ag_sec="Pipeline", ag_pipe="rotate,flip")
    code = _code(at)
    assert code.index("v2.RandomRotation(") < code.index("v2.RandomHorizontalFlip(")
    at.multiselect(key="ag_pipe").set_value(["flip", "pca_colour"]).run()
    assert not at.exception and "PCAColorAugmentation(eigenvalues=" in _code(at)
    assert [s.method for s in at.session_state["ag_pipeline_steps"]] == ["flip", "pca_colour"]


def test_pca_part_shows_the_eigen_decomposition() -> None:
    at = _page(ag_sec="PCA colour")
    stats = A.fit_pca(A.to_tensor(photo("chelsea").resize((241, 160), Image.BILINEAR)))  # as the page shrinks it
    table = at.dataframe[0].value
    shown = [float(table.loc["eigenvalue λ", f"p{i + 1}"]) for i in range(3)]
    assert shown == pytest.approx(stats.eigenvalues.tolist(), rel=0.02)
    at = _page(ag_sec="PCA colour", ag_pca_src="cifar_standin")
    assert at.dataframe[0].value.loc["share of variance", "p1"].endswith("%")


def test_grey_dataset_samples_hide_colour_methods() -> None:
    at = _page(ag_src="dataset", ag_ds="mnist", ag_sec="PCA colour")
    assert any("grey" in i.value for i in at.info)
    at = _page(ag_src="dataset", ag_ds="mnist")
    assert "pca_colour" not in at.selectbox(key="ag_m").options
    assert "mnist samples 0-7" in "\n".join(c.value for c in at.caption)


def test_with_and_without_runs_in_the_background_and_keeps_its_result() -> None:
    at = _page(ag_sec="With vs without", ag_ww_n="50", ag_ww_ep="1")
    next(b for b in at.button if b.label == "Train with and without").click().run()
    job_id = at.session_state["ag_ww_job"]
    view = jobs.wait(job_id, 180)  # in a job worker, never in the server
    at.run()
    assert not at.exception and view.state == "finished", view.error
    metrics = {m.label: m.value for m in at.metric}
    r = result_from("augment_gap", view.result)
    assert metrics["Gap without augmentation"] == f"{r.without.gap * 100:.1f} points"
    assert metrics["Gap with augmentation"] == f"{r.with_augmentation.gap * 100:.1f} points"
    assert r.train_size == 50 and r.epochs == 1
    at.number_input(key="ag_ww_ep").set_value(2).run()  # a rerun keeps the result, and says it is stale
    assert at.session_state["ag_ww_job"] == job_id and "Gap with augmentation" in [m.label for m in at.metric]
    assert any("settings changed" in c.value for c in at.caption)


def test_pca_colour_exaggerate_makes_the_invisible_shift_visible() -> None:
    def biggest(at: AppTest) -> int:
        caption = next(c.value for c in at.caption if c.value.startswith("Largest change of a pixel value"))
        return int(caption.split(": ")[1].split(" of 255")[0])

    at = _page(ag_sec="PCA colour")
    paper = biggest(at)
    assert paper <= 8 and any("invisible to the eye" in c.value for c in at.caption)  # sigma 0.1: a few levels
    at.toggle(key="ag_pca_exaggerate").set_value(True).run()
    assert not at.exception and biggest(at) >= 5 * max(1, paper)
    assert "sigma=0.1" in at.code[0].value.replace(" ", "")  # the code keeps the paper's sigma
