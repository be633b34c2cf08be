"""Compare: two to four configured networks side by side, and what changed between them."""
import streamlit as st

from cnnviz.analysis import ConfigError, human_count
from cnnviz.ui import compare as cmp
from cnnviz.ui.model_settings import cached_report, model_settings, pick_model
from cnnviz.ui.state import friendly_errors, url_select, url_tabs
from cnnviz.ui.figures import chart

lecture = bool(st.session_state.get("lecture"))
with st.sidebar:
    count = url_select("Number of models", "cmp_n", [2, 3, 4], 2, widget="radio", horizontal=True,
                       help="Compare two to four configured networks")

st.title("Compare networks")
st.caption("Pick the networks and open their settings; model 1 is the reference that the others are compared with.")
models: list[cmp.Configured] = []
for i, col in enumerate(st.columns(count), start=1):
    with col:
        name = pick_model(f"c{i}_model", cmp.DEFAULT_MODELS[i - 1], label=f"Model {i}")
        with st.expander(f"Settings of model {i}"):
            form = model_settings(name, f"c{i}_", lecture)
        with friendly_errors(f"model {i}"):
            try:
                report = cached_report(name, form.frozen)
            except ConfigError as exc:
                form.show_error(exc)
                st.error(f"Model {i} ({name}): {exc}", icon="⚠️")
            else:
                label = cmp.label_for(i, name, form.changed)
                models.append(cmp.Configured(label, name, form.changed, report))
                st.markdown(f"**{human_count(report.totals.params)}** parameters · "
                            f"**{human_count(report.totals.macs)}** MACs · depth {report.totals.depth} "
                            "(layers with weights)")

if len(models) < 2:
    st.info("Fix the settings above: the comparison needs at least two models that can be built.")
    st.stop()

st.subheader("Totals")
st.table(cmp.totals_table(models))

st.subheader("By layer kind")
st.caption("How many layers of each kind every network runs, with their parameters and MACs: kinds without weights "
           "(pooling, activations, merges) have no parameters.")
st.table(cmp.kind_table(models))

st.subheader("What changed")
ref = models[0]
for other in models[1:]:
    st.markdown(f"##### {other.label} against {ref.label}")
    st.markdown("\n".join(f"- {line}" for line in cmp.what_changed(ref, other)))

st.subheader("Layer by layer")
keys = [(m.name, tuple(sorted(m.settings.items()))) for m in models]
labels = [m.label for m in models]
tabs = url_tabs(["Cumulative MACs", "Parameters per stage", "Receptive field growth"], "cmp_tab")
for tab, kind in zip(tabs, ("cumulative", "stages", "rf")):
    with tab:
        if tab.open:
            chart(cmp.overlay(kind, keys, labels), config={"displaylogo": False})
