"""Lecture sequences: the ready ones, the lecturer's own, and one opened from a link."""
import streamlit as st

from cnnviz import sequences
from cnnviz.errors import ConfigError
from cnnviz.ui import sequence as sq
from cnnviz.ui.state import plain

st.title("Lecture sequences")
st.markdown("A sequence is a walk through the app: each view is a page with its settings and a note. Present it "
            "with Back and Next (or the arrow keys); share its link and every student follows at their own pace.")

token = st.query_params.get(sq.SEQ)
if token is not None:
    try:
        shared = sq.load(token)
    except ConfigError as exc:
        st.error(f"This link's lecture sequence cannot be opened: {plain(exc)}", icon=":material/link_off:")
    else:
        st.header(plain(shared.title))
        sq.overview(shared, token, "link")

st.header("Ready sequences")
for key, ready in sequences.READY.items():
    with st.expander(f"{ready.title} ({len(ready)} views)", expanded=token is None):
        sq.overview(ready, sequences.encode(ready), key)

st.header("Your sequence")
sq.draft_editor()
