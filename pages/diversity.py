"""CVAE diversity: many plausible colourings of one grey image, and how temperature spreads them."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app_support import inputs, loader, memo, views, weights_choice
from colourise_core import imageio, inference, metrics
from colourise_core.errors import ColouriseError
from pages import serve_directly

SPREAD_TEMPERATURES = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
SPREAD_SAMPLES = 6


def draw(net, lock, work: np.ndarray, n: int, t: float, s: int) -> np.ndarray:
    """(n, h, w, 3) samples of `work` (a screen-size image) at temperature `t`, seed `s`."""
    with lock:
        out = inference.colourise_image(work, net, samples=n, temperature=t, seed=s)
    return out.rgb if n > 1 else out.rgb[None]


def spread_curve(net, lock, work: np.ndarray, seed: int) -> list[float]:
    """Mean pairwise distance of SPREAD_SAMPLES samples per temperature, at the CVAE's own resolution."""
    r = net.resolution
    small = imageio.resize_float(work, (r, r))
    values = []
    for t in SPREAD_TEMPERATURES:
        with lock:
            out = inference.colourise_image(small, net, samples=SPREAD_SAMPLES, temperature=t, seed=seed)
        values.append(metrics.mean_pairwise_distance(out.rgb))
    return values


def page() -> None:
    """The CVAE diversity page."""
    st.title("CVAE diversity")
    st.caption("A greyscale image has many plausible colourings (chapter 2.2). The CVAE draws them: it decodes latent "
               "codes z sampled around the conditional encoder's mean for this Y, with the standard deviation scaled "
               "by the temperature. Temperature 0 is the mean (the single result on Compare); higher temperatures "
               "give more varied, and less likely, colourings (dissertation 5.4.3, figure 5.6).")

    source = weights_choice.selected()
    pick_col, settings_col = st.columns([3, 2], gap="large")
    with pick_col:
        picked = inputs.pick("div", default_sample="Colour - parachute in a blue sky (Imagenette val 6561)")
    with settings_col:
        temperature = st.slider("Temperature", 0.0, 3.0, 1.0, 0.05, key="div_temperature",
                                help="0: the conditional mean. 1: the spread the CVAE learnt. Above 1: wider.")
        samples = st.slider("Number of samples", 1, 16, 8, key="div_samples")
        seed = st.number_input("Seed", 0, 2**31 - 1, 0, step=1, key="div_seed",
                               help="The same seed gives the same samples.")

    if source is None or not source.has("cvae"):
        where = source.label if source is not None else "the current weights"
        st.info(f"No CVAE in {where}. Pick a weight set with a CVAE in the sidebar, or train one on the Retrain page.",
                icon=":material/info:")
        return
    if picked is None:
        return

    try:
        net, lock = loader.load("cvae", source)
    except ColouriseError as e:
        st.error(str(e), icon=":material/error:")
        return

    # The CVAE sees its training size whatever the input, so the samples are made at screen size.
    work = imageio.resize_float(picked.rgb, views.fit_side(*picked.rgb.shape[:2], views.DISPLAY_SIDE))

    key = (picked.digest, source.key, source.version)
    drawn = memo.get("div_samples", key + (samples, temperature, int(seed)), lambda: draw(net, lock, work, samples, temperature, int(seed)), keep=4)

    st.subheader(f"{samples} sample{'s' if samples > 1 else ''} at temperature {temperature:g} (seed {int(seed)})")
    grid = st.columns(4)
    for i, rgb in enumerate(drawn):
        with grid[i % 4]:
            caption = f"Sample {i + 1}"
            if picked.is_colour:
                caption += f" · UV MSE {metrics.uv_mse(rgb, work):.5f}"
            st.image(views.for_display(rgb, 320), caption=caption, width="stretch")
    if len(drawn) > 1:
        st.caption(f"Spread of these samples (mean pairwise RMS UV distance): {metrics.mean_pairwise_distance(drawn):.4f}")

    spread = memo.get("div_spread", key + (int(seed),), lambda: spread_curve(net, lock, work, int(seed)), keep=4)
    fig = go.Figure(go.Scatter(x=list(SPREAD_TEMPERATURES), y=spread, mode="lines+markers", name="spread",
                               hovertemplate="temperature %{x}<br>spread %{y:.4f}<extra></extra>"))
    fig.add_vline(x=temperature, line_dash="dot", annotation_text="current")
    fig.update_layout(title="Spread of the samples grows with the temperature", xaxis_title="temperature",
                      yaxis_title="mean pairwise RMS UV distance", yaxis_tickformat=".2~g", height=340,
                      margin=dict(l=10, r=10, t=50, b=10))
    st.plotly_chart(fig, key="div_spread_chart")
    st.caption(f"{SPREAD_SAMPLES} samples per temperature, at the CVAE's {net.resolution} px, seed {int(seed)}. At 0 every "
               "sample is the mean, so the spread is 0.")
    if spread[SPREAD_TEMPERATURES.index(1.0)] < 1e-3:
        st.info("These samples barely differ: this CVAE's conditional encoder learnt a very narrow spread, as the "
                "dissertation found for a CVAE trained with an unweighted reconstruction term (5.3). Raise the "
                "temperature, or train a CVAE with a lower reconstruction weight W on the Retrain page (5.4.3, figure 5.6).",
                icon=":material/info:")

    if picked.is_colour:
        st.subheader("Best of the samples against the original")
        errors = [metrics.uv_mse(rgb, work) for rgb in drawn]
        best = int(np.argmin(errors))
        mean = memo.get("div_mean", key, lambda: draw(net, lock, work, 1, 0.0, 0)[0], keep=4)
        a, b, c = st.columns(3)
        a.image(views.for_display(picked.rgb, 420), caption="Original", width="stretch")
        b.image(views.for_display(mean, 420), caption=f"Mean (temperature 0) · UV MSE {metrics.uv_mse(mean, work):.5f}",
                width="stretch")
        c.image(views.for_display(drawn[best], 420), caption=f"Best of {len(drawn)} (sample {best + 1}) · UV MSE {errors[best]:.5f}",
                width="stretch")
        st.caption("Picking the best of N needs the original, so it is a measure of what the CVAE *can* produce "
                   "(best-of-N), not something it can do on a real grey photo. The dissertation showed mean results "
                   "for fairness (5.3).")
    else:
        st.caption("With a colour input, the best sample (lowest UV MSE against the original) is shown beside the mean.")


if __name__ == "__main__":  # Streamlit ran this file itself: see pages.serve_directly
    serve_directly()
