"""The app's pages: each module here has a `page()` function that draws it; app.py routes to them.

`PAGES` lists them in the navigation's order (the first is the default page); a page's module
name is also its URL path (/retrain runs `pages.retrain.page`). To add a page, write
`pages/<name>.py` with `def page() -> None` (thin: widgets with keys prefixed by the page's name,
and colourise_core calls), end it with the two lines every page ends with, and add a row here.
"""

from __future__ import annotations

import importlib

import streamlit as st

PAGES = (  # (module name and URL path, title, icon)
    ("compare", "Compare", ":material/compare:"),
    ("diversity", "CVAE diversity", ":material/scatter_plot:"),
    ("shape_set", "Shape Set", ":material/category:"),
    ("retrain", "Retrain", ":material/model_training:"),
    ("ill_posed", "Why is it ill-posed?", ":material/school:"),
    ("guide", "Guide the colours", ":material/colorize:"),
)
NAMES = tuple(name for name, _, _ in PAGES)


def st_page(name: str) -> st.Page:
    """The `st.Page` of `pages/<name>.py`: its `page()` function, at URL path `name`.

    Also what `st.switch_page` takes to open that page (a page is known by its URL path).

    Args:
        name: a name from `NAMES`.

    Returns:
        The page; the first of `PAGES` is the default one.
    """
    title, icon = next((t, i) for n, t, i in PAGES if n == name)

    def run() -> None:  # the module is imported when its page is shown: a start imports only the first page
        importlib.import_module(f"{__name__}.{name}").page()

    run.__name__ = name
    return st.Page(run, title=title, icon=icon, url_path=name, default=name == NAMES[0])


def serve_directly() -> None:
    """Route through app.py when Streamlit ran a page file itself.

    Streamlit runs the first request of a fresh server in its old pages-folder mode when a
    `pages/` folder sits beside app.py, so a first visit to e.g. /retrain runs pages/retrain.py as
    the script. Every page file ends with `if __name__ == "__main__": serve_directly()`, which runs
    app.py's router instead: the frame and the page are drawn as on any later request, and its
    st.navigation call ends the old mode for the server process.
    """
    import app  # the repository root is on sys.path: Streamlit puts the main script's folder there

    app.main()
