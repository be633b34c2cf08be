"""Start Streamlit for cnnviz: ``python -m cnnviz.ui.launch run app.py [streamlit options]``.

``app.py`` lays out the pages with ``st.navigation``. Streamlit only learns that
when ``app.py`` first runs; until then it would serve a link such as
``/explorer?ex_model=vgg16`` straight from the ``pages/`` folder, without the
navigation, the wide layout or lecture mode. Telling it up front fixes deep links
from the very first visit.
"""
import sys

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web.cli import main

if __name__ == "__main__":
    PagesManager.uses_pages_directory = False
    sys.argv[0] = "streamlit"
    sys.exit(main())
