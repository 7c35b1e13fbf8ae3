"""colourise: automatic image colourisation with a CNN, a CGAN and a CVAE (Streamlit app).

Run with `streamlit run app.py`. The pages live in pages/; app.py draws the shared frame (title,
the sidebar's weights choice, an "about" box) and routes with st.navigation. Every computation is
a colourise_core call; Streamlit-only helpers are in app_support/.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="colourise", page_icon=":material/palette:", layout="wide")

from app_support import runtime_choice, weights_choice  # noqa: E402 - after set_page_config

PAGES = [
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:", default=True),
    st.Page("pages/diversity.py", title="CVAE diversity", icon=":material/scatter_plot:"),
    st.Page("pages/shape_set.py", title="Shape Set", icon=":material/category:"),
    st.Page("pages/retrain.py", title="Retrain", icon=":material/model_training:"),
    st.Page("pages/ill_posed.py", title="Why is it ill-posed?", icon=":material/school:"),
]

page = st.navigation(PAGES)

with st.sidebar:
    st.markdown("### :material/palette: colourise")
    st.caption("Grey in, colour out: a CNN, a conditional GAN and a conditional VAE predict the "
               "chroma (U, V) of a greyscale photo's luma (Y).")
    weights_choice.choose()
    runtime_choice.show_device(runtime_choice.choose())
    with st.expander("About", icon=":material/info:"):
        st.markdown(
            "A reproduction of J. Conway, *Deep Learning Methods to Solve the Inverse Problem of "
            "Artificial Image Colourisation*, Honours Individual Project Dissertation, School of "
            "Computing Science, University of Glasgow, 2020.\n\n"
            "The models work in YUV (section 3.1.2): the grey input is the luma Y, and a model "
            "predicts only the chroma U, V, so the output keeps the input's brightness exactly.\n\n"
            "Weights trained on CIFAR-10 and Imagenette are for research and education; the Faces "
            "set (UTKFace) is for non-commercial research."
        )

page.run()
