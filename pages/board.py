"""Class board: a lecturer opens a class and projects its live board; students join with the code."""
import streamlit as st

from cnnviz.ui import board as b

st.title("Class board")
st.caption("A lecturer opens a class and projects its board; students join with the code and a nickname, then "
           "send what they build (a network, a challenge, a practice score, an experiment) to the board.")

store = b.class_store()
if store is not None:
    code, secret = st.query_params.get(b.CLASS_PARAM), st.query_params.get(b.SECRET_PARAM)
    if code is not None and secret is not None:
        b.lecturer_board(store, code, secret)
    elif (membership := b.joined()) is not None:
        b.student_panel(store, membership)
    else:
        left, right = st.columns(2, gap="large")
        with left:
            b.join_form(store)
        with right:
            b.open_form(store)
