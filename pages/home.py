"""Home: what the app teaches, in the order of the course, and where CNNs came from."""
import streamlit as st

from cnnviz.ui.home import (COURSE, available_pages, bubble_figure, link, timeline_figure, torchvision_models,
                            zoo_names)
from cnnviz.ui.state import friendly_errors, url_select, url_toggle
from cnnviz.ui.figures import chart

st.title("cnnviz: how a convolutional network works, layer by layer")
st.markdown("Change a setting and every number answers at once: the output size of a layer, its parameters and "
            "multiply-accumulates, a whole network's memory and receptive field. Follow the course from the "
            "top, or jump in anywhere. Every page keeps its settings in the link, so a link opens the page "
            "exactly as you set it.")

pages = available_pages()
sections = [s for s in COURSE if s != "Start" and s in pages]
for col, section in zip(st.columns(len(sections)), sections):
    with col:
        st.subheader(section)
        for page in pages[section]:
            link(page)
            st.caption(page.teaches)

st.header("From hand-made features to 152 layers")
left, right = st.columns([5, 2], gap="large")
with right:
    runners_up = url_toggle("Show runners-up", "hm_runner", True)
    st.markdown("In 2012 AlexNet cut the error from 25.8% to 16.4% and CNNs have won every year since. "
                "Depth grew from 8 layers to 152; in 2015 ResNet went below the ~5.1% top-5 error of a "
                "trained human.")
    st.caption("AlexNet's 16.4% is its entry trained on the challenge data only; the course notes also quote 15.3%, the "
               "entry that used extra ImageNet 2011 training data. Layer counts: layers with weights, as the "
               "course notes count them (GoogLeNet 22, VGG 19, ResNet 152).")
with left:
    chart(timeline_figure(runners_up), width="stretch")

st.header("Accuracy against cost today")
with friendly_errors("torchvision's model list"):
    models = torchvision_models()
    zoo = zoo_names()
    c1, c2, c3 = st.columns([1, 2, 2])
    with c1:
        metric = url_select("Accuracy", "hm_acc", ("top1", "top5"), "top1", widget="segmented", required=True,
                            format_func={"top1": "top-1", "top5": "top-5"}.get)
    with c2:
        only_zoo = url_toggle("Only models in the cnnviz zoo", "hm_zoo", False)
    shown = models[models["model"].isin(list(zoo))] if only_zoo else models
    with c3:
        st.caption(f"{len(shown)} of torchvision's {len(models)} pretrained ImageNet classifiers, read from their "
                   "weights' metadata (nothing is downloaded). Click a ringed bubble to open that model in the "
                   "explorer.")
    event = chart(bubble_figure(shown, zoo, metric), width="stretch", on_select="rerun",
                            selection_mode="points", key="hm_bubbles")
    picked = [p["customdata"][0] for p in (event.selection.points if event else []) if "customdata" in p]
    explorer = next((p for ps in pages.values() for p in ps if p.stem == "explorer"), None)
    if picked and not any(n in zoo for n in picked):
        st.info(f"{', '.join(picked)} is not in the cnnviz zoo; the ringed bubbles are.")
    if explorer is not None:
        c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
        with c1:
            chosen = st.selectbox("Open a zoo model in the explorer", sorted(zoo.values()), index=None,
                                  placeholder="choose a model", key="hm_open")
        with c2:
            for name in dict.fromkeys([zoo[n] for n in picked if n in zoo] + ([chosen] if chosen else [])):
                link(explorer, f"Open {name} in the architecture explorer", ex_model=name)
