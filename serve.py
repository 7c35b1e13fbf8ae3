"""The app's server entry: `streamlit run serve.py` (the Space's and the README's command).

It serves `app.py` as an `st.App` whose lifespan hook starts loading the first page's models
(TensorFlow's import included) the moment the server starts (`app_support.prewarm`), so a cold
start pays them while the server comes up and the browser connects, not after. `streamlit run
app.py` still serves the same app, loading the models on the first visit instead.
"""

from contextlib import asynccontextmanager

import streamlit as st


@asynccontextmanager
async def lifespan(app):
    from app_support import prewarm

    prewarm.start()  # background threads: the server answers at once
    yield


app = st.App("app.py", lifespan=lifespan)
