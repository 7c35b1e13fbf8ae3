"""Guide the colours: click on a grey photo to place colour hints, or give a colour reference photo.

Hints spread by Levin et al.'s method (SIGGRAPH 2004); a reference's colours are transferred by
Welsh et al.'s (SIGGRAPH 2002). Both keep the photo's luma. Widget keys start with "guide_".
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from app_support import guide, ill_posed, inputs, loader, memo, sessions, views, weights_choice
from colourise_core import classic, colour, hints as hints_mod, imageio, metrics
from colourise_core.errors import HintsError
from pages import serve_directly

MODES = ("Hints", "A reference photo")
DEFAULT_SAMPLE = "Colour - parachute in a blue sky (Imagenette val 6561)"
DISPLAY_SIDE = 440  # the clickable photo and the results: two fit side by side at 1280 px without rescaling
CLICK_ACTIONS = ("adds a hint", "moves the selected hint")
COLOUR_WAYS = ("Colours at this brightness (U, V plane)", "What the U-Net finds likely here", "Colour picker")
WHY_LUMA = ("A hint gives only the colour's chroma (U, V): the grey photo already fixes every pixel's brightness "
            "(its luma Y), and the result keeps it exactly, so a colour brighter or darker than the pixel "
            "becomes the same hue and saturation at the pixel's own brightness.")


def _state() -> dict:
    """This session's hints state: points (photo pixels), undo history, selection, last click."""
    return st.session_state.setdefault("guide_state", {"digest": None, "points": [], "history": [], "selected": None,
                                                       "last_click": None, "seen_upload": None})


def _photo_changed(state: dict, digest: str) -> None:
    """A new photo clears the hints (they belong to the other photo's pixels), with a notice."""
    if state["digest"] not in (None, digest) and state["points"]:
        st.info(f"The photo changed, so its {len(state['points'])} hint(s) were cleared: hints belong to one "
                "photo's pixels.", icon=":material/ink_eraser:")
        state.update(points=[], history=[], selected=None)
    state["digest"] = digest


def _edit(state: dict, points: list[dict], selected: int | None) -> None:
    guide.push_history(state["history"], state["points"])
    state["points"], state["selected"] = points, selected


def _apply_click(state: dict, y_full: np.ndarray) -> None:
    """Turn a new click of the photo (the component's value) into a new or moved hint."""
    click = st.session_state.get("guide_click")
    if not click or click.get("unix_time") == state["last_click"]:
        return
    state["last_click"] = click.get("unix_time")
    pixel = guide.click_to_pixel(click, y_full.shape[1], y_full.shape[0])
    if pixel is None:
        return
    x, y = pixel
    points = [dict(p) for p in state["points"]]
    sel = state["selected"]
    if st.session_state.get("guide_click_action") == CLICK_ACTIONS[1] and sel is not None and sel < len(points):
        points[sel].update(x=x, y=y, rgb=list(guide.project_to_luma(points[sel]["rgb"], guide.luma_at(y_full, x, y))))
        _edit(state, points, sel)
        return
    if len(points) >= hints_mod.MAX_POINTS:
        st.warning(f"At most {hints_mod.MAX_POINTS} hints.")
        return
    base = guide.default_colour(len(points))
    points.append({"x": x, "y": y, "rgb": list(guide.project_to_luma(base, guide.luma_at(y_full, x, y)))})
    _edit(state, points, len(points) - 1)


def _upload_hints(state: dict, width: int, height: int) -> None:
    up = st.file_uploader("Continue from a hints file (JSON)", type=["json"], key="guide_hints_upload",
                          help='{"points": [{"x": 120, "y": 45, "rgb": [200, 30, 30]}], "radius": 3}')
    if up is None:
        return
    if state["seen_upload"] == (up.file_id, state["digest"]):
        return
    state["seen_upload"] = (up.file_id, state["digest"])
    try:
        parsed = hints_mod.parse_hints(up.getvalue(), width, height)
    except HintsError as e:
        st.error(f"{up.name}: {e}. The hints on the photo are unchanged.", icon=":material/error:")
        return
    points, radius = guide.from_hints(parsed)
    _edit(state, points, len(points) - 1 if points else None)
    st.session_state["guide_radius"] = min(radius, 30)
    st.success(f"Loaded {len(points)} hint(s) from {up.name}.", icon=":material/upload_file:")


def _colour_chooser(state: dict, y_full: np.ndarray) -> None:
    """Choose the selected hint's colour: on the U, V plane at its luma, or with a picker projected onto it."""
    sel = state["selected"]
    if sel is None or sel >= len(state["points"]):
        st.caption("Click on the photo to place a hint (each new one takes the next colour of a small palette); "
                   "then choose its colour here.")
        return
    p = state["points"][sel]
    yl = guide.luma_at(y_full, p["x"], p["y"])
    st.markdown(f"**Hint {sel + 1}** at ({p['x']}, {p['y']}), luma Y = {yl:.2f}: "
                f"RGB ({', '.join(str(c) for c in p['rgb'])})")
    way = st.radio("Choose its colour from", COLOUR_WAYS, key="guide_colour_way", horizontal=True)
    new = None
    if way == COLOUR_WAYS[0]:
        plane, _, u_axis, v_axis = ill_posed.uv_plane(yl, 109, 155)
        fig = go.Figure(go.Image(z=colour.to_uint8(plane), x0=float(u_axis[0]), dx=float(u_axis[1] - u_axis[0]),
                                 y0=float(v_axis[0]), dy=float(v_axis[1] - v_axis[0]), hoverinfo="skip"))
        gu, gv = np.meshgrid(np.linspace(-colour.U_MAX, colour.U_MAX, 29), np.linspace(-colour.V_MAX, colour.V_MAX, 41))
        fig.add_trace(go.Scatter(x=gu.ravel(), y=gv.ravel(), mode="markers", hovertemplate="U %{x:.3f}<br>V %{y:.3f}<extra></extra>",
                                 marker=dict(size=9, opacity=0.01, color="black")))
        fig.update_layout(height=360, showlegend=False, margin=dict(l=10, r=10, t=30, b=10),
                          title=f"The colours at Y = {yl:.2f} (hatched: none)", xaxis_title="U", yaxis_title="V")
        fig.update_yaxes(autorange=True, scaleanchor="x")  # V up (go.Image reverses the axis by default)
        # keyed by the hint's state: after a choice (or an undo) the chart starts without a selection
        event = st.plotly_chart(fig, key=f"guide_plane_{sel}_{p['x']}_{p['y']}_{guide.rgb_to_hex(p['rgb'])}",
                                on_select="rerun", selection_mode="points")
        chosen = views.selected_point(event)
        if chosen:
            u, v = chosen
            rgb = colour.luma_chroma_to_rgb(np.array([yl]), np.array([u, v]))
            new = [int(c) for c in colour.to_uint8(rgb)]
    elif way == COLOUR_WAYS[1]:
        new = _likely_colours(state, y_full, sel, p)
    else:
        current = guide.rgb_to_hex(p["rgb"])
        # keyed by the hint's colour: a choice (or an undo) starts a fresh picker showing the hint's colour
        picked = st.color_picker("Colour", value=current, key=f"guide_picker_{sel}_{current}").lower()
        last = st.session_state.get("guide_last_pick")
        if last and last[0] == (sel, current):
            st.caption(f"Picked {last[1]}; at this pixel's brightness it is {current}.")
        if picked != current:
            new = list(guide.project_to_luma(guide.hex_to_rgb(picked), yl))
            st.session_state["guide_last_pick"] = ((sel, guide.rgb_to_hex(new)), picked)
        st.caption(WHY_LUMA)
    if new is not None and new != list(p["rgb"]):
        points = [dict(q) for q in state["points"]]
        points[sel]["rgb"] = new
        _edit(state, points, sel)
        st.rerun()


def _likely_colours(state: dict, y_full: np.ndarray, sel: int, p: dict) -> list[int] | None:
    """The U-Net's most likely colours at the hint's pixel (given the other hints) as swatches at its
    luma, each with a button; the chosen colour, or None."""
    loaded = _unet()
    if loaded is None:
        return None
    net, lock = loaded
    others = [q for i, q in enumerate(state["points"]) if i != sel]
    radius = st.session_state.get("guide_radius", 0)

    def run():
        with sessions.work_slot("the U-Net"), lock:
            return guide.unet_likely(net, y_full, others, radius, p["x"], p["y"])

    key = (state["digest"], tuple((q["x"], q["y"], tuple(q["rgb"])) for q in others), radius, p["x"], p["y"], id(net))
    likely = memo.get("guide_likely", key, run, keep=4)
    st.session_state["guide_likely"] = likely
    st.caption("The U-Net's predicted distribution over colours at this pixel, given the other hints: its most "
               "probable chroma bins, shown at this pixel's brightness (as ideepcolor suggests colours).")
    chosen = None
    for i, (col, (prob, rgb)) in enumerate(zip(st.columns(len(likely)), likely)):
        col.image(np.full((40, 40, 3), rgb, np.uint8), caption=f"{prob:.0%}", width=40)
        if col.button("Use", key=f"guide_likely_{sel}_{i}_{guide.rgb_to_hex(rgb)}"):
            chosen = list(rgb)
    return chosen


def _display_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) with the longer side DISPLAY_SIDE: small photos are enlarged so that they can be clicked."""
    s = DISPLAY_SIDE / max(height, width)
    return max(1, round(height * s)), max(1, round(width * s))


def _unet() -> tuple | None:
    """(model, lock) of the hint-taking U-Net from the app's one cached loader, or None after saying why not."""
    source = weights_choice.with_model("unet", weights_choice.selected())
    if source is None:
        st.info("The U-Net's weights are missing (no weight set in the weights folder holds them), so only "
                "Levin et al.'s method colours the hints here.", icon=":material/info:")
        return None
    return loader.load_or_explain("unet", source)


def _unet_result(picked, y_full: np.ndarray, points: list[dict], radius: int, size: tuple[int, int]):
    """The U-Net's colouring with these hints at `size` (memoised per hints; None without weights).
    It is kept in session state as "guide_unet_result" (what the page shows)."""
    loaded = _unet()
    if loaded is None:
        st.session_state["guide_unet_result"] = None
        return None
    net, lock = loaded

    def run():
        with sessions.work_slot("the U-Net"), lock:  # server-wide limit; the cached model is shared
            return guide.unet_result(net, y_full, points, radius, size)

    key = (picked.digest, tuple((q["x"], q["y"], tuple(q["rgb"])) for q in points), radius, size, id(net))
    out = memo.get("guide_unet", key, run, keep=4)
    st.session_state["guide_unet_result"] = out
    return out


def _hints_mode(picked, y_full: np.ndarray) -> None:
    state = _state()
    H, W = y_full.shape[:2]
    _upload_hints(state, W, H)
    _apply_click(state, y_full)
    dh, dw = _display_size(H, W)
    y_disp = imageio.resize_float(y_full, (dh, dw))
    st.session_state.setdefault("guide_radius", 0)
    radius = st.slider("Hint radius (pixels of the photo)", 0, 30, key="guide_radius",
                       help="Each hint colours a disc of this radius; 0 is one pixel.")
    st.radio("A click on the photo", CLICK_ACTIONS, key="guide_click_action", horizontal=True)
    b1, b2, b3, _ = st.columns([1, 1, 1, 3])
    if b1.button("Undo", key="guide_undo", icon=":material/undo:", disabled=not state["history"]):
        state["points"] = state["history"].pop()
        state["selected"] = len(state["points"]) - 1 if state["points"] else None
    if b2.button("Delete selected", key="guide_delete", icon=":material/delete:", disabled=state["selected"] is None):
        points = [q for i, q in enumerate(state["points"]) if i != state["selected"]]
        _edit(state, points, len(points) - 1 if points else None)
    if b3.button("Clear all", key="guide_clear", icon=":material/ink_eraser:", disabled=not state["points"]):
        _edit(state, [], None)
    points = state["points"]
    if points:
        labels = [f"{i + 1}: ({q['x']}, {q['y']})" for i, q in enumerate(points)]
        state["selected"] = labels.index(st.selectbox("Selected hint", labels, index=state["selected"] or 0,
                                                      key=f"guide_select_{len(points)}_{state['selected']}"))

    left, right = st.columns(2)
    with left:
        marked = guide.draw_markers(np.repeat(y_disp, 3, -1), points, dw / W, state["selected"])
        streamlit_image_coordinates(marked, key="guide_click", cursor="crosshair", width="content")
        st.caption(f"The grey photo ({W} x {H}); {len(points)} hint(s). Click to "
                   f"{st.session_state.get('guide_click_action', CLICK_ACTIONS[0]).replace('s ', ' ', 1)}.")
    truth = picked.loaded.resized((dh, dw)).rgb if picked.is_colour else None
    with right:
        u_col, l_col = st.columns(2)
        with u_col:  # the U-Net first: its picture is sent before Levin's solve starts
            unet = _unet_result(picked, y_full, points, radius, (dh, dw))
            if unet is not None:
                caption = f"U-Net with the hints · {len(points)} hint(s)"
                if truth is not None:
                    caption += f" · PSNR {metrics.psnr(unet, truth):.2f} dB"
                st.image(colour.to_uint8(unet), caption=caption, width="stretch")
        with l_col:
            key = (picked.digest, tuple((q["x"], q["y"], tuple(q["rgb"])) for q in points), radius)
            result = memo.get("guide_levin", key, lambda: guide.levin_result(y_full, points, radius, (dh, dw)), keep=4,
                              slot="Levin's method")
            caption = f"Levin et al. 2004 · {len(points)} hint(s)"
            if truth is not None:
                caption += f" · PSNR {metrics.psnr(result, truth):.2f} dB against the original"
            st.image(colour.to_uint8(result), caption=caption, width="stretch")
    _colour_chooser(state, y_full)

    stem = picked.name.rsplit(".", 1)[0]
    d1, d2 = st.columns(2)
    d1.download_button("Download the result (PNG, full size)", key="guide_download_png", icon=":material/download:",
                       data=lambda: guide.png_of(guide.levin_result(y_full, points, radius), picked.loaded.alpha),
                       file_name=f"{stem}.levin.png", mime="image/png", disabled=not points, on_click="ignore")
    d2.download_button("Download the hints (JSON)", key="guide_download_json", icon=":material/data_object:",
                       data=hints_mod.to_json(guide.to_hints(points, W, H, radius)), file_name=f"{stem}.hints.json",
                       mime="application/json", disabled=not points, on_click="ignore")


def _reference_mode(picked, y_full: np.ndarray) -> None:
    up = st.file_uploader("A colour reference photo (its colours are transferred)", type=inputs.UPLOAD_TYPES,
                          key="guide_reference")
    if up is None:
        st.info("Upload a colour photo of a similar scene: Welsh et al.'s method gives each pixel the colour of the "
                "reference pixel with the most similar brightness and texture.", icon=":material/upload:")
        return
    ref = inputs.decode(up.getvalue(), up.name)  # an unreadable or too large file: st.error, None
    if ref is None:
        return
    if not ref.is_colour:
        st.error(f"The reference {up.name} is greyscale: there is no colour to transfer. Upload a colour photo.",
                 icon=":material/error:")
        return
    H, W = y_full.shape[:2]
    dh, dw = views.fit_side(H, W, DISPLAY_SIDE)
    y_disp = imageio.resize_float(y_full, (dh, dw))
    ref_small = imageio.resize_float(ref.rgb, views.fit_side(*ref.rgb.shape[:2], DISPLAY_SIDE))
    result = memo.get("guide_welsh", (picked.digest, ref.digest), lambda: classic.welsh_colourise(y_disp, ref_small), keep=2,
                      slot="Welsh's method")
    a, b, c, d = st.columns(4)
    a.image(colour.to_uint8(np.repeat(y_disp, 3, -1)), caption="The grey photo", width="stretch")
    b.image(views.for_display(ref.rgb, DISPLAY_SIDE), caption=f"Reference: {up.name}", width="stretch")
    caption = "Welsh et al. 2002"
    if picked.is_colour:
        caption += f" · PSNR {metrics.psnr(result, picked.loaded.resized((dh, dw)).rgb):.2f} dB against the original"
    c.image(colour.to_uint8(result), caption=caption, width="stretch")
    with d:  # the learned model beside it, automatic (no hints, no reference)
        unet = _unet_result(picked, y_full, [], 0, (dh, dw))
        if unet is not None:
            caption = "U-Net, automatic (no hints)"
            if picked.is_colour:
                caption += f" · PSNR {metrics.psnr(unet, picked.loaded.resized((dh, dw)).rgb):.2f} dB"
            st.image(colour.to_uint8(unet), caption=caption, width="stretch")
    stem = picked.name.rsplit(".", 1)[0]
    st.download_button("Download the result (PNG, full size)", key="guide_download_welsh", icon=":material/download:",
                       data=lambda: guide.png_of(classic.welsh_colourise(y_full, ref_small), picked.loaded.alpha),
                       file_name=f"{stem}.welsh.png", mime="image/png", on_click="ignore")


def page() -> None:
    """Guide the colours with hints (Levin et al. 2004) or a reference photo (Welsh et al. 2002)."""
    st.title("Guide the colours")
    st.caption("Colourisation is ill-posed because two of every pixel's three numbers are missing. Tell it a few "
               "colours (\"the coat was red\") and the rest follows: each hint's colour spreads to the neighbouring "
               "pixels of similar brightness. Or give a colour photo of a similar scene to take the colours from.")
    mode = st.radio("Guide with", MODES, key="guide_mode", horizontal=True)
    picked = inputs.pick("guide", default_sample=DEFAULT_SAMPLE, camera=False)
    if picked is None:
        return
    _photo_changed(_state(), picked.digest)
    # (H, W, 1), band by band from the uint8 photo, once per photo
    y_full = memo.get("guide_luma", (picked.digest,), lambda: picked.loaded.luma(reference=True), keep=1)
    if mode == MODES[0]:
        _hints_mode(picked, y_full)
    else:
        _reference_mode(picked, y_full)


if __name__ == "__main__":
    serve_directly()
