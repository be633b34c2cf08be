"""Architecture explorer: any network of the zoo, its settings, and every number per layer and in total."""
import streamlit as st

from cnnviz.analysis import ConfigError
from cnnviz.ui import explorer as ex
from cnnviz.ui import practice
from cnnviz.ui.builder import open_in_builder
from cnnviz.ui.charts import shape_text
from cnnviz.ui.model_settings import cached_report, model_settings, pick_model
from cnnviz.ui.state import friendly_errors, row_px, table_height, url_select, url_tabs
from cnnviz.ui.figures import chart, chart_in, show_layer_graph

lecture = bool(st.session_state.get("lecture"))
with st.sidebar:
    st.header("Network")
    name = pick_model("ex_model", "resnet50")
    form = model_settings(name, "ex_", lecture)
    st.header("Training memory")
    batch, optimizer, extra = ex.training_controls(lecture)
    st.header("Practice")
    predicting = practice.predict_first("ex_predict")

st.title("Architecture explorer")
report = None
with friendly_errors(name):
    try:
        report = cached_report(name, form.frozen, extra)
    except ConfigError as exc:
        culprit = form.show_error(exc)
        where = f" (the setting *{culprit.replace('_', ' ')}* in the sidebar)" if culprit else ""
        st.error(f"{name} cannot be built or run with these settings{where}: {exc}", icon="⚠️")

if report is not None:
    st.caption(f"**{name}** · input {shape_text(report.input_shape)} (H x W x C) · "
               f"{len(report.layers)} layers run · settings changed: "
               + (", ".join(f"{k}={v}" for k, v in form.changed.items()) or "none (the defaults)"))
    if predicting:
        predicting = not practice.predict_network(report)  # every prediction made: the rest may show
    if not predicting:
        ex.show_totals(report, batch, optimizer, per_row=3 if lecture else 4)
        for note in ex.convention_notes(report):
            st.caption(note)

if predicting:  # the drawing, the table and the charts would give the answers away
    st.caption("The drawing, the layer table and the charts appear once you have made every prediction.")
    report = None


@st.fragment
def details() -> None:
    """The tabs, a fragment: a tab switch, the table's fold or an export reruns this part only, not the totals."""
    tabs = url_tabs(["Network", "Layer table", "Charts", "Export"], key="ex_tab")
    with tabs[0]:
        if tabs[0].open:
            if report is not None:
                chart(ex.figure("drawing", form, extra, 400), config={"displaylogo": False})
                st.caption("Each box is a layer's (or a block's) output volume, sizes written H x W x C: its height "
                           "grows with the image size (square-root scale), its thickness with the number of channels "
                           "(log scale). Hover for names.")
                with st.expander("Layer graph for slides: skip connections and branches (SVG, PNG, PDF)",
                                 icon=":material/schema:"):
                    show_layer_graph(name, form.frozen, "ex_graph")
                open_in_builder(name, form.changed)
            ex.show_about(form.spec)
    with tabs[1]:
        if tabs[1].open and report is not None:
            fold = url_select("Fold blocks", "ex_fold", ex.FOLD_OPTIONS, "auto", widget="radio", horizontal=True,
                              help="Fold every block at this nesting depth into one row with its repeat count "
                                   "(depth 1: a ResNet stage); 'auto' picks the shallowest depth with 8 rows or more")
            depth = ex.fold_depth(report, fold)
            table = ex.layer_table(report, depth)
            st.caption(f"{len(table)} rows" + (f", blocks at depth {depth} folded" if depth else ", every layer")
                       + ". Wide tables scroll sideways; click a column to sort.")
            st.dataframe(table, hide_index=True, column_config=ex.TABLE_CONFIG, row_height=row_px(),
                         height=table_height(len(table)))
    with tabs[2]:
        if tabs[2].open and report is not None:
            for pair in (("params", "macs"), ("memory", "rf")):
                for col, kind in zip(st.columns(2), pair):
                    chart_in(col, ex.figure(kind, form, extra), config={"displaylogo": False})
    with tabs[3]:
        if tabs[3].open and report is not None:
            with friendly_errors("export"):
                ex.show_export(report, form, batch, optimizer)


details()
