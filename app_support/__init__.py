"""App-layer helpers for the Streamlit app (`app.py`, `pages/`).

Everything that needs Streamlit lives here or in the pages; `colourise_core` never imports
Streamlit. The modules:

- `paths`: where samples, datasets and per-session run folders are (environment overrides).
- `weights_choice`: the weight sets of the manifest plus this session's runs; the shared sidebar
  choice.
- `loader`: the one `st.cache_resource` model loader.
- `inputs`: the image picker (sample gallery, upload, camera) shared by pages.
- `views`: small numpy helpers for display (downscale, wipe, grids, feature-map tiles).
- `training_job`: background training with a progress callback and a stop flag.
- `shapes_draw`: user-placed (or canvas-drawn) Shape Set images.
- `ill_posed`: the figures of the "Why is it ill-posed?" page (pages/ill_posed.py).
- `sessions`: session lifecycle (per-session store, end, folder removal) and server-wide limits.
- `datacheck`: the Retrain page's check of an uploaded zip against the decoding policy.
"""
