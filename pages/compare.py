"""Compare: one greyscale input, the CNN, CGAN and CVAE results side by side."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import streamlit as st

from app_support import inputs, loader, memo, runtime_choice, sessions, views, weights_choice
from app_support.weights_choice import MODEL_LABELS
from colourise_core import colour, imageio, inference, metrics
from colourise_core.errors import ColouriseError
from colourise_core.family_names import DISSERTATION_FAMILIES, FAMILY_NAMES, FIXED_SIZE_FAMILIES, VIVIDNESS_FAMILIES
from colourise_core.photo import to_float
from pages import serve_directly

MODELS = FAMILY_NAMES  # one column each
INTRO = ("The grey input is the luma Y of your image; each model predicts only the chroma U, V, so every result "
         "keeps the input's brightness exactly. A colour input is turned to grey first, and the results are then "
         "scored against it.")
VIVIDNESS_OPTIONS = [0, 1.0, 0.7, 0.5, 0.38, 0.25, 0.15, 0.1]  # 0: the temperature chosen on validation


def label(model: str) -> str:
    """Column label: the dissertation's three are marked as such."""
    return f"{MODEL_LABELS[model]} (dissertation)" if model in DISSERTATION_FAMILIES else MODEL_LABELS[model]
RENDER_OPTIONS = [0, 64, 128, 256, 384, 512, 768, 1024]


@dataclasses.dataclass(eq=False)
class Result:
    model: str
    rgb8: np.ndarray  # full size uint8 (H, W, 3), display-ready
    alpha: np.ndarray | None
    seconds: float
    seen: tuple[int, int]  # (h, w) the model saw
    display: np.ndarray  # uint8 for the screen
    scores: dict | None  # against the colour original

    @functools.cached_property
    def png(self) -> bytes:
        """The PNG download, encoded on the first click only (then kept with the result)."""
        return imageio.encode_png(self.rgb8, self.alpha)


def colourise_in_order(pending: dict, picked, render_size: int | None, vividness: float | None = None):
    """Yield (model, Result, or the error its load raised) in `pending`'s order, each as soon as
    that model is loaded and has run, so the page shows the first result without waiting for
    the last model. The photo is decoded once and its luma computed once for all of them
    (`inference.colourise_each`); each model's lock is held while it runs. Take the server's
    work slot first (`sessions.work_slot`).

    Args:
        pending: {model: Future of (model, lock)} (`loader.load_in_order`).
    """
    failed: list = []

    class InOrder:  # the {name: model} that colourise_each walks, resolved one model at a time
        @staticmethod
        def items():
            for m, future in pending.items():
                try:
                    net, lock = future.result()
                except Exception as e:  # noqa: BLE001 - reported in the model's column
                    failed.append((m, e))
                    continue
                with lock:
                    yield m, net

    stream = inference.colourise_each(picked.loaded, InOrder(),
                                      render_size={m: render_size for m in pending if m not in FIXED_SIZE_FAMILIES},
                                      temperature={m: vividness for m in pending if m in VIVIDNESS_FAMILIES})
    for model, r in stream:
        yield from _drain(failed)
        scores = None
        if picked.is_colour:  # band by band: no full-size float copies of the result or the original
            scores = metrics.banded_scores((to_float(r.rgb8[i:i + len(true)]), true) for i, true in picked.loaded.bands())
        yield model, Result(model, r.rgb8, r.alpha, r.seconds, r.seen, views.for_display(r.rgb8), scores)
    yield from _drain(failed)


def _drain(items: list):
    while items:
        yield items.pop(0)


@dataclasses.dataclass(eq=False)
class InputView:
    """What the page shows of the picked photo, made once (in a work slot) and kept as uint8."""

    grey8: np.ndarray  # (H, W, 1) uint8 luma: the grey input at full size
    grey_display: np.ndarray  # uint8 for the screen
    original_display: np.ndarray | None  # uint8 for the screen (colour inputs)
    baseline: dict | None  # the grey input's scores against the colour original
    colourfulness: float | None  # the original's


def input_view(picked) -> InputView:
    """The grey input and the original's figures, made band by band from the uint8 photo."""
    luma = picked.loaded.luma(reference=True)  # (H, W, 1) float32, band by band
    grey8 = colour.to_uint8(luma)
    baseline = colourfulness = original_display = None
    if picked.is_colour:  # band by band: no full-size float copies
        bands = picked.loaded.bands
        baseline = {**metrics.banded_scores((np.repeat(luma[i:i + len(true)], 3, axis=-1), true) for i, true in bands()),
                    "colourfulness": 0.0}
        colourfulness = metrics.banded_scores((true, true) for _, true in bands())["colourfulness"]
        original_display = views.for_display(picked.rgb8)
    return InputView(grey8, views.for_display(grey8), original_display, baseline, colourfulness)


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
        after = results[choice].rgb8
        img = views.wipe(grey, after, position / 100) if mode == "Wipe" else views.blend(grey, after, position / 100)
        st.image(img, caption=f"{MODEL_LABELS[choice]}: {mode.lower()} at {position}%", width="content")


def option_slider(label: str, options: list, key: str, zero: str, shown: str, help: str):
    """A select slider whose first option, 0, means the default (`zero`); returns None for it."""
    value = st.select_slider(label, options, key=key, format_func=lambda v: zero if v == 0 else shown.format(v),
                             help=help)
    return value or None


def draw_result(model: str, outcome, stem: str, w: int, h: int) -> None:
    """One model's column: its result, figures and download, or the error its load raised."""
    if isinstance(outcome, BaseException):
        st.markdown(f"**{label(model)}**")
        st.error(str(outcome) if isinstance(outcome, ColouriseError) else f"{type(outcome).__name__}: {outcome}",
                 icon=":material/error:")
        return
    r = outcome
    st.image(r.display, caption=f"{MODEL_LABELS[model]} · {r.seconds:.2f} s", width="stretch")
    st.caption("The dissertation's model (2020)." if model in DISSERTATION_FAMILIES else
               "Past the dissertation: a distribution over colours, rare ones re-weighted (Zhang et al. 2016); "
               "takes colour hints on the Guide page.")
    st.caption(f"Saw {r.seen[1]} x {r.seen[0]} px; colourised at {w} x {h} px.")
    if r.scores:
        st.markdown(score_lines(r.scores))
    st.download_button(
        f"Download {MODEL_LABELS[model]} PNG", lambda r=r: r.png,
        file_name=f"{stem}-{model}.png", mime="image/png", key=f"compare_download_{model}",
        icon=":material/download:", on_click="ignore")


def page() -> None:
    """The Compare page."""
    st.title("Compare the dissertation's CNN, CGAN and CVAE with a U-Net")
    st.caption(INTRO)

    source = weights_choice.selected()
    pick_col, settings_col = st.columns([3, 2], gap="large")
    with pick_col:
        picked = inputs.pick("compare")
    with settings_col:
        render_size = option_slider(
            "Render resolution (CNN and CGAN)", RENDER_OPTIONS, "compare_render", "training size", "{} px",
            "The CNN and CGAN are fully convolutional: they can look at the image at a larger size (its longer "
            "side, rounded to their stride) to see more detail, at the cost of time. The CVAE has dense "
            "layers and always sees its training size.")
        vividness = option_slider(
            "Vividness (U-Net)", VIVIDNESS_OPTIONS, "compare_vividness", "chosen on validation", "T = {}",
            "The U-Net predicts a distribution over colours and shows their annealed mean (Zhang et al. 2016): "
            "T = 1 is the plain mean (muted, safe); a smaller T moves towards the most likely colour (vivid, "
            "sometimes wrong).")

    if source is None:
        st.info("No weights to colourise with yet. Add a weights folder (weights/manifest.json), or train a model "
                "on the Retrain page; it then appears in the sidebar's Weights choice.", icon=":material/info:")
    if picked is None or source is None:
        return

    h, w = picked.shape[:2]
    view = memo.get("compare_input", (picked.digest,), lambda: input_view(picked), keep=1, slot="the photo")
    grey = view.grey8
    stem = Path(picked.name).stem
    st.subheader(f"{picked.name} · {w} x {h} px" + (" · colour original" if picked.is_colour else ""))
    columns = iter(st.columns(2 + len(MODELS) if picked.is_colour else 1 + len(MODELS)))
    with next(columns):
        st.image(view.grey_display, caption="Grey input (Y)", width="stretch")
        if picked.is_colour:
            st.markdown("Baseline (grey): " + score_lines(view.baseline))
    if picked.is_colour:
        with next(columns):
            st.image(view.original_display, caption="Original", width="stretch")
            st.markdown(f"Colourfulness **{view.colourfulness:.1f}**")

    runtime = runtime_choice.selected()
    # A model the chosen set lacks (the U-Net beside a dissertation set): the set that has it (the
    # dissertation's three: the chosen set's only).
    others = {m: weights_choice.with_model(m, source) for m in MODELS
              if m not in DISSERTATION_FAMILIES and not source.has(m)}
    column = {m: next(columns) for m in MODELS}
    key = (picked.digest, source.key, source.version, runtime, render_size, vividness,
           tuple((m, s.key, s.version) for m, s in others.items() if s is not None))
    results: dict = memo.peek("compare", key)  # {model: Result or the load's error}
    if results is None:
        results = {}
        pending = loader.load_in_order(MODELS, source, runtime, others=others)
        if pending:
            with sessions.work_slot("the models"), st.spinner("Loading the models and colourising..."):
                for model, outcome in colourise_in_order(pending, picked, render_size, vividness):
                    results[model] = outcome
                    with column[model]:  # drawn as soon as it is ready
                        draw_result(model, outcome, stem, w, h)
            if not any(isinstance(o, BaseException) for o in results.values()):  # a failed load is retried
                memo.put("compare", key, results, keep=3)
    else:
        for model, outcome in results.items():
            with column[model]:
                draw_result(model, outcome, stem, w, h)
    for model in MODELS:
        if model not in results:
            with column[model]:
                st.markdown(f"**{label(model)}**")
                st.info(f"Not in {source.label}: pick a weight set with a {MODEL_LABELS[model]} in the sidebar.",
                        icon=":material/info:")
    results = {m: r for m, r in results.items() if isinstance(r, Result)}

    if results:
        def grid_png() -> bytes:  # on the click only
            tiles = [("Grey input", np.repeat(grey, 3, axis=-1))] + ([("Original", picked.rgb8)] if picked.is_colour else [])
            tiles += [(f"{MODEL_LABELS[m]} ({results[m].seconds:.2f} s)", results[m].rgb8) for m in MODELS if m in results]
            return imageio.encode_png(views.labelled_grid(tiles, height=min(h, 512)))

        st.download_button("Download the whole grid as one PNG", grid_png,
                           file_name=f"{stem}-grid.png", mime="image/png", key="compare_download_grid",
                           icon=":material/grid_view:", on_click="ignore")

        before_after(results, grey)


if __name__ == "__main__":  # Streamlit ran this file itself: see pages.serve_directly
    serve_directly()
