"""Why is it ill-posed? A lesson on chapter 2.2 with live figures."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app_support import ill_posed, inputs, loader, memo, views, weights_choice
from app_support.weights_choice import MODEL_LABELS
from colourise_core import colour, imageio, inference, metrics
from colourise_core.family_names import SAMPLING_FAMILIES
from colourise_core.models import DISSERTATION_MODELS
from pages import serve_directly


def page() -> None:
    """The lesson: why is colourisation ill-posed?"""
    st.title("Why is colourisation ill-posed?")
    st.caption("A lesson in five parts, after chapter 2.2 of the dissertation. Turning a colour photo grey is easy and "
               "exact; turning it back is not, because many colour images share one grey image.")

    st.header("1. Hadamard's three conditions")
    st.markdown(
        "Hadamard (1902) called a problem **well-posed** when it satisfies all three conditions below; it is "
        "**ill-posed** when it breaks at least one. For colourisation, *find the colour image X whose grey is Y*:")
    st.table({
        "condition": ["Existence: a solution exists", "Uniqueness: there is only one",
                      "Stability: the solution changes continuously with the input"],
        "colourisation": ["holds: the grey image itself (U = V = 0) is a valid colouring",
                          "FAILS: every chroma (U, V) with the same luma Y gives the same grey (part 2)",
                          "FAILS: a tiny change of grey can flip the most plausible colour (a grey that could be "
                          "a red or a green apple); there is no continuous inverse"],
    })
    st.markdown(
        "In YUV this is plain to see (section 3.1.2): greyscale keeps Y and throws U and V away, "
        "`Y = 0.299 R + 0.587 G + 0.114 B`. Two of the three numbers of every pixel are lost. A model can only "
        "guess them from *priors*: what things usually look like (grass is green, sky is blue).")

    st.header("2. One grey image, many colourings")
    picked = inputs.pick("ill", default_sample="Colour - parachute in a blue sky (Imagenette val 6561)", camera=False)
    if picked is not None:
        work = picked.fit(480)
        if not picked.is_colour:
            st.info("This image is greyscale: its chroma is zero, so every colouring below is grey too. Pick a colour "
                    "image (e.g. the parachute) to see the effect.", icon=":material/info:")
        angle = st.slider("Rotate the chroma by (degrees)", 0, 359, 120, key="ill_angle",
                          help="Turns every pixel's (U, V) around grey: a hue rotation at constant luma.")
        variants = [("Original", work), (f"Chroma rotated {angle} deg", ill_posed.rotate_chroma(work, angle)),
                    ("U and V swapped", ill_posed.swap_uv(work)), ("Chroma x 0.4", ill_posed.scale_chroma(work, 0.4))]
        cols = st.columns(len(variants))
        for col, (caption, img) in zip(cols, variants):
            col.image(views.for_display(img, 320), caption=caption, width="stretch")
        cols = st.columns(len(variants))
        for col, (caption, img) in zip(cols, variants):
            col.image(views.for_display(views.grey_of(img), 320), caption="its grey", width="stretch")
        diff = ill_posed.max_luma_difference([img for _, img in variants])
        st.markdown(f"**Max luma difference between these four greys: {diff:.2e}** (on a 0-1 scale; one 8-bit grey "
                    f"level is {1 / 255:.2e}). Four different colour images, one grey image: a colouriser shown "
                    "this grey cannot know which of them (or of infinitely many others) it came from.")

    st.header("3. The colours that share one luma")
    y = st.slider("Luma Y", 0.0, 1.0, 0.5, 0.01, key="ill_luma")
    plane, inside, u_axis, v_axis = ill_posed.uv_plane(y)
    fig = go.Figure(go.Image(z=colour.to_uint8(plane), x0=float(u_axis[0]), dx=float(u_axis[1] - u_axis[0]),
                             y0=float(v_axis[0]), dy=float(v_axis[1] - v_axis[0]), hoverinfo="skip"))
    gu, gv = np.meshgrid(np.linspace(-colour.U_MAX, colour.U_MAX, 29), np.linspace(-colour.V_MAX, colour.V_MAX, 41))
    fig.add_trace(go.Scatter(x=gu.ravel(), y=gv.ravel(), mode="markers", marker=dict(size=9, opacity=0.01, color="black"),
                             hovertemplate="U %{x:.3f}<br>V %{y:.3f}<extra></extra>", name="pick"))
    fig.update_layout(title=f"All (U, V) at Y = {y:.2f}; hatched: outside the RGB cube", height=520, showlegend=False,
                      xaxis_title="U (blue - yellow)", yaxis_title="V (red - cyan)", margin=dict(l=10, r=10, t=50, b=10))
    fig.update_yaxes(autorange=True, scaleanchor="x")
    event = st.plotly_chart(fig, key="ill_uv_plane", on_select="rerun", selection_mode="points")
    a, b = st.columns([2, 1])
    with a:
        st.caption("Click a point of the plane to pick its colour, or use the sliders.")
        u = st.slider("U", -colour.U_MAX, colour.U_MAX, 0.10, 0.005, key="ill_u")
        v = st.slider("V", -colour.V_MAX, colour.V_MAX, 0.20, 0.005, key="ill_v")
        point = views.selected_point(event)
        if point:
            u, v = point
            st.caption(f"Picked on the plane: U = {u:.3f}, V = {v:.3f} (clear the selection to use the sliders).")
    with b:
        rgb, grey, ok = ill_posed.swatch(y, u, v)
        sw = np.concatenate([np.broadcast_to(rgb, (96, 96, 3)), np.ones((96, 8, 3), np.float32),
                             np.broadcast_to(grey, (96, 96, 3))], axis=1)
        st.image(colour.to_uint8(sw), caption="the colour · its grey", width=200)
        r8 = colour.to_uint8(rgb)
        st.markdown(f"Y = {y:.2f}, U = {u:.3f}, V = {v:.3f} -> RGB ({r8[0]}, {r8[1]}, {r8[2]})"
                    + ("" if ok else " **(outside the RGB cube: shown with its chroma scaled towards grey until it fits, "
                       "same Y)**"))
    st.caption(f"{inside.mean():.0%} of this (U, V) rectangle is a real colour at Y = {y:.2f}. Every one of them turns "
               "into the same grey on the right.")

    st.header("4. Where each model fails, and why")
    c1, c2, c3 = st.columns(3)
    c1.markdown("**CNN: muted.** Trained with mean squared error, its best answer to *red or green?* is the "
                "average of the two, and the average of many plausible colours is close to grey. It colours only what "
                "its data shows again and again (sky, grass), and leaves uncertain things dull (5.4.1).")
    c2.markdown("**CGAN: saturated.** Its discriminator punishes dull, grey-looking chroma, so the generator commits "
                "to strong colours, right or wrong; it also struggled to keep colours inside edges (5.4.2).")
    c3.markdown("**CVAE: diverse.** It models a *distribution* of colourings: each latent sample is one plausible "
                "answer, so it can give several instead of their average (5.4.3; see the CVAE diversity page).")
    if picked is not None and picked.is_colour:
        rotations = [ill_posed.rotate_chroma(work, a) for a in range(0, 360, 60)]
        mean = np.mean(rotations, axis=0)
        st.image(views.labelled_grid([("0 deg", rotations[0]), ("120 deg", rotations[2]), ("240 deg", rotations[4]),
                                      ("mean of 6 (MSE's answer)", mean)], height=160),
                 caption=f"If these six colourings were equally likely, the MSE-optimal prediction is their mean: "
                         f"colourfulness {metrics.colourfulness(mean):.1f} against {metrics.colourfulness(work):.1f} for "
                         "the original. That is the CNN's muted look.", width="content")

    source = weights_choice.selected()
    if picked is not None and source is not None:
        st.subheader("Live demo")
        small = imageio.resize_float(work, views.fit_side(*work.shape[:2], 256))
        cols = st.columns(len(DISSERTATION_MODELS))
        for col, model in zip(cols, DISSERTATION_MODELS):
            with col:
                loaded = loader.load_or_explain(model, source)
                if loaded is None:
                    continue
                net, lock = loaded

                def run(net=net, lock=lock, model=model):
                    with lock:
                        n = 4 if model in SAMPLING_FAMILIES else 1
                        out = inference.colourise_image(small, net, samples=n, temperature=1.0, seed=0).rgb
                    return out if n > 1 else out[None]

                outs = memo.get("ill_demo", (picked.digest, source.key, source.version, model), run, keep=6,
                                slot=f"the {MODEL_LABELS[model]}")
                row = np.concatenate([views.for_display(o, 256) for o in outs], axis=1)
                what = f"{len(outs)} samples at temperature 1" if len(outs) > 1 else "its one answer"
                st.image(row, caption=f"{MODEL_LABELS[model]}: {what}; colourfulness "
                         f"{np.mean([metrics.colourfulness(o) for o in outs]):.1f}", width="stretch")
    elif source is None:
        st.info("With weights (sidebar), a live demo of the three models appears here.", icon=":material/info:")
    well_posed(picked)


def well_posed(picked) -> None:
    """Part 5: reveal N true colours and the problem becomes well-posed (Levin et al. 2004 and the U-Net)."""
    st.header("5. Add information and it becomes well-posed")
    st.markdown(
        "The grey image lacks two numbers per pixel. Tell the colouriser a few of them, the true colour at N "
        "random points, and the missing information shrinks: with enough hints only one colouring fits. Levin et "
        "al.'s method (SIGGRAPH 2004) spreads each hint to the neighbouring pixels of similar luma; the hint-taking "
        "U-Net (after Zhang et al., SIGGRAPH 2017) was trained to take hints beside the grey image. The curve shows "
        "how close each comes to the original (PSNR) as N grows. The *Guide the colours* page lets you place hints "
        "yourself.")
    if picked is None or not picked.is_colour:
        st.info("Pick a colour image in part 2 (e.g. the parachute): its true colours are the hints.",
                icon=":material/info:")
        return
    work = ill_posed.lesson_image(picked.rgb)
    unet, lock, source = _lesson_unet()
    ident = (picked.digest, source.key if source else None, source.version if source else None)

    def locked(fn):
        if lock is None:
            return fn()
        with lock:
            return fn()

    curves = memo.get("ill_curve", ident, lambda: locked(lambda: ill_posed.hints_curves(work, unet)), keep=2,
                      slot="Levin's method and the U-Net")
    n = st.slider("N true colours revealed", 0, 100, 10, key="ill_hints_n")
    labels = {"levin": "Levin et al. 2004", "unet": "U-Net with hints"}
    fig = go.Figure([go.Scatter(x=c["n"], y=c["psnr"], mode="lines+markers", name=labels[m]) for m, c in curves.items()])
    fig.add_hline(y=curves["levin"]["psnr"][0], line_dash="dot", annotation_text="grey (N = 0)")
    fig.add_vline(x=n, line_dash="dash", line_color="grey")
    fig.update_layout(height=320, xaxis_title="N random true colours", yaxis_title="PSNR against the original (dB)",
                      margin=dict(l=10, r=10, t=30, b=10), title="More information, closer to the one true colouring")
    a, b = st.columns([3, 2])
    a.plotly_chart(fig, key="ill_hints_curve")
    outs = memo.get("ill_hints", ident + (n,), lambda: locked(lambda: ill_posed.hinted(work, n, unet)), keep=4,
                    slot="Levin's method and the U-Net")
    tiles = [(f"{labels[m].split(' ')[0]}, N = {n}", o) for m, o in outs.items()] + [("original", work)]
    b.image(views.labelled_grid(tiles, height=160), width="stretch",
            caption=" · ".join(f"{labels[m]} with {n} true colour(s): PSNR {metrics.psnr(o, work):.2f} dB, colourfulness "
                               f"{metrics.colourfulness(o):.1f}" for m, o in outs.items())
            + f" (original {metrics.colourfulness(work):.1f}).")
    if unet is None:
        st.info("The U-Net's weights are missing (no weight set in the weights folder holds them), so only Levin et "
                "al.'s method is drawn here.", icon=":material/info:")


def _lesson_unet():
    """(model, lock, source) of the hint-taking U-Net from the app's cached loader, or (None, None, None)."""
    source = weights_choice.with_model("unet", weights_choice.selected())
    loaded = loader.load_or_explain("unet", source) if source is not None else None
    return (loaded[0], loaded[1], source) if loaded is not None else (None, None, None)


if __name__ == "__main__":  # Streamlit ran this file itself: see pages.serve_directly
    serve_directly()
