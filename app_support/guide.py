"""Helpers of the "Guide the colours" page: hint editing, colour projection, markers, downloads.

Plain numpy/OpenCV on the library's conventions (float RGB in [0, 1], hints in image pixels), so
they are tested without a browser. A hint here is a dict {"x", "y", "rgb"} in the photo's pixel
coordinates; a list of them plus the radius becomes a `colourise_core.hints.Hints`.
"""

from __future__ import annotations

import cv2
import numpy as np

from colourise_core import classic, hints as hints_mod, imageio
from colourise_core.colour import luma_chroma_to_rgb, rgb_to_y, to_uint8

MAX_HISTORY = 50  # undo steps kept per session
# A new hint's colour until the user chooses one (projected onto its pixel's luma): the next of these,
# so that hints placed in a row differ and their effect shows at once.
PALETTE = ((200, 40, 40), (40, 90, 220), (40, 170, 60), (230, 200, 40), (150, 60, 190), (240, 130, 30))


def default_colour(n_points: int) -> tuple[int, int, int]:
    """The palette colour of the hint placed after `n_points` others."""
    return PALETTE[n_points % len(PALETTE)]


def click_to_pixel(click: dict | None, width: int, height: int) -> tuple[int, int] | None:
    """The photo pixel of a `streamlit_image_coordinates` click on a copy shown at click's size.

    Args:
        click: {"x", "y", "width", "height", ...} in displayed pixels, or None (no click yet).
        width, height: the photo's size.
    Returns:
        (x, y) in the photo, clipped inside it, or None.
    """
    if not click or click.get("x") is None or not click.get("width") or not click.get("height"):
        return None
    x = int(float(click["x"]) * width / float(click["width"]))
    y = int(float(click["y"]) * height / float(click["height"]))
    return min(max(x, 0), width - 1), min(max(y, 0), height - 1)


def project_to_luma(rgb8, y: float) -> tuple[int, int, int]:
    """The colour with rgb8's chroma (U, V) at luma y, scaled towards grey if it leaves the RGB cube.

    A hint gives only chroma; the photo's own luma stays, so this is the colour a hint can give there.
    """
    uv = hints_mod.hint_uv(tuple(int(c) for c in rgb8))
    out = luma_chroma_to_rgb(np.array([[y]], np.float64), uv[None])[0]  # (3,)
    return tuple(int(c) for c in to_uint8(out))


def hex_to_rgb(text: str) -> tuple[int, int, int]:
    text = text.lstrip("#")
    return tuple(int(text[i:i + 2], 16) for i in (0, 2, 4))


def rgb_to_hex(rgb8) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgb8)


def luma_at(y_full: np.ndarray, x: int, y: int) -> float:
    return float(y_full[y, x, 0])


def to_hints(points: list[dict], width: int, height: int, radius: int) -> hints_mod.Hints:
    """Validated `Hints` of the page's points (raises HintsError like a file would)."""
    return hints_mod.parse_hints({"points": points, "radius": radius}, width, height)


def from_hints(h: hints_mod.Hints) -> tuple[list[dict], int]:
    """The page's points and radius of parsed hints (per-point radii become the file's radius)."""
    return [{"x": x, "y": y, "rgb": list(rgb)} for x, y, rgb, _ in h.points], h.radius


def push_history(history: list, points: list[dict]) -> None:
    """Remember `points` (a copy) so `undo` can return to it."""
    history.append([dict(p) for p in points])
    del history[:-MAX_HISTORY]


def draw_markers(display_rgb: np.ndarray, points: list[dict], scale: float, selected: int | None) -> np.ndarray:
    """The display copy with each hint drawn as a filled disc of its colour, ringed black/white,
    numbered; the selected hint has a larger ring.

    Args:
        display_rgb: (h, w, 3) float RGB (the photo shown, `scale` times the photo's size).
        points: the hints in photo pixels.
        scale: display pixels per photo pixel.
        selected: index of the selected hint or None.
    Returns:
        uint8 (h, w, 3).
    """
    out = np.ascontiguousarray(to_uint8(display_rgb))
    for i, p in enumerate(points):
        c = (int(p["x"] * scale + scale / 2), int(p["y"] * scale + scale / 2))
        r = 9 if i == selected else 6
        cv2.circle(out, c, r + 2, (0, 0, 0), -1, cv2.LINE_AA)
        cv2.circle(out, c, r + 1, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(out, c, r - 1, tuple(int(v) for v in p["rgb"]), -1, cv2.LINE_AA)
        cv2.putText(out, str(i + 1), (c[0] + r + 3, c[1] - r), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(out, str(i + 1), (c[0] + r + 3, c[1] - r), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def levin_result(y_full: np.ndarray, points: list[dict], radius: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """Levin et al.'s colouring of the photo's luma with these hints, at `size` (h, w) or full size.

    The system is solved from the full-size luma and hints at the same working size whatever
    `size` is, so a display copy shows the same colouring as the full-size download (with its
    own luma). With no hints there is nothing to spread: the grey photo.
    """
    H, W = y_full.shape[:2]
    y = y_full if size is None or tuple(size) == (H, W) else imageio.resize_float(y_full, size)
    if not points:
        return np.repeat(y, 3, axis=-1)
    uv = classic.levin_uv(y_full, to_hints(points, W, H, radius), out_size=y.shape[:2])
    return luma_chroma_to_rgb(y, uv, compute_dtype=np.float32)


def png_of(rgb: np.ndarray, alpha: np.ndarray | None = None) -> bytes:
    return imageio.encode_png(rgb, alpha)


def grey_luma(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 1) luma of a photo (colour or grey)."""
    return rgb_to_y(rgb) if rgb.shape[-1] == 3 else rgb


def _unet_inputs(model, y_full: np.ndarray, points: list[dict], radius: int):
    """x (1, h, w, 4) the unet's graph takes for the photo's luma and hints (Y centred as in unet's predict_uv)."""
    from colourise_core import inference

    H, W = y_full.shape[:2]
    h, w = inference.model_input_size(model, H, W)  # a Keras or an ONNX model
    y_small = imageio.resize_float(y_full, (h, w)).reshape(1, h, w, 1)
    maps = inference.hint_maps(to_hints(points, W, H, radius), y_full, (h, w), inference.hint_side(model)) if points else None
    return y_small, maps


def unet_result(model, y_full: np.ndarray, points: list[dict], radius: int, size: tuple[int, int] | None = None,
                temperature: float | None = None) -> np.ndarray:
    """The hint-taking unet's colouring of the photo's luma with these hints, at `size` (h, w) or full size.

    The model sees the photo at its input size (the hints rasterised there, as `inference.colourise`
    does); its UV is resized to `size` and joined with the luma at that size, so the luma is kept.
    """
    from colourise_core import inference

    H, W = y_full.shape[:2]
    y = y_full if size is None or tuple(size) == (H, W) else imageio.resize_float(y_full, size)
    y_small, maps = _unet_inputs(model, y_full, points, radius)
    uv = inference.model_predict_uv(model, y_small, 1, temperature, 0, maps)[0, 0]  # (h, w, 2)
    return luma_chroma_to_rgb(y, imageio.resize_float(uv, y.shape[:2]), compute_dtype=np.float32)


def unet_likely(model, y_full: np.ndarray, points: list[dict], radius: int, x: int, y: int,
                top: int = 6) -> list[tuple[float, tuple[int, int, int]]]:
    """The colours the unet finds most likely at photo pixel (x, y), given the other hints.

    Its predicted distribution over chroma bins at the output cell over (x, y) (the softmax of its
    logits, with the stored part of the rebalancing undone as in its decoding; ideepcolor's
    suggested colours), the `top` most probable bins, each centre put at the pixel's luma (colours
    that coincide there are merged, their probabilities added).

    Returns:
        [(probability, (r, g, b))], most probable first.
    """
    from colourise_core import models

    y_small, maps = _unet_inputs(model, y_full, points, radius)
    probs = models.family_of(model).chroma_probabilities(model, y_small, maps)[0]  # (h/4, w/4, Q)
    H, W = y_full.shape[:2]
    gh, gw = probs.shape[:2]
    p = probs[min(gh - 1, y * gh // H), min(gw - 1, x * gw // W)]
    order = np.argsort(-p)[:top]
    yl = np.full((len(order), 1), luma_at(y_full, x, y))
    rgbs = to_uint8(luma_chroma_to_rgb(yl, np.asarray(model.centres, np.float64)[order]))
    out: dict = {}
    for prob, rgb in zip(p[order], rgbs):
        key = tuple(int(c) for c in rgb)
        out[key] = out.get(key, 0.0) + float(prob)
    return sorted(((v, k) for k, v in out.items()), reverse=True)
