"""Network builder: write or click a network together, see every shape and number live, then train it."""
import streamlit as st

from cnnviz.ui import builder as b
from cnnviz.ui.board import send_to_board, short
from cnnviz.ui.home import COURSE, link
from cnnviz.ui.state import row_px, chart_height, font_size, plain, table_height, url_number, url_text_area
from cnnviz.ui.figures import chart

PAGES = {p.stem: p for section in COURSE.values() for p in section}

st.title("Network builder")
st.caption("Stack the course's layers into your own CNN: write it as text or click it together in the table; every "
           "shape and count updates as you type. The whole network is in this page's link.")


def start_from() -> None:
    preset = b.PRESETS[st.session_state["b_start"]]
    b.load_network(preset.text, preset.input_size)


with st.expander("Challenges", icon=":material/flag:",
                 expanded=st.query_params.get(b.CHALLENGE, b.NO_CHALLENGE) != b.NO_CHALLENGE):
    challenge = b.pick_challenge()
    if challenge is not None:
        b.challenge_panel(challenge)


@st.fragment
def builder() -> None:
    """The network: input, text, table, numbers, drawing and links (an edit reruns only this part)."""
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.selectbox("Start from", list(b.PRESETS), index=None, key="b_start", placeholder="Choose a network",
                     on_change=start_from, width=300, help="Replaces the network below with one of the course's")
        c = url_number("Input channels", b.C, 1, 1, 4096, width=130)
        h = url_number("Input height", b.H, 32, 1, 4096, width=130)
        w = url_number("Input width", b.W, 32, 1, 4096, width=130)
    shape = (int(c), int(h), int(w))
    text = url_text_area("Network (text)", b.NET, b.LENET5_TEXT, height=80,
                         help="Layers separated by spaces, new lines, | or ->; N*( ... ) repeats. "
                              "Example: conv(6,5) tanh avgpool(2) fc(10)")
    notice = st.session_state.pop(b.NOTICE, None)
    if notice:
        st.warning(plain(notice), icon="⚠️")
    shown = b.shown_text(text)
    if shown != text:
        problem = b.cached_description(text, shape).error
        st.error(plain(str(problem)), icon="⚠️")
        if problem is not None and problem.position is not None:
            st.code(b.caret(text, problem.position), language=None)
        st.caption("Below: the last network that could be read, while the text is being fixed. Editing the table "
                   "starts again from it.")
    desc = b.cached_description(shown, shape)

    if desc.layers:
        for col, (label, value, helptext) in zip(st.columns(6), b.totals(desc)):
            col.metric(label, value, help=helptext)
    st.subheader("Layers", help="One row per layer of the text (a repetition N*( ... ) is one row): its type, its "
                                "settings, its output and parameters (hover the ? for the formula).")
    if desc.error is not None and shown == text and desc.error.top_index is not None:
        st.warning(f"Row {desc.error.top_index + 1} cannot be built: its message is at the row.", icon="⚠️")
    b.table_editor(shown, desc, editable=True)

    if not desc.layers:
        st.info("Add a layer, type a network in the text box, or start from one of the course's networks.")
        return
    tabs = st.tabs(["Every layer's numbers", "Drawing", "Train, compare, export"], key="b_tab", bind="query-params")
    with tabs[0]:
        if tabs[0].open:
            st.dataframe(b.numbers_table(desc), hide_index=True, column_config=b.NUMBERS_CONFIG,
                         row_height=row_px(), height=table_height(len(desc.rows)))
    with tabs[1]:
        if tabs[1].open:
            if desc.ok:
                chart(b.cached_drawing(shown, shape, chart_height(400), font_size()),
                                config={"displaylogo": False})
            else:
                st.info("The drawing appears once every layer is possible.")
    with tabs[2]:
        if tabs[2].open:
            use_it(shown, shape, desc)


def use_it(text: str, shape: tuple[int, int, int], desc: b.Description) -> None:
    """Links that carry the network to the other pages, and the downloads."""
    if not desc.ok:
        st.info("Fix the highlighted row first: only a network that can be built can be trained or exported.")
        return
    with st.container(horizontal=True):
        train = b.train_query(text, shape)
        if train is not None and desc.output_shape == (10,) and shape[1] == shape[2]:
            link(PAGES["training"], "Train it", **train)
        else:
            st.caption("Train it: the bundled data sets are square grey or colour images of 10 classes; end the "
                       "network with fc(10) on a square 1- or 3-channel input to train it.")
        if shape[1] == shape[2]:
            link(PAGES["compare"], "Compare with LeNet-5", **b.compare_query(text, shape))
        link(PAGES["inside"], "See inside", **b.inside_query(text, shape))
    b.show_export(text, desc)
    send_to_board({"kind": "builder", "title": short(text), "params": desc.params}, key="builder")


builder()
