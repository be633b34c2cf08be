"""Practice: the course's worked examples and new ones as exercise cards, each checked by the engine."""
import streamlit as st

from cnnviz.ui import practice
from cnnviz.ui.board import send_to_board

st.title("Practice")
st.caption("The Layer lab and the explorer have a \"Predict first\" switch too: it hides their numbers until you "
           "have made your own prediction.")
practice.exercise_section()

score = practice.practice_score()
if score["answered"]:
    send_to_board({"kind": "practice", "title": "Practice: exercise cards and predictions",
                   "accuracy": score["right"] / score["answered"],
                   "result": f"{score['right']} of {score['answered']} right"}, key="practice")
