"""Transfer learning, features off the shelf, ensembles and multi-crop testing: getting the most out of little data."""
import streamlit as st

from cnnviz.ui.state import url_select
from cnnviz.ui.transfer import SECTION_VIEWS, SECTIONS

st.title("Transfer learning and ensembles")
st.markdown("Little data? Start from a network someone else trained, average several networks, or average "
            "several crops of each test image. Each experiment below runs with one click on the bundled data.")
section = url_select("Part", "tl_sec", SECTIONS, SECTIONS[0], widget="segmented", required=True,
                     label_visibility="collapsed")
SECTION_VIEWS[section]()
