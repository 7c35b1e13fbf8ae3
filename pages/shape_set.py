"""Shape Set: feature-based colourisation (dissertation 3.3.1 and 5.2), with the first layer's feature maps."""

from __future__ import annotations

import streamlit as st

from app_support import loader, memo, shapes_draw, views, weights_choice
from app_support.shapes_draw import PlacedShape
from app_support.weights_choice import MODEL_LABELS
from colourise_core import colour, inference, probe
from colourise_core.data.shapes import ShapeSetConfig, generate_shapes, hue_accuracy
from colourise_core.family_names import FAMILY_NAMES
from pages import serve_directly

MODELS = FAMILY_NAMES  # one column each
EXAMPLE = [PlacedShape("circle", 0.28, 0.3, 0.34, 0.26, 0.9), PlacedShape("square", 0.72, 0.32, 0.3, 0.4, 0.8),
           PlacedShape("triangle", 0.5, 0.74, 0.42, 0.36, 0.9)]

try:
    from streamlit_drawable_canvas import st_canvas
except Exception:  # noqa: BLE001 - optional component: not installed, or incompatible
    st_canvas = None


def page() -> None:
    """The Shape Set page."""
    st.title("Shape Set")
    st.caption("Blue circles, red squares and green triangles on black (dissertation 3.3.1). A model that colours "
               "them right has learnt to recognise the *shape*: the grey image holds nothing else. Chapter 5.2 uses "
               "it to show how a CNN assigns colours to features.")

    sources = weights_choice.find(lambda s: s.dataset == "shapes")
    if not sources:
        st.info("No Shape Set weights yet: the weight set \"shapes\" is not in weights/manifest.json. Train a model on "
                "the Shape Set on the Retrain page and it appears here.", icon=":material/info:")
        return
    keys = [s.key for s in sources]
    default = "set:shapes" if "set:shapes" in keys else keys[0]
    if st.session_state.get("shape_weights") not in keys:
        st.session_state["shape_weights"] = default
    chosen = st.selectbox("Shape Set weights", keys, key="shape_weights",
                          format_func=lambda k: next(s.label for s in sources if s.key == k))
    source = next(s for s in sources if s.key == chosen)
    size = source.resolution or 64

    modes = ["Generate", "Place shapes"] + (["Draw"] if st_canvas is not None else [])
    mode = st.radio("Input", modes, key="shape_mode", horizontal=True,
                    help="Generate a Shape Set image, place shapes with a form, or draw them on a canvas.")
    truth, labels = None, None
    if mode == "Generate":
        a, b = st.columns(2)
        seed = a.number_input("Seed", 0, 10**6, 0, step=1, key="shape_seed")
        matched = b.toggle("Luma-matched", key="shape_luma_matched",
                           help="Every shade of every colour is drawn from one brightness range.")
        rgb, lab = generate_shapes(1, ShapeSetConfig(size=size, luma_matched=matched), seed=int(seed))
        truth, labels = rgb[0].astype("float32") / 255.0, lab[0]
    elif mode == "Place shapes":
        placed = st.session_state.setdefault("shape_placed", list(EXAMPLE))
        with st.form("shape_place_form", clear_on_submit=False, border=True):
            c1, c2, c3 = st.columns(3)
            kind = c1.selectbox("Shape", list(shapes_draw.KINDS), key="shape_kind")
            shade = c1.slider("Shade", 0.3, 1.0, 0.9, 0.05, key="shape_shade",
                              help="The fraction of the pure colour (blue, red or green).")
            cx = c2.slider("Centre x (%)", 0, 100, 50, key="shape_x")
            cy = c2.slider("Centre y (%)", 0, 100, 50, key="shape_y")
            sw = c3.slider("Width (%)", 5, 80, 30, key="shape_w")
            sh = c3.slider("Height (%)", 5, 80, 20, key="shape_h")
            if st.form_submit_button("Add shape", icon=":material/add:"):
                placed.append(PlacedShape(kind, cx / 100, cy / 100, sw / 100, sh / 100, shade))
        b1, b2, _ = st.columns([1, 1, 4])
        if b1.button("Undo last", key="shape_undo", disabled=not placed):
            placed.pop()
        if b2.button("Clear", key="shape_clear"):
            placed.clear()
        if not placed:
            st.info("Add a shape with the form above.", icon=":material/info:")
            return
        truth, labels = shapes_draw.render(placed, size)
    else:
        st.caption("Draw rectangles (squares, red), circles (blue) and polygons (triangles, green; double-click to "
                   "close) in any grey. The truth colours come from the shape, as in the Shape Set.")
        tool = st.radio("Tool", ["rect", "circle", "polygon"], key="shape_tool", horizontal=True)
        grey_fill = st.slider("Fill brightness", 40, 255, 200, key="shape_fill")
        drawing = st_canvas(fill_color=f"rgb({grey_fill},{grey_fill},{grey_fill})", stroke_width=0,
                            background_color="#000000", drawing_mode=tool, height=256, width=256, key="shape_canvas")
        placed = shapes_draw.from_canvas(drawing.json_data, 256)
        if not placed:
            st.info("Draw a shape on the canvas.", icon=":material/draw:")
            return
        truth, labels = shapes_draw.render(placed, size)

    if not (labels > 0).any():
        st.warning("The image holds no shape pixels; try another seed or place a shape inside the image.")
        return

    luma = colour.rgb_to_y(truth)
    cols = st.columns(2 + len(MODELS))
    cols[0].image(views.enlarge(views.grey_of(truth)), caption="Grey input", width="stretch")
    results = {}
    for col, model in zip(cols[1:-1], MODELS):
        with col:
            loaded = _column(model, source, truth, labels, MODEL_LABELS[model])
            if loaded is not None:
                results[model] = loaded
    cols[-1].image(views.enlarge(truth), caption="Truth", width="stretch")

    others = [(s, m) for s in sources if s.kind == "set" and s.key != chosen for m in s.models]
    if others:  # e.g. `shapes-pix2pix`: the CGAN with the field's later fixes, beside the dissertation's
        st.markdown("**More Shape Set weights**")
        pix2pix = any(o.value == "shapes-pix2pix" for o, _ in others)
        st.caption("Other weight sets trained on the Shape Set, on the same image" + (
            ": `shapes-pix2pix` is the CGAN as pix2pix later fixed it, its discriminator seeing the grey image "
            "beside the colours, with an L1 term (past the dissertation)." if pix2pix else "."))
        for col, (other, model) in zip(st.columns(max(len(others), 4)), others):
            with col:
                _column(model, other, truth, labels, f"{MODEL_LABELS[model]} ({other.value})")

    with st.expander("What does luma-matched mean?", icon=":material/lightbulb:", expanded=mode == "Generate"):
        st.markdown(
            "In the plain Shape Set, pure blue is dark (Y = 0.114), red is mid-grey (0.299) and green is bright "
            "(0.587): a model can guess the colour from the brightness alone, without looking at the shape. With "
            "**luma-matched** shapes every shade's luma is drawn from one common range (0.35-0.6) for all three "
            "colours, so two shapes of the same grey may be blue or green: **the colour can only come from the "
            "shape**. A model that still colours luma-matched shapes right has learnt shape features, which is "
            "the mechanism chapter 5.2 describes.")

    st.subheader("First-layer feature maps")
    st.caption("What the first convolution sees (dissertation 5.2): each filter responds to edges, corners or flat "
               "areas of the grey input; later layers combine these into shapes, and shapes into colours.")
    if results:
        which = st.radio("Model", list(results), key="shape_fmap_model", horizontal=True, format_func=MODEL_LABELS.get)
        net, lock = results[which]

        def first_layer():
            with lock:
                return probe.feature_maps(net, luma)

        maps, layer = memo.get("shape_fmaps", (source.key, source.version, which, luma.tobytes()), first_layer, keep=3)
        st.image(views.tile_maps(maps), caption=f"{MODEL_LABELS[which]}: layer {layer}, {maps.shape[-1]} maps of "
                 f"{maps.shape[1]} x {maps.shape[0]} (first {min(16, maps.shape[-1])} shown), each scaled to its own range",
                 width="content")
    else:
        st.info("No model could be loaded for the feature maps.")


def _column(model: str, source, truth, labels, label: str):
    """One model's colouring of `truth` with its hue accuracy; (net, lock), or None after saying why not."""
    loaded = loader.load_or_explain(model, source)
    if loaded is None:
        return None
    net, lock = loaded
    with lock:
        pred = inference.colourise_image(truth, net).rgb
    accuracy = hue_accuracy(colour.rgb_to_yuv(pred)[..., 1:], labels)
    st.image(views.enlarge(pred), caption=f"{label} · hue accuracy {accuracy:.0%}", width="stretch")
    st.metric(f"{label} hue accuracy", f"{accuracy:.1%}",
              help="Share of shape pixels whose predicted hue is the nearest of blue/red/green to their "
                   "shape's own (greyer than 0.02 counts as wrong).")
    return loaded


if __name__ == "__main__":  # Streamlit ran this file itself: see pages.serve_directly
    serve_directly()
