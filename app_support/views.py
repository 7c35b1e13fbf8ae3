"""Small numpy helpers that turn library results into pictures for display.

Images are float RGB in [0, 1] (H, W, 3) as in colourise_core; outputs for st.image are uint8.
"""

from __future__ import annotations

import cv2
import numpy as np

from colourise_core import colour, imageio

DISPLAY_SIDE = 640  # longest side shown on screen; results are computed at full size


def fit_side(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(h, w) scaled down so the longer side is at most `max_side` (never enlarged)."""
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def for_display(rgb: np.ndarray, max_side: int = DISPLAY_SIDE) -> np.ndarray:
    """uint8 (h, w, 3) copy of `rgb` (float in [0, 1], or uint8) downscaled for the screen."""
    rgb = np.asarray(rgb)
    if rgb.ndim == 3 and rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    size = fit_side(rgb.shape[0], rgb.shape[1], max_side)
    if rgb.dtype == np.uint8:  # stored results: shrink as uint8, no full-size float copy
        return rgb.copy() if size == rgb.shape[:2] else cv2.resize(rgb, size[::-1], interpolation=cv2.INTER_AREA)
    if size != rgb.shape[:2]:
        rgb = imageio.resize_float(rgb, size)
    return colour.to_uint8(rgb)


def grey_of(rgb: np.ndarray) -> np.ndarray:
    """The greyscale (luma) image as RGB (H, W, 3)."""
    return np.repeat(colour.rgb_to_y(rgb), 3, axis=-1)


def wipe(before: np.ndarray, after: np.ndarray, position: float) -> np.ndarray:
    """`after` left of the divider, `before` right of it; the divider at `position` in [0, 1]
    (0: all before, 1: all after), drawn as a white line; uint8."""
    a, b = for_display(before), for_display(after)
    out = a.copy()
    x = int(round(position * out.shape[1]))
    out[:, :x] = b[:, :x]
    if 0 < x < out.shape[1]:
        out[:, max(0, x - 1): x + 1] = 255
    return out


def blend(before: np.ndarray, after: np.ndarray, amount: float) -> np.ndarray:
    """Cross-fade: (1 - amount) * before + amount * after; uint8."""
    a, b = for_display(before).astype(np.float32), for_display(after).astype(np.float32)
    return np.clip(np.rint((1 - amount) * a + amount * b), 0, 255).astype(np.uint8)


def labelled_grid(items: list[tuple[str, np.ndarray]], height: int = 384, columns: int | None = None) -> np.ndarray:
    """Images side by side (wrapping after `columns`), each with a caption strip; uint8.

    Args:
        items: (caption, float or uint8 RGB (H, W, 3)).
        height: height of every tile's image in pixels.
    """
    columns = columns or len(items)
    tiles = []
    for caption, img in items:
        img = np.asarray(img)
        img = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img
        h, w = img.shape[:2]
        tile = colour.to_uint8(imageio.resize_float(img, (height, max(1, round(w * height / h)))))
        strip = np.full((28, tile.shape[1], 3), 255, np.uint8)
        cv2.putText(strip, caption[:48], (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (20, 20, 20), 1, cv2.LINE_AA)
        tiles.append(np.concatenate([strip, tile], axis=0))
    rows = [tiles[i: i + columns] for i in range(0, len(tiles), columns)]
    width = max(sum(t.shape[1] for t in row) + 4 * (len(row) - 1) for row in rows)
    out_rows = []
    for row in rows:
        gap = np.full((row[0].shape[0], 4, 3), 255, np.uint8)
        parts = [p for t in row for p in (t, gap)][:-1]
        line = np.concatenate(parts, axis=1)
        pad = np.full((line.shape[0], width - line.shape[1], 3), 255, np.uint8)
        out_rows.append(np.concatenate([line, pad], axis=1))
    gap = np.full((4, width, 3), 255, np.uint8)
    return np.concatenate([p for r in out_rows for p in (r, gap)][:-1], axis=0)


def tile_maps(maps: np.ndarray, max_maps: int = 16, columns: int = 4, tile: int = 128) -> np.ndarray:
    """Feature maps (h, w, C) as a grid of viridis tiles, each map scaled to its own range; uint8."""
    maps = np.asarray(maps, np.float32)[..., :max_maps]
    tiles = []
    for k in range(maps.shape[-1]):
        m = maps[..., k]
        lo, hi = float(m.min()), float(m.max())
        norm = np.zeros_like(m) if hi - lo < 1e-12 else (m - lo) / (hi - lo)
        img = cv2.applyColorMap(np.rint(norm * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)[..., ::-1]
        tiles.append(cv2.resize(img, (tile, tile), interpolation=cv2.INTER_NEAREST))
    while len(tiles) % columns:
        tiles.append(np.full((tile, tile, 3), 255, np.uint8))
    pad = lambda t: np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255)  # noqa: E731
    rows = [np.concatenate([pad(t) for t in tiles[i: i + columns]], axis=1) for i in range(0, len(tiles), columns)]
    return np.concatenate(rows, axis=0)


def enlarge(rgb: np.ndarray, min_side: int = 256) -> np.ndarray:
    """uint8 copy enlarged by an integer factor (nearest neighbour) to at least `min_side`."""
    img = colour.to_uint8(rgb) if np.asarray(rgb).dtype != np.uint8 else np.asarray(rgb)
    factor = max(1, -(-min_side // max(img.shape[:2])))
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def selected_point(event) -> tuple[float, float] | None:
    """(x, y) of the first point selected on a `st.plotly_chart(on_select="rerun")`, or None."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    return (float(points[0]["x"]), float(points[0]["y"])) if points else None
