"""Seeing inside: a network's activation maps, filters, receptive fields and Grad-CAM on a real image."""
import streamlit as st

from cnnviz.inspect import images
from cnnviz.ui import inside as ui
from cnnviz.ui.state import chart_height, friendly_errors, url_tabs
from cnnviz.ui.figures import chart

lecture = bool(st.session_state.get("lecture"))
network = None
with st.sidebar:
    st.header("Network")
    with friendly_errors("Network"):
        network = ui.pick_model_and_weights(lecture)
if network is None:
    st.stop()
name, choice, size, download = network

st.title("Seeing inside a CNN")
if choice is None:  # a network from the builder that has not been trained yet
    st.info("This network from the Network builder has no trained weights yet: open the builder's **Train it** "
            "link, train it on the Training page, then come back here (its checkpoint appears in the sidebar).",
            icon=":material/model_training:")
    st.stop()
st.caption("What each layer responds to in a real image: early layers find edges and colours, deeper layers "
           "combine them over ever larger receptive fields.")

ctx = None
source_col, seen_col, pred_col = st.columns([3, 2, 3], gap="medium")
with source_col:
    st.subheader("Input image")
    picked = None
    with friendly_errors("image"):
        picked = ui.pick_image(choice.input.channels, ui.input_spec(choice, size).resize)
with friendly_errors(name):
    if not (choice.ready or download):
        st.info(f"Pick other weights in the sidebar, or download these, to look inside {name}.")
    elif picked is not None:
        loaded, spec, report = ui.prepare(name, choice, size, download)
        img, image_key, digit, caption = picked
        prep = images.preprocess(img, spec, digit=digit)
        ctx = ui.Context(name, choice.key, loaded, report, prep, f"{image_key}:{digit}:{spec}", lecture)

if ctx is not None:
    with seen_col:
        st.subheader("Model input")
        st.image(ui.upscale(ui.to_rgb8(ctx.prep.shown), 224), width="stretch",
                 caption=f"{caption}: {'x'.join(map(str, spec.input_shape[1:]))} pixels, "
                         f"{'grey' if spec.channels == 1 else 'colour'}")
    with pred_col:
        st.subheader("Prediction")
        with friendly_errors("prediction"):
            if choice.trained:
                chart(ui.prediction_figure(ctx.top, chart_height(260)), config=ui.CONFIG,
                                key="in_pred")
            else:
                st.info("Random weights predict nothing: pick trained weights in the sidebar to see what the "
                        "network thinks the image is.", icon=":material/info:")
    with st.expander("Preprocessing, step by step", expanded=not lecture):
        ui.show_stages(ctx.prep)

    sections = {"Activation maps": ui.activation_section, "Filters": ui.filters_section,
                "Receptive field": ui.rf_section, "Grad-CAM": ui.gradcam_section}
    tabs = url_tabs(list(sections), key="in_tab")
    for tab, (label, section) in zip(tabs, sections.items()):
        with tab:
            if tab.open:
                with friendly_errors(label):
                    section(ctx)
