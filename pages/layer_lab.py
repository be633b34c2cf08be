"""Layer lab: the building blocks of a CNN, hands on (numbers from cnnviz.lab)."""
import streamlit as st

from cnnviz.ui.layer_lab import SECTION_VIEWS, SECTIONS
from cnnviz.ui.state import url_select

st.title("Layer lab")
section = url_select("Part", "ll_sec", SECTIONS, SECTIONS[0], widget="segmented", required=True,
                     label_visibility="collapsed")
# a fragment: a change inside the part reruns the part only, not the navigation, sidebar and this header
st.fragment(SECTION_VIEWS[section])()
