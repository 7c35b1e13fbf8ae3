"""Compare: one greyscale input, the CNN, CGAN and CVAE results side by side."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import streamlit as st

from app_support import inputs, loader, memo, sessions, views, weights_choice
from app_support.weights_choice import MODEL_LABELS
from colourise_core import colour, imageio, inference, metrics
from colourise_core.errors import ColouriseError
from colourise_core.models import DISSERTATION_MODELS
from pages import serve_directly

MODELS = DISSERTATION_MODELS  # one column each (the registry's dissertation three)
INTRO = ("The grey input is the luma Y of your image; each model predicts only the chroma U, V, so every result "
         "keeps the input's brightness exactly. A colour input is turned to grey first, and the results are then "
         "scored against it.")
RENDER_OPTIONS = [0, 64, 128, 256, 384, 512, 768, 1024]


@dataclasses.dataclass
class Result:
    model: str
    rgb: np.ndarray  # full size uint8 (H, W, 3): a quarter of float32's memory
    alpha: np.ndarray | None
    seconds: float
    seen: tuple[int, int]  # (h, w) the model saw
    display: np.ndarray  # uint8 for the screen
    scores: dict | None  # against the colour original


def colourise(model: str, source, picked, render_size: int | None) -> Result:
    net, lock = loader.load(model, source)
    with sessions.work_slot(MODEL_LABELS[model]), lock:  # server-wide limit on concurrent work
        out = inference.colourise_image(picked.loaded, net, render_size=None if model == "cvae" else render_size)
    h, w = picked.rgb.shape[:2]
    seen = inference.input_size(net, h, w, None if model == "cvae" else render_size)
    scores = None
    if picked.is_colour:
        scores = {"psnr": metrics.psnr(out.rgb, picked.rgb), "uv_mse": metrics.uv_mse(out.rgb, picked.rgb),
                  "colourfulness": metrics.colourfulness(out.rgb)}
    return Result(model, colour.to_uint8(out.rgb), out.alpha, out.seconds, seen, views.for_display(out.rgb), scores)


def score_lines(scores: dict) -> str:
    return (f"PSNR **{scores['psnr']:.2f} dB** · UV MSE **{scores['uv_mse']:.5f}** · "
            f"colourfulness **{scores['colourfulness']:.1f}**")


@st.fragment
def before_after(results: dict, grey: np.ndarray) -> None:
    st.subheader("Before / after")
    a, b = st.columns([1, 3])
    with a:
        choice = st.radio("Model", list(results), key="compare_wipe_model", format_func=MODEL_LABELS.get)
        mode = st.radio("Comparison", ["Wipe", "Blend"], key="compare_wipe_mode", horizontal=True)
        position = st.slider("Grey <-> colour", 0, 100, 50, key="compare_wipe", format="%d%%",
                             help="Wipe: colour left of the line, grey right (0%: all grey, 100%: all colour). Blend: a cross-fade.")
    with b:
        after = results[choice].rgb
        img = views.wipe(grey, after, position / 100) if mode == "Wipe" else views.blend(grey, after, position / 100)
        st.image(img, caption=f"{MODEL_LABELS[choice]}: {mode.lower()} at {position}%", width="content")


def page() -> None:
    """The Compare page."""
    st.title("Compare the CNN, CGAN and CVAE")
    st.caption(INTRO)

    source = weights_choice.selected()
    pick_col, settings_col = st.columns([3, 2], gap="large")
    with pick_col:
        picked = inputs.pick("compare")
    with settings_col:
        render = st.select_slider(
            "Render resolution (CNN and CGAN)", RENDER_OPTIONS, key="compare_render",
            format_func=lambda v: "training size" if v == 0 else f"{v} px",
            help="The CNN and CGAN are fully convolutional: they can look at the image at a larger size (its longer "
                 "side, rounded to their stride) to see more detail, at the cost of time. The CVAE has dense "
                 "layers and always sees its training size.")
        render_size = render or None

    if source is None:
        st.info("No weights to colourise with yet. Add a weights folder (weights/manifest.json), or train a model "
                "on the Retrain page; it then appears in the sidebar's Weights choice.", icon=":material/info:")
    if picked is None or source is None:
        return

    h, w = picked.rgb.shape[:2]
    grey = views.grey_of(picked.rgb)
    stem = Path(picked.name).stem
    st.subheader(f"{picked.name} · {w} x {h} px" + (" · colour original" if picked.is_colour else ""))
    columns = iter(st.columns(2 + len(MODELS) if picked.is_colour else 1 + len(MODELS)))
    with next(columns):
        st.image(views.for_display(grey), caption="Grey input (Y)", width="stretch")
        if picked.is_colour:
            st.markdown("Baseline (grey): " + score_lines({"psnr": metrics.psnr(grey, picked.rgb),
                                                              "uv_mse": metrics.uv_mse(grey, picked.rgb),
                                                              "colourfulness": 0.0}))
    if picked.is_colour:
        with next(columns):
            st.image(views.for_display(picked.rgb), caption="Original", width="stretch")
            st.markdown(f"Colourfulness **{metrics.colourfulness(picked.rgb):.1f}**")

    results: dict[str, Result] = {}
    for model in MODELS:  # each column is drawn as soon as its model is done
        with next(columns):
            if not source.has(model):
                st.markdown(f"**{MODEL_LABELS[model]}**")
                st.info(f"Not in {source.label}: pick a weight set with a {MODEL_LABELS[model]} in the sidebar.",
                        icon=":material/info:")
                continue
            key = (picked.digest, source.key, source.version, model, render_size if model != "cvae" else None)
            try:
                with st.spinner(f"Colourising with the {MODEL_LABELS[model]}..."):
                    r = memo.get("compare", key, lambda m=model: colourise(m, source, picked, render_size), keep=3)  # one image's three results
            except ColouriseError as e:
                st.markdown(f"**{MODEL_LABELS[model]}**")
                st.error(str(e), icon=":material/error:")
                continue
            results[model] = r
            st.image(r.display, caption=f"{MODEL_LABELS[model]} · {r.seconds:.2f} s", width="stretch")
            st.caption(f"Saw {r.seen[1]} x {r.seen[0]} px; colourised at {w} x {h} px.")
            if r.scores:
                st.markdown(score_lines(r.scores))
            st.download_button(
                f"Download {MODEL_LABELS[model]} PNG", lambda r=r: imageio.encode_png(r.rgb, r.alpha),
                file_name=f"{stem}-{model}.png", mime="image/png", key=f"compare_download_{model}",
                icon=":material/download:", on_click="ignore")

    if results:
        tiles = [("Grey input", grey)] + ([("Original", picked.rgb)] if picked.is_colour else [])
        tiles += [(f"{MODEL_LABELS[m]} ({results[m].seconds:.2f} s)", results[m].rgb) for m in MODELS if m in results]
        st.download_button("Download the whole grid as one PNG",
                           lambda: imageio.encode_png(views.labelled_grid(tiles, height=min(h, 512))),
                           file_name=f"{stem}-grid.png", mime="image/png", key="compare_download_grid",
                           icon=":material/grid_view:", on_click="ignore")

        before_after(results, grey)


if __name__ == "__main__":  # Streamlit ran this file itself: see pages.serve_directly
    serve_directly()
