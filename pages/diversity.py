"""CVAE diversity: many plausible colourings of one grey image, and how temperature spreads them."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app_support import inputs, loader, memo, views, weights_choice
from colourise_core import colour, diversity, imageio, inference, metrics
from colourise_core.errors import ColouriseError
from colourise_core.run_folder import RunFolder
from pages import serve_directly

CURVE_TEMPERATURES = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
BY_WEIGHT = -1  # the component picker's "choose by weight" entry
DEFAULT_KEY = "_div_weights_default"  # the default the page last gave (session state)


def cvae_info(source) -> dict:
    """What the page says about a source's CVAE: its mixture size K and measured diversity (if any)."""
    from colourise_core import weights

    try:
        if source.kind == "set":
            entry = weights.read_manifest(weights.resolve_weights_dir())["sets"][source.value]["models"]["cvae"]
            spec, figures = entry["spec"], (entry.get("metrics") or {}).get("diversity")
        else:
            spec, figures = RunFolder(source.value).read(RunFolder.SPEC), None
    except (ColouriseError, KeyError, OSError, ValueError):
        return {"components": 1, "diversity": None}
    return {"components": max(1, int(spec["config"].get("mdn_components", 0))), "diversity": figures}


def default_weights(sidebar, sources: list, info: dict) -> tuple:
    """The page's default CVAE source and why: an MDN CVAE when there is one, on the sidebar's data if possible.

    Order: the sidebar's own weights when they are an MDN CVAE (or when no MDN CVAE exists); else
    the MDN CVAE trained on the sidebar's data set (faces -> `faces-mdn`: a model of faces draws
    face colourings); else the one trained on the default set's data (photos); else the first.
    Returns:
        (WeightSource, reason text).
    """
    from colourise_core.weights import DEFAULT_SET

    mdn = [s for s in sources if info[s.key]["components"] > 1]
    if sidebar is not None and sidebar.has("cvae") and (info[sidebar.key]["components"] > 1 or not mdn):
        return sidebar, "the weights chosen in the sidebar"
    if not mdn:
        return sources[0], "the first weights with a CVAE"
    why = ("an MDN CVAE (a conditional encoder with several latent modes, dissertation 6.1.3): the sidebar's "
           "weights have none, and the dissertation's CVAE draws nearly identical samples")
    if sidebar is not None:
        same = [s for s in mdn if s.dataset == sidebar.dataset and s.resolution == sidebar.resolution]
        if same:
            return same[0], why + f"; it is trained on the same data as the sidebar's `{sidebar.value}` ({sidebar.describe()})"
    photo_set = next((s for s in sources if s.kind == "set" and s.value == DEFAULT_SET), None)
    photos = [s for s in mdn if photo_set is not None and s.dataset == photo_set.dataset]
    return (photos or mdn)[0], why


def choose_weights(sidebar):
    """The CVAE weights for this page: an MDN CVAE by default (it is the one whose samples differ)."""
    sources = weights_choice.find(lambda s: s.has("cvae"))
    if not sources:
        return None, None
    info = {s.key: cvae_info(s) for s in sources}
    default, why = default_weights(sidebar, sources, info)
    keys = [s.key for s in sources]
    by_key = {s.key: s for s in sources}
    # Follow the default (it moves with the sidebar: faces there -> the faces MDN CVAE here) until the
    # user picks other weights on this page.
    current = st.session_state.get("div_weights")
    if current not in keys or current == st.session_state.get(DEFAULT_KEY):
        st.session_state["div_weights"] = default.key
    st.session_state[DEFAULT_KEY] = default.key
    key = st.selectbox("CVAE weights", keys, key="div_weights", format_func=lambda k: by_key[k].label,
                       help="Defaults to an MDN CVAE, whose samples differ; the dissertation's CVAE draws nearly the same sample.")
    chosen = by_key[key]
    if key != default.key:
        why = "your choice above"
    k = info[key]["components"]
    kind = f"an MDN CVAE with {k} latent modes" if k > 1 else "the dissertation's CVAE (one Gaussian latent)"
    text = f"Using **{chosen.label}**, {kind}, trained on {chosen.describe()}; chosen as {why}."
    figures = info[key]["diversity"]
    if figures:
        text += (f" Measured on {figures.get('dataset', '?')} {figures.get('split', '')} at temperature 1 with 8 samples: "
                 f"spread {figures['spread']:.3f}, best-of-8 UV MSE {figures['best_uv_mse']:.4f} against one sample's "
                 f"{figures['single_uv_mse']:.4f}.")
    st.caption(text)
    return chosen, k


def page() -> None:
    """The CVAE diversity page."""
    st.title("CVAE diversity")
    st.caption("A greyscale image has many plausible colourings (chapter 2.2). The CVAE draws them: it decodes latent "
               "codes z sampled from its conditional encoder for this Y, with the spread scaled by the temperature. "
               "With an MDN conditional encoder (dissertation 6.1.3, after Deshpande et al., CVPR 2017) the encoder "
               "gives several modes, each with a weight: a sample first picks a mode by its weight (or the one you "
               "pick), then draws within it. Temperature 0 is the mode's mean.")

    source, components = choose_weights(weights_choice.selected())
    pick_col, settings_col = st.columns([3, 2], gap="large")
    with pick_col:
        picked = inputs.pick("div", default_sample="Colour - parachute in a blue sky (Imagenette val 6561)")
    with settings_col:
        temperature = st.slider("Temperature", 0.0, 3.0, 1.0, 0.05, key="div_temperature",
                                help="0: the mean (of the mode). 1: the spread the CVAE learnt. Above 1: wider.")
        samples = st.slider("Number of samples", 1, 16, 8, key="div_samples")
        seed = st.number_input("Seed", 0, 2**31 - 1, 0, step=1, key="div_seed", help="The same seed gives the same samples.")

    if source is None:
        st.info("No CVAE in the available weights. Pick a weight set with a CVAE in the sidebar, or train one on the "
                "Retrain page.", icon=":material/info:")
        return
    if picked is None:
        return

    try:
        net, lock = loader.load("cvae", source)
    except ColouriseError as e:
        st.error(str(e), icon=":material/error:")
        return

    # The CVAE sees its training size whatever the input, so the samples are made at screen size.
    work = picked.fit(views.DISPLAY_SIDE)
    small = imageio.resize_float(work, (net.resolution, net.resolution))  # what the CVAE sees
    key = (picked.digest, source.key, source.version)

    component = None
    if components > 1:
        def mix() -> np.ndarray:
            with lock:  # inside the work slot (slot first, then the model's lock)
                return net.mixture_weights(colour.rgb_to_y(small)[None])[0]

        weights = memo.get("div_mix", key, mix, keep=4, slot="the CVAE")
        order = [BY_WEIGHT] + list(range(components))
        labels = {BY_WEIGHT: "by weight"} | {k: f"mode {k + 1} ({weights[k]:.0%})" for k in range(components)}
        with settings_col:
            chosen = st.selectbox("Mode", order, key="div_component", format_func=labels.get,
                                  help="Each mode is one Gaussian of the conditional encoder's mixture for this image; "
                                       "its weight is how likely the encoder thinks it is. 'by weight' picks a mode per sample.")
        component = None if chosen == BY_WEIGHT else int(chosen)


    def draw(n: int, t: float, s: int, k) -> np.ndarray:
        """(n, h, w, 3) samples of the screen-size image."""
        with lock:
            out = inference.colourise_image(work, net, samples=n, temperature=t, seed=s, component=k)
        return out.rgb if n > 1 else out.rgb[None]


    drawn = memo.get("div_samples", key + (samples, temperature, int(seed), component),
                     lambda: draw(samples, temperature, int(seed), component), keep=4, slot="the CVAE")
    errors = [metrics.uv_mse(rgb, work) for rgb in drawn] if picked.is_colour else None
    best = int(np.argmin(errors)) if errors else None

    mode_text = "" if component is None else f", mode {component + 1}"
    st.subheader(f"{samples} sample{'s' if samples > 1 else ''} at temperature {temperature:g} (seed {int(seed)}{mode_text})")
    grid = st.columns(4)
    for i, rgb in enumerate(drawn):
        with grid[i % 4]:
            caption = f"Sample {i + 1}"
            if errors:
                caption += f" · UV MSE {errors[i]:.5f}" + (" · nearest the truth" if i == best and len(drawn) > 1 else "")
            st.image(views.for_display(rgb, 320), caption=caption, width="stretch")
    if len(drawn) > 1:
        st.caption(f"Spread of these samples (mean pairwise RMS UV distance): {metrics.mean_pairwise_distance(drawn):.4f}")


    def curve() -> list[dict]:
        """Spread and best-of-N error per temperature at the CVAE's own resolution (this image, this seed)."""
        n = max(2, samples)
        with lock:
            return diversity.temperature_curve(net, small[None], CURVE_TEMPERATURES, samples=n, seed=int(seed), component=component)


    points = memo.get("div_curve", key + (max(2, samples), int(seed), component), curve, keep=4, slot="the CVAE")
    xs = [p["temperature"] for p in points]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=xs, y=[p["spread"] for p in points], mode="lines+markers", name="spread",
                             hovertemplate="temperature %{x}<br>spread %{y:.4f}<extra></extra>"), secondary_y=False)
    if picked.is_colour:
        fig.add_trace(go.Scatter(x=xs, y=[p["best_uv_mse"] for p in points], mode="lines+markers",
                                 name=f"best-of-{max(2, samples)} UV MSE",
                                 hovertemplate="temperature %{x}<br>best UV MSE %{y:.5f}<extra></extra>"), secondary_y=True)
        fig.add_trace(go.Scatter(x=xs, y=[p["grey_uv_mse"] for p in points], mode="lines", name="grey UV MSE",
                                 line=dict(dash="dash")), secondary_y=True)
    fig.add_vline(x=temperature, line_dash="dot", annotation_text="current")
    fig.update_layout(title="Spread and best-of-N error against the temperature", xaxis_title="temperature", height=360,
                      margin=dict(l=10, r=10, t=50, b=10))
    fig.update_yaxes(title_text="mean pairwise RMS UV distance", tickformat=".2~g", secondary_y=False)
    if picked.is_colour:
        fig.update_yaxes(title_text="UV MSE against the original", tickformat=".2~g", secondary_y=True)
    st.plotly_chart(fig, key="div_spread_chart")
    st.caption(f"{max(2, samples)} samples per temperature, at the CVAE's {net.resolution} px, seed {int(seed)}. Best-of-N "
               "needs the original, so it says what the CVAE *can* produce, not what it would pick.")
    if points[xs.index(1.0)]["spread"] < 1e-3:
        st.info("These samples barely differ: this CVAE's conditional encoder learnt a very narrow spread, as the "
                "dissertation found for a CVAE trained with an unweighted reconstruction term (5.3). Pick an MDN CVAE "
                "above, raise the temperature, or train a CVAE with a lower reconstruction weight W on the Retrain page.",
                icon=":material/info:")

    if picked.is_colour:
        st.subheader("The sample nearest the original")
        mean = memo.get("div_mean", key + (component,), lambda: draw(1, 0.0, 0, component)[0], keep=4, slot="the CVAE")
        a, b, c = st.columns(3)
        a.image(views.for_display(picked.rgb8, 420), caption="Original", width="stretch")
        b.image(views.for_display(mean, 420), caption=f"Mean (temperature 0{mode_text}) · UV MSE {metrics.uv_mse(mean, work):.5f}",
                width="stretch")
        c.image(views.for_display(drawn[best], 420), caption=f"Best of {len(drawn)} (sample {best + 1}) · UV MSE {errors[best]:.5f}",
                width="stretch")
        st.caption("Picking the best of N needs the original, so it is a measure of what the CVAE *can* produce "
                   "(best-of-N), not something it can do on a real grey photo. The dissertation showed mean results "
                   "for fairness (5.3).")
    else:
        st.caption("With a colour input, the sample nearest the original (lowest UV MSE) is marked and shown beside the mean.")


if __name__ == "__main__":  # Streamlit ran this file itself: see pages.serve_directly
    serve_directly()
