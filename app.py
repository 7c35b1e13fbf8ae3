"""colourise: image colourisation with the dissertation's CNN, CGAN and CVAE, a U-Net and colour
hints (Streamlit app).

Run with `streamlit run app.py`. app.py is the router: it draws the shared frame (the sidebar's
title, weights choice and "about" box) and runs the page the URL names, with st.navigation over
the `page()` functions of the modules in pages/ (listed in `pages.PAGES`). Every computation is a
colourise_core call; Streamlit-only helpers are in app_support/.
"""

from __future__ import annotations

import streamlit as st

import pages
from app_support import runtime_choice, weights_choice

ABOUT = (
    "A reproduction of J. Conway, *Deep Learning Methods to Solve the Inverse Problem of "
    "Artificial Image Colourisation*, Honours Individual Project Dissertation, School of "
    "Computing Science, University of Glasgow, 2020.\n\n"
    "The models work in YUV (section 3.1.2): the grey input is the luma Y, and a model "
    "predicts only the chroma U, V, so the output keeps the input's brightness exactly.\n\n"
    "Weights trained on CIFAR-10 and Imagenette are for research and education; the Faces "
    "set (UTKFace) is for non-commercial research."
)


def frame() -> None:
    """The sidebar every page shares: title, the weights choice, the runtime and its device, "about"."""
    with st.sidebar:
        st.markdown("### :material/palette: colourise")
        st.caption("Grey in, colour out: the dissertation's CNN, conditional GAN and conditional VAE, and a "
                   "U-Net that also takes colour hints, predict the chroma (U, V) of a greyscale photo's luma (Y).")
        weights_choice.choose()
        runtime_choice.show_device(runtime_choice.choose())
        with st.expander("About", icon=":material/info:"):
            st.markdown(ABOUT)


def main(only: str | None = None) -> None:
    """Draw the frame and run the page the URL names.

    Args:
        only: route to this page of `pages.NAMES` alone, whatever the URL (a test of one page
            under AppTest: `AppTest.from_function` with `kwargs={"only": name}`).
    """
    st.set_page_config(page_title="colourise", page_icon=":material/palette:", layout="wide")
    page = st.navigation([pages.st_page(name) for name in pages.NAMES if only in (None, name)])
    frame()
    page.run()


if __name__ == "__main__":
    main()
