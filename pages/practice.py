"""Practice: the course's worked examples and new ones as exercise cards, each checked by the engine."""
import streamlit as st

from cnnviz.ui import practice

st.title("Practice")
st.caption("The Layer lab and the explorer have a \"Predict first\" switch too: it hides their numbers until you "
           "have made your own prediction.")
practice.exercise_section()
