"""The Streamlit side of cnnviz: the only package that imports streamlit."""
