"""cnnviz: the app's navigation, in the order of the course, and the lecture-mode toggle for every page.

Start it with ``make run`` (or ``scripts/serve``). Pages are files in ``pages/``; one that does not
exist yet is left out of the navigation.
"""
import streamlit as st

from cnnviz.ui.home import available_pages
from cnnviz.ui.state import lecture_mode

st.set_page_config(page_title="cnnviz", page_icon=":material/neurology:", layout="wide")

navigation = {
    section: [st.Page(p.file, title=p.title, icon=p.icon, url_path=p.stem, default=p.stem == "home")
              for p in pages]
    for section, pages in available_pages().items()
}
page = st.navigation(navigation)
with st.sidebar:
    lecture_mode()
page.run()
