"""The live class board in the app: open or join a class, the lecturer's board, and "Send to class board".

Pages that make something a student could show the class call :func:`send_to_board` with a submission dict
(see :class:`cnnviz.classroom.Submission`); the button appears only once the session has joined a class. All
the rules (who may see or change what) live in :mod:`cnnviz.classroom.store`; this module only shows things.
"""
from __future__ import annotations

import html
import math
import time
from typing import Any, Mapping

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from cnnviz.classroom import KINDS, Board, ClassStore, Membership, database_url, submission
from cnnviz.errors import ConfigError
from cnnviz.ui.figures import chart
from cnnviz.ui.owner import owner_key
from cnnviz.ui.state import font_size, plain, style_chart, table_height

JOINED = "_board_joined"  # this session's Membership, or None once looked up and not found
NOTICE = "_board_notice"  # a refused action's message, shown on the next run of the part that offered it
PAGE = "pages/board.py"
JOIN_PARAM = "join"  # ?join=CODE: the students' link, with the code filled in
CLASS_PARAM, SECRET_PARAM = "class", "lecturer"  # ?class=CODE&lecturer=SECRET: the lecturer's link
REFRESH_S = 1.0  # new submissions reach the projected board within about a second
KIND_COLOURS = dict(zip(KINDS, px.colors.qualitative.Safe))


@st.cache_resource(show_spinner=False)
def _store(url: str) -> ClassStore:
    return ClassStore(url)


def class_store(quiet: bool = False) -> ClassStore | None:
    """The board's store (one per server process); None when its database cannot be used, saying why unless
    ``quiet`` (a page that only offers the send button does not report the board's database)."""
    try:
        return _store(database_url())
    except ConfigError as exc:
        if not quiet:
            st.error(plain(exc), icon="⚠️")
        return None


def joined(quiet: bool = False) -> Membership | None:
    """The class this session has joined: looked up once per session by the browser's owner key, so a
    student back after a reload or a server restart is still in class."""
    if JOINED not in st.session_state:
        store = class_store(quiet)
        if store is None:
            return None
        found = store.memberships(owner_key())
        st.session_state[JOINED] = found[0] if found else None
    return st.session_state[JOINED]


def send_to_board(item: Mapping[str, Any], key: str, label: str = "Send to class board") -> None:
    """A button that sends ``item`` (kind, title, params, accuracy, result) to the board of the class this
    session has joined; nothing at all when it has joined none. ``key`` makes the button unique on its page."""
    membership = joined(quiet=True)
    if membership is None:
        return
    try:
        submission(item)
    except ConfigError as exc:
        st.caption(f"Cannot be sent to the class board: {plain(exc)}")
        return
    if st.button(label, key=f"board_send_{key}", icon=":material/co_present:",
                 help=f"Shows this on the board of class {membership.shown_code} as {membership.name}"):
        store = class_store()
        if store is None:
            return
        try:
            store.submit(membership.code, owner_key(), item)
        except ConfigError as exc:
            st.error(plain(exc), icon="⚠️")
        else:
            st.success(f"Sent to the board of class {membership.shown_code}.", icon=":material/check:")


def short(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut to fit a submission's title."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


# -- pure builders: what the board shows -------------------------------------------------------------------
def _percent(value: float | None) -> str:
    return "unknown" if value is None else f"{100 * value:.1f}%"


def board_table(board: Board) -> pd.DataFrame:
    """The board's entries, newest first, as text (unknown numbers say so)."""
    rows = [{"student": e.name, "kind": e.kind_label, "what": e.title,
             "parameters": "unknown" if e.params is None else f"{e.params:,}",
             "accuracy": _percent(e.accuracy), "result": e.result,
             "sent": time.strftime("%H:%M:%S", time.localtime(e.sent_at))}
            for e in reversed(board.entries)]
    return pd.DataFrame(rows, columns=["student", "kind", "what", "parameters", "accuracy", "result", "sent"])


def board_chart(board: Board, font: int = 13) -> go.Figure:
    """Parameters (log scale) against accuracy, one dot per entry that has both, coloured by kind."""
    fig = go.Figure()
    for kind, label in KINDS.items():
        points = [e for e in board.entries if e.kind == kind and e.params and e.accuracy is not None]
        if not points:
            continue
        # plotly reads a little HTML in text, so names and titles are escaped to show as typed
        fig.add_trace(go.Scatter(
            x=[e.params for e in points], y=[100 * e.accuracy for e in points], mode="markers+text",
            name=label, marker={"size": 14, "color": KIND_COLOURS[kind]},
            text=[html.escape(e.name) for e in points], textposition="top center",
            hovertext=[html.escape(f"{e.name}: {e.title}") for e in points], hoverinfo="text+x+y"))
    fig.update_xaxes(type="log", title="parameters (log scale)")
    fig.update_yaxes(title="accuracy (%)", range=[0, 105])
    fig.update_layout(font={"size": font}, legend={"orientation": "h", "y": -0.25})
    return fig


def plotted(board: Board) -> int:
    """How many entries the chart can place (it needs both a parameter count and an accuracy)."""
    return sum(1 for e in board.entries if e.params and e.accuracy is not None and math.isfinite(e.accuracy))


# -- the page's parts ------------------------------------------------------------------------------------
def _link(**query: str) -> str:
    """An absolute link to the board page (the app's own address as the browser sees it)."""
    base = (st.context.url or "").split("?")[0].rstrip("/")
    base = base[: -len("/board")] if base.endswith("/board") else base
    return f"{base}/board?" + "&".join(f"{k}={v}" for k, v in query.items())


def open_form(store: ClassStore) -> None:
    """The lecturer's side: open a class, which leads to its board (the link now carries its secret)."""
    with st.form("board_open", border=True):
        st.subheader("Open a class", help="For lecturers: students join with the code; you project the board.")
        title = st.text_input("Class title (optional)", max_chars=80, placeholder="CNNs, week 3")
        if st.form_submit_button("Open a class", type="primary", icon=":material/add:"):
            try:
                opened = store.open_class(owner_key(), title)
            except ConfigError as exc:
                st.error(plain(exc), icon="⚠️")
            else:
                st.query_params.clear()
                st.query_params[CLASS_PARAM] = opened.code
                st.query_params[SECRET_PARAM] = opened.secret
                st.rerun()


def join_form(store: ClassStore) -> None:
    """The students' side: a code (filled in from a ``?join=`` link) and a display name."""
    with st.form("board_join", border=True):
        st.subheader("Join a class", help="Type the code on the lecturer's screen and a name the class will see.")
        code = st.text_input("Class code", value=st.query_params.get(JOIN_PARAM, "")[:40],
                             placeholder="ABCDE-FGHJK")
        name = st.text_input("Display name", placeholder="a nickname is fine",
                             help="Shown on the class board. No personal data needed: any nickname will do.")
        if st.form_submit_button("Join", type="primary", icon=":material/login:"):
            try:
                st.session_state[JOINED] = store.join(code, owner_key(), name)
            except ConfigError as exc:
                st.error(plain(exc), icon="⚠️")
            else:
                st.rerun()


def student_panel(store: ClassStore, membership: Membership) -> None:
    """A student in class: which class, their own entries (withdrawable) and the board as projected."""
    title = f" ({membership.title})" if membership.title else ""
    st.success(f"You are in class {membership.shown_code}{plain(title)} as {plain(membership.name)}. Pages "
               "that make something to show (the builder, the challenges, practice, experiments) now have a "
               "**Send to class board** button.", icon=":material/groups:")
    with st.expander("Join another class", icon=":material/login:"):
        join_form(store)

    # Not live: a class of students each rerunning every few seconds would load the server for nothing;
    # the board is on the projector, and a press of Refresh reruns only this part.
    @st.fragment
    def live() -> None:
        try:
            mine = store.my_entries(membership.code, owner_key())
            board = store.board(membership.code, owner_key())
        except ConfigError as exc:
            st.error(plain(exc), icon="⚠️")
            return
        st.subheader("Your entries")
        _notice()
        if not mine:
            st.info("Nothing sent yet.")
        for entry in reversed(mine):
            with st.container(horizontal=True, vertical_alignment="center"):
                st.text(f"{entry.kind_label}: {entry.title[:80]}  ({_percent(entry.accuracy)})")
                st.button("Withdraw", key=f"board_withdraw_{entry.id}", icon=":material/delete:", on_click=_act,
                          args=(store.withdraw, membership.code, owner_key(), entry.id))
        with st.container(horizontal=True, vertical_alignment="bottom"):
            st.subheader("The class board")
            st.button("Refresh", key="board_refresh", icon=":material/refresh:")
        show_board(board)

    live()


def _act(action: Any, *args: Any) -> None:
    """A button's callback: run a store action before the (fragment's) rerun; keep its refusal to show."""
    try:
        action(*args)
    except ConfigError as exc:
        st.session_state[NOTICE] = str(exc)


def _notice() -> None:
    if (message := st.session_state.pop(NOTICE, None)) is not None:
        st.error(plain(message), icon="⚠️")


def show_board(board: Board) -> None:
    """The board's chart and table (names and titles as text, never Markdown)."""
    if board.closed:
        st.info("This class has ended: the board takes no more entries.", icon=":material/lock:")
    if not board.entries:
        st.info("No entries yet: they appear here as students send them.", icon=":material/hourglass_empty:")
        return
    count = plotted(board)
    st.caption(f"{len(board.entries)} entries; {count} with both parameters and accuracy are on the chart.")
    if count:
        fig = style_chart(board_chart(board, font_size()), "Parameters against accuracy", height=420)
        chart(fig)
    st.dataframe(board_table(board), hide_index=True, height=table_height(len(board.entries)))


def lecturer_board(store: ClassStore, code: str, secret: str) -> None:
    """The projected board of class ``code``: how to join, the live chart and table, and the lecturer's tools."""
    try:
        board = store.board(code, owner_key(), secret)
    except ConfigError as exc:
        st.error(plain(exc), icon="⚠️")
        if st.button("Back to the class board's start"):
            st.query_params.clear()
            st.rerun()
        return
    title = f": {board.title}" if board.title else ""
    st.header(f"Class {board.shown_code}{plain(title)}")
    if not board.closed:
        st.markdown(f"Students: open the Class board page and type the code **{board.shown_code}**, or open "
                    "this link:")
        st.code(_link(**{JOIN_PARAM: board.code}), language=None)
    st.caption("Keep this page's link to yourself: with this browser, it manages the class.")

    @st.fragment(run_every=REFRESH_S)
    def live() -> None:
        try:
            current = store.board(code, owner_key(), secret)
        except ConfigError as exc:
            st.error(plain(exc), icon="⚠️")
            return
        st.metric("Students", len(current.students), help="Who has joined, entries or not")
        show_board(current)
        manage(store, current, secret)

    live()


def manage(store: ClassStore, board: Board, secret: str) -> None:
    """Hide a name, clear the board, close the class."""
    with st.expander("Manage the class", icon=":material/settings:"):
        _notice()
        names = [s.name for s in board.students]
        if names:
            with st.container(horizontal=True, vertical_alignment="bottom"):
                who = st.selectbox("Student", names, key="board_who", width=300,
                                   format_func=lambda n: n + ("  (hidden)" if any(
                                       s.name == n and s.hidden for s in board.students) else ""))
                hidden = next((s.hidden for s in board.students if s.name == who), False)
                st.button("Show the name" if hidden else "Hide the name", key="board_hide", on_click=_act,
                          args=(store.hide, board.code, owner_key(), secret, who, not hidden))
        if not board.closed:
            with st.container(horizontal=True):
                confirm = st.checkbox("I mean it", key="board_confirm",
                                      help="Clearing and closing cannot be undone")
                st.button("Clear the board", key="board_clear", disabled=not confirm, on_click=_act,
                          args=(store.clear, board.code, owner_key(), secret))
                st.button("Close the class", key="board_close", disabled=not confirm, on_click=_act,
                          args=(store.close, board.code, owner_key(), secret))
