"""The dashboard's pages: each module's `render()` draws one page; `dashboard.py` routes to them.

Streamlit also treats a `pages/` folder beside the entry script as legacy multipage scripts: on a fresh
server, a deep link opened first would run a page file directly and skip the router. Each page file
therefore ends with `if __name__ == "__main__": reroute()`, which hands the request back to the router.
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def reroute() -> None:
    """Turn off legacy `pages/` discovery for this server and rerun the request through `dashboard.py`."""
    PagesManager.uses_pages_directory = False
    st.rerun()
