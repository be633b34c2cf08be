"""The floor of bench_interaction.py: the smallest Streamlit page that answers a click with a number.

One number input and one ``st.metric``: no navigation, no sidebar, no analysis. What this page
costs per click (in the browser and on the server) is what Streamlit itself costs; cnnviz's pages
are measured against it in the same run.
"""
import streamlit as st

n = st.number_input("n", value=0, step=1)
st.metric("Twice n", 2 * n)
