"""Augmentation studio: every augmentation of the course on a picture, pipelines, PCA colour, with vs without."""
import streamlit as st

from cnnviz.ui.augment import SECTION_VIEWS, SECTIONS, pick_picture, seed_widget, with_without
from cnnviz.ui.state import friendly_errors, url_select

st.title("Data augmentation studio")
st.markdown("More data makes a better network; augmentation makes new training images from the ones you have: "
            "mirrored, cropped, rotated, warped, re-coloured. Each is a `torchvision.transforms.v2` transform, "
            "and the code below each result is exactly what produced it.")
with st.sidebar:
    picture = None
    with friendly_errors("Picture"):
        picture = pick_picture()
    seed = seed_widget()
section = url_select("Part", "ag_sec", SECTIONS, SECTIONS[0], widget="segmented", required=True,
                     label_visibility="collapsed")
if section == "With vs without":
    with_without()
elif picture is not None:
    SECTION_VIEWS[section](picture, seed)
