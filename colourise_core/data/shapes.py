"""Shape Set (dissertation 3.3.1): blue circles, red squares, green triangles on black.

Every shape has its own width and height (ellipses, rectangles, arbitrary triangles), may sit
anywhere (mostly inside the image, possibly touching an edge) and comes in several shades:

    colour = a * base + b * white        a > 0, b >= 0, a + b <= 1

Adding grey does not turn the chroma (U, V are linear in RGB and zero for grey), so every shade
of a colour has exactly the hue angle of the pure colour. With `luma_matched=True` the luma of
every shade is drawn from one common range for all three colours, so brightness says nothing
about the colour; only the shape does.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..colour import rgb_to_yuv, to_uint8
from ..errors import DatasetError

SHAPE_NAMES = ("background", "circle", "square", "triangle")
# Pure colour of labels 1..3: circle blue, square red, triangle green.
BASE_RGB = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
_BASE_YUV = rgb_to_yuv(BASE_RGB).astype(np.float64)  # (3, 3)
BASE_LUMA = _BASE_YUV[:, 0]  # (3,) luma of pure blue, red, green
# UV-plane angle (radians, atan2(V, U)) of pure blue, red, green: label k has HUE_ANGLES[k - 1].
HUE_ANGLES = np.arctan2(_BASE_YUV[:, 2], _BASE_YUV[:, 1])


@dataclass(frozen=True)
class ShapeSetConfig:
    """How Shape Set images are drawn."""

    size: int = 64  # image height and width in pixels
    min_shapes: int = 1  # shapes per image, at least (placement permitting)
    max_shapes: int = 4  # shapes per image, at most
    min_extent: float = 0.15  # smallest shape width/height, as a fraction of `size`
    max_extent: float = 0.45  # largest shape width/height, as a fraction of `size`
    outside: float = 0.1  # a shape's box may leave the image by this fraction of its size
    luma_matched: bool = False  # draw every colour's shades from one luma range
    luma_range: tuple[float, float] = (0.35, 0.6)  # that common luma range (luma_matched only)
    min_colour: float = 0.4  # a >= this (unmatched): shades keep at least 40% of the pure colour
    max_tries: int = 50  # placement attempts per shape before it is left out


def _shade(rng: np.random.Generator, kind: int, config: ShapeSetConfig) -> np.ndarray:
    """One shade of the colour of shape `kind` (1..3): float RGB (3,) in [0, 1]."""
    base = BASE_RGB[kind - 1]
    if not config.luma_matched:
        a = rng.uniform(config.min_colour, 1.0)
        b = rng.uniform(0.0, min(0.3, 1.0 - a))
        return a * base + b
    lo, hi = config.luma_range
    margin = 1.0 / 255  # uint8 rounding moves Y by <= 0.5/255: stay inside the range after it
    y = rng.uniform(lo + margin, hi - margin)
    yb = BASE_LUMA[kind - 1]
    a_max = min(y / yb, (1.0 - y) / (1.0 - yb))  # b = y - a*yb >= 0 and a + b <= 1
    a = rng.uniform(0.6 * a_max, a_max)
    return a * base + (y - a * yb)


def _draw(kind: int, x0: float, y0: float, w: int, h: int, rng, size: int) -> np.ndarray:
    """Mask (size, size) uint8 of one shape whose bounding box is (x0, y0, w, h)."""
    mask = np.zeros((size, size), np.uint8)
    x0, y0 = int(round(x0)), int(round(y0))
    if kind == 1:  # ellipse: centre and half-axes in 1/2-pixel fixed point (shift=1)
        centre = (2 * x0 + w - 1, 2 * y0 + h - 1)
        cv2.ellipse(mask, centre, (w - 1, h - 1), 0, 0, 360, 1, -1, cv2.LINE_8, 1)
    elif kind == 2:
        cv2.rectangle(mask, (x0, y0), (x0 + w - 1, y0 + h - 1), 1, -1, cv2.LINE_8)
    else:  # triangle: a base along one side of the box, the apex anywhere on the opposite one
        x1, y1 = x0 + w - 1, y0 + h - 1
        t = rng.uniform()
        side = rng.integers(4)
        apex_x, apex_y = x0 + t * (w - 1), y0 + t * (h - 1)
        pts = {
            0: [(x0, y1), (x1, y1), (apex_x, y0)],  # apex up
            1: [(x0, y0), (x1, y0), (apex_x, y1)],  # apex down
            2: [(x1, y0), (x1, y1), (x0, apex_y)],  # apex left
            3: [(x0, y0), (x0, y1), (x1, apex_y)],  # apex right
        }[int(side)]
        cv2.fillPoly(mask, [np.rint(pts).astype(np.int32)], 1, cv2.LINE_8)
    return mask


def _one_image(rng: np.random.Generator, config: ShapeSetConfig):
    """Returns rgb float (S, S, 3) and labels uint8 (S, S)."""
    s = config.size
    rgb = np.zeros((s, s, 3), np.float64)
    labels = np.zeros((s, s), np.uint8)
    lo, hi = max(3, int(config.min_extent * s)), max(4, int(config.max_extent * s))
    for _ in range(int(rng.integers(config.min_shapes, config.max_shapes + 1))):
        kind = int(rng.integers(1, 4))
        colour = _shade(rng, kind, config)
        for _ in range(config.max_tries):
            w, h = (int(v) for v in rng.integers(lo, hi + 1, size=2))
            if w == h:  # no shape is as wide as it is high
                continue
            x0 = rng.uniform(-config.outside * w, s - (1 - config.outside) * w)
            y0 = rng.uniform(-config.outside * h, s - (1 - config.outside) * h)
            mask = _draw(kind, x0, y0, w, h, rng, s).astype(bool)
            # Keep a one-pixel gap to other shapes so every shape is its own region.
            taken = cv2.dilate((labels > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            if mask.sum() >= 8 and not (mask & taken).any():
                labels[mask] = kind
                rgb[mask] = colour
                break
    return rgb, labels


def generate_shapes(n: int, config: ShapeSetConfig = ShapeSetConfig(), seed: int = 0):
    """Draw `n` Shape Set images; image i depends only on (config, seed, i).

    Args:
        n: number of images.
        config: drawing parameters.
        seed: random seed.
    Returns:
        rgb uint8 (n, S, S, 3) and labels uint8 (n, S, S): 0 background, 1 circle, 2 square,
        3 triangle (see SHAPE_NAMES).
    """
    if config.min_shapes < 1 or config.max_shapes < config.min_shapes:
        raise DatasetError(
            f"ShapeSetConfig: need 1 <= min_shapes <= max_shapes, got {config.min_shapes}, "
            f"{config.max_shapes}"
        )
    s = config.size
    rgb = np.zeros((n, s, s, 3), np.uint8)
    labels = np.zeros((n, s, s), np.uint8)
    for i in range(n):
        img, lab = _one_image(np.random.default_rng([seed, i]), config)
        rgb[i], labels[i] = to_uint8(img), lab
    return rgb, labels


def classify_hue(uv: np.ndarray) -> np.ndarray:
    """Which pure hue each UV pixel is nearest to, by angle in the UV plane.

    Args:
        uv: float array (..., 2).
    Returns:
        uint8 array (...): 1 blue (circle), 2 red (square), 3 green (triangle).
    """
    uv = np.asarray(uv, dtype=np.float64)
    angle = np.arctan2(uv[..., 1], uv[..., 0])[..., None]  # (..., 1)
    diff = np.abs(np.angle(np.exp(1j * (angle - HUE_ANGLES))))  # (..., 3) circular distance
    return (np.argmin(diff, axis=-1) + 1).astype(np.uint8)


def hue_accuracy(pred_uv: np.ndarray, labels: np.ndarray, min_chroma: float = 0.02) -> float:
    """Fraction of shape pixels whose predicted hue is the hue of their shape.

    Args:
        pred_uv: float array (..., H, W, 2), predicted chroma.
        labels: uint8 array (..., H, W) from `generate_shapes`.
        min_chroma: pixels predicted greyer than this (|UV| below it) count as wrong: a grey
            prediction has chosen no hue.
    Returns:
        accuracy in [0, 1].
    """
    pred_uv = np.asarray(pred_uv)
    labels = np.asarray(labels)
    if pred_uv.shape[:-1] != labels.shape:
        raise DatasetError(
            f"hue_accuracy: UV shape {pred_uv.shape} does not match labels {labels.shape}"
        )
    shape = labels > 0
    if not shape.any():
        raise DatasetError("hue_accuracy: the labels contain no shape pixels")
    right = (classify_hue(pred_uv) == labels) & (np.linalg.norm(pred_uv, axis=-1) >= min_chroma)
    return float(right[shape].mean())
