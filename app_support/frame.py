"""Routing guard for the page files.

Streamlit decides before the first script run of a server process whether the app uses the old
`pages/` folder mode (it does when a `pages/` folder sits beside app.py), and only app.py's
st.navigation call turns that mode off. So the very first visitor after a server start who opens
a page URL (e.g. /retrain) gets that page file run on its own, without app.py's frame and
navigation. `require_entrypoint()`, called first by every page, turns the old mode off and reruns,
so the request goes through app.py like every later one.
"""

from __future__ import annotations

import streamlit as st


def require_entrypoint() -> None:
    """Rerun through app.py when Streamlit ran this page file directly (see the module docstring)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a Streamlit without the old mode
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()
