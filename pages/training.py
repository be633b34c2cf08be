"""Training lab: train a network live on real data, browse the data, run the course notes' experiments."""
import streamlit as st

from cnnviz.ui import training as tr
from cnnviz.ui.experiments import experiments_section
from cnnviz.ui.state import url_select

lecture = bool(st.session_state.get("lecture"))
st.title("Training lab")
part = url_select("Part", "tr_part", tr.PARTS, tr.PARTS[0], widget="segmented", required=True,
                  label_visibility="collapsed")
tr.device_caption()

if part == "Train":
    form = st.container(border=True)
    with form:
        config = tr.training_form(lecture)
        tr.train_buttons(lambda: config)
    tr.live_run()
    job = tr.current_job()
    if job is not None and job.ended:
        tr.show_result(job, lecture)
    with st.expander("Saved checkpoints"):
        tr.show_checkpoints()
elif part == "Data":
    tr.data_section(lecture)
else:
    experiments_section(lecture)
