"""cnnviz: the app's navigation, in the order of the course, the lecture-mode toggle and "Copy link" for every page.

Start it with ``make run`` (or ``scripts/serve``). Pages are files in ``pages/``; one that does not
exist yet is left out of the navigation.
"""
import streamlit as st

from cnnviz.ui.heap import freeze_imports
from cnnviz.ui.home import available_pages
from cnnviz.ui.links import copy_link, embed_chrome, embedded
from cnnviz.ui.sequence import CLASSROOM, ROOT, collector, presenter
from cnnviz.ui.state import lecture_mode, lecture_requested

# Lecture mode and embed mode fold the sidebar away: a projector or an iframe needs the width for the page
st.set_page_config(page_title="cnnviz", page_icon=":material/neurology:", layout="wide",
                   initial_sidebar_state="collapsed" if lecture_requested() or embedded() else "auto")

# Streamlit serves the default page at "/" only, yet it reserves its own path name: the home page reserves
# "index", so that "/home" (the address a student types or a link keeps) can be a hidden page that goes home.
navigation = {
    section: [st.Page(p.file, title=p.title, icon=p.icon, url_path="index" if p.stem == "home" else p.stem,
                      default=p.stem == "home")
              for p in pages]
    for section, pages in available_pages().items()
}
navigation["Classroom"] = [st.Page(p.file, title=p.title, icon=p.icon, url_path=p.stem)
                           for p in CLASSROOM if (ROOT / p.file).exists()]
home = next((p for pages in navigation.values() for p in pages if p.url_path == ""), None)


def go_home() -> None:
    st.switch_page(home)


if home is not None:
    navigation[next(iter(navigation))].append(st.Page(go_home, title=home.title, url_path="home",
                                                      visibility="hidden"))
page = st.navigation(navigation, position="hidden" if embedded() else "sidebar")
current = page.url_path or "home"
with st.sidebar:
    lecture_mode()
    if current != "sequence" and not embedded():
        collector(current)
if embedded():
    embed_chrome()
else:
    copy_link()
presenter(current)
page.run()
freeze_imports()  # after a page's first imports: Streamlit's collection after each run stays cheap
