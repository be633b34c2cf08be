"""Lecture sequences in the app: the presenter bar on every page, the lecturer's draft, and the links.

A sequence's link opens the Lecture sequences page (``sequence?seq=TOKEN``). Presenting it opens each
view's page with the view's settings plus ``seq`` and ``step`` in the URL, so every student who opens
the link walks it at their own pace, a reload keeps the place, and the link of any step is a link to it.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from cnnviz import sequences
from cnnviz.errors import ConfigError
from cnnviz.ui.home import COURSE, PageInfo, available_pages
from cnnviz.ui.state import forget, plain

ROOT = Path(__file__).resolve().parents[2]
SEQ, STEP = "seq", "step"  # the query parameters a presented view carries besides its own settings
NOT_SETTINGS = {SEQ, STEP, "lecture"}  # never stored in a view: lecture mode is the presenter's own choice
DRAFT, DRAFT_TITLE = "_seq_draft", "_seq_title"

CLASSROOM = (
    PageInfo("practice", "Practice", ":material/quiz:",
             "Exercise cards from the course notes and new ones, each checked, with a score."),
    PageInfo("sequence", "Lecture sequences", ":material/slideshow:",
             "Views of the app in a lecture's order, with a note each: one link, Back and Next."),
    PageInfo("board", "Class board", ":material/co_present:",
             "Open a class, or join one with its code: what students build appears live on the board."),
)
"""Pages outside the course's outline, for the classroom (app.py adds those whose file exists)."""


def page_titles() -> dict[str, str]:
    """Every page of this app a view may open, by file stem, with its title."""
    pages = [p for ps in available_pages().values() for p in ps]
    pages += [p for p in CLASSROOM if (ROOT / p.file).exists()]
    return {p.stem: p.title for p in pages}


@st.cache_data(show_spinner=False, max_entries=64)
def load(token: str) -> sequences.Sequence:
    """The sequence in a link (a ConfigError names what is wrong; errors are not cached)."""
    return sequences.decode(token, set(page_titles()))


def share_link(token: str) -> str:
    """The absolute link of a sequence, on the address this app is served at."""
    base = (st.context.url or "").split("?")[0]
    for stem in list(page_titles()) + ["index"]:  # the address of whatever page is open now, back to the root
        if base.endswith("/" + stem):
            base = base[: -len(stem)]
            break
    return f"{base.rstrip('/')}/sequence?{SEQ}={token}"


def go(seq: sequences.Sequence, token: str, step: int) -> None:
    """Open view ``step`` (1-based) of ``seq``: its page with its settings, and the sequence in the URL."""
    view = seq.views[step - 1]
    # what this session holds for a setting would win over the link: every setting the sequence names starts
    # again from the view's value or the page's default
    forget(set().union(*(v.query for v in seq.views)))
    st.switch_page(f"pages/{view.page}.py", query_params={**view.query, SEQ: token, STEP: str(step)})


def _step(raw: str | None, count: int) -> int:
    try:
        return min(max(int(raw or 1), 1), count)
    except ValueError:
        return 1


def presenter(current: str) -> None:
    """Above a page opened from a sequence: the progress, the view's note, Back / Next (arrow keys too)."""
    token = st.query_params.get(SEQ)
    if token is None or current == "sequence":
        return
    try:
        seq = load(token)
    except ConfigError as exc:
        st.warning(f"This link's lecture sequence cannot be shown: {plain(exc)}", icon=":material/link_off:")
        return
    step = _step(st.query_params.get(STEP), len(seq))
    view = seq.views[step - 1]
    with st.container(border=True, key="seq_bar"):
        back, middle, forward = st.columns([2, 6, 2], vertical_alignment="center")
        with middle:  # one band: the page's own content keeps most of the first screen
            st.progress(step / len(seq), text=f"{plain(seq.title)} · view {step} of {len(seq)}")
            if view.note:
                st.markdown(plain(view.note))
        if back.button("Back", disabled=step == 1, shortcut="left",
                       key="seq_prev", help="Previous view (left arrow key)", width="stretch"):
            go(seq, token, step - 1)
        if forward.button("Next", disabled=step == len(seq), shortcut="right",
                          key="seq_next", help="Next view (right arrow key)", width="stretch"):
            go(seq, token, step + 1)


def collector(current: str) -> None:
    """In the sidebar: add the page as it is now (its settings from the URL) with a note to the lecturer's draft."""
    draft: list[sequences.View] = st.session_state.setdefault(DRAFT, [])
    with st.expander(f"Lecture sequence ({len(draft)} views)", icon=":material/slideshow:"):
        note = st.text_area("Note for this view", key="seq_note", max_chars=sequences.MAX_NOTE, height=80)
        if st.button("Add this view", key="seq_add", icon=":material/add:"):
            view = sequences.View(current, {k: v for k, v in st.query_params.items() if k not in NOT_SETTINGS},
                                  note.strip())
            try:
                sequences.check(sequences.Sequence("draft", (*draft, view)), set(page_titles()))
            except ConfigError as exc:
                st.warning(plain(exc))
            else:
                draft.append(view)
                st.toast(f"View {len(draft)} added")
        st.page_link("pages/sequence.py", label="Edit, share and present it", icon=":material/slideshow:")


def overview(seq: sequences.Sequence, token: str, key: str) -> None:
    """A sequence's views in order (each note shown as text), a Present button and its link."""
    titles = page_titles()
    for number, view in enumerate(seq.views, 1):
        c1, c2 = st.columns([1, 6], vertical_alignment="center")
        if c1.button(f"View {number}", key=f"{key}_go_{number}", width="stretch"):
            go(seq, token, number)
        c2.markdown(f"**{plain(titles.get(view.page, view.page))}** · {plain(view.note) or '(no note)'}")
    if st.button("Present from the start", key=f"{key}_start", type="primary", icon=":material/play_arrow:"):
        go(seq, token, 1)
    st.caption("The link for students (each walks it at their own pace):")
    st.code(share_link(token), language=None, wrap_lines=True)


def draft_editor() -> None:
    """The lecturer's own sequence: title, notes, order; its link once it has a view."""
    draft: list[sequences.View] = st.session_state.setdefault(DRAFT, [])
    title = st.text_input("Title", key=DRAFT_TITLE, value="My lecture", max_chars=sequences.MAX_TITLE)
    if not draft:
        st.info("No views yet. Open any page, set it up, then use \"Add this view\" under Lecture sequence in the "
                "sidebar.", icon=":material/info:")
        return
    titles = page_titles()
    for i, view in enumerate(list(draft)):
        with st.container(border=True):
            settings = ", ".join(f"{k}={v}" for k, v in view.query.items()) or "the defaults"
            st.markdown(f"**{i + 1}. {plain(titles.get(view.page, view.page))}** · {plain(settings, 200)}")
            note = st.text_input("Note", value=view.note, key=f"seq_note_{i}_{hash(repr(view))}",
                                 max_chars=sequences.MAX_NOTE)
            if note != view.note:
                draft[i] = sequences.View(view.page, view.query, note)
            up, down, remove = st.columns(3)
            if up.button("Up", key=f"seq_up_{i}", disabled=i == 0, icon=":material/arrow_upward:"):
                draft[i - 1], draft[i] = draft[i], draft[i - 1]
                st.rerun()
            if down.button("Down", key=f"seq_down_{i}", disabled=i == len(draft) - 1,
                           icon=":material/arrow_downward:"):
                draft[i + 1], draft[i] = draft[i], draft[i + 1]
                st.rerun()
            if remove.button("Remove", key=f"seq_rm_{i}", icon=":material/delete:"):
                del draft[i]
                st.rerun()
    try:
        seq = sequences.Sequence(title.strip() or "My lecture", tuple(draft))
        token = sequences.encode(seq)
    except ConfigError as exc:
        st.warning(plain(exc))
        return
    st.markdown("**Your sequence**")
    overview(seq, token, "draft")
