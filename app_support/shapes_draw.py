"""Shape Set images placed by hand (a form) or drawn on a canvas, with their truth and labels.

Colours follow the Shape Set (colourise_core.data.shapes): circles blue, squares red, triangles
green, on black; a shade `a` scales the pure colour (a * base), so the hue stays the shape's.
Labels: 0 background, 1 circle, 2 square, 3 triangle (SHAPE_NAMES).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from colourise_core import colour
from colourise_core.data.shapes import BASE_RGB

KINDS = {"circle": 1, "square": 2, "triangle": 3}
_ORIGIN = {"left": 0.0, "top": 0.0, "center": 0.5, "right": 1.0, "bottom": 1.0}


@dataclasses.dataclass(frozen=True)
class PlacedShape:
    """A shape in fractions of the image: centre (cx, cy), size (w, h), shade in (0, 1]."""

    kind: str
    cx: float
    cy: float
    w: float
    h: float
    shade: float = 1.0


def render(shapes: list[PlacedShape], size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Draw shapes in order (later ones on top).

    Returns:
        rgb float32 (size, size, 3) in [0, 1], labels uint8 (size, size).
    """
    rgb = np.zeros((size, size, 3), np.float32)
    labels = np.zeros((size, size), np.uint8)
    for s in shapes:
        label = KINDS[s.kind]
        mask = np.zeros((size, size), np.uint8)
        cx, cy = s.cx * size, s.cy * size
        hw, hh = max(1.0, s.w * size / 2), max(1.0, s.h * size / 2)
        if s.kind == "circle":
            cv2.ellipse(mask, (int(round(cx)), int(round(cy))), (int(round(hw)), int(round(hh))), 0, 0, 360, 1, -1)
        elif s.kind == "square":
            cv2.rectangle(mask, (int(round(cx - hw)), int(round(cy - hh))), (int(round(cx + hw)) - 1, int(round(cy + hh)) - 1), 1, -1)
        else:
            pts = np.array([(cx - hw, cy + hh), (cx + hw, cy + hh), (cx, cy - hh)])
            cv2.fillPoly(mask, [np.rint(pts).astype(np.int32)], 1)
        on = mask.astype(bool)
        rgb[on] = float(np.clip(s.shade, 0.05, 1.0)) * BASE_RGB[label - 1]
        labels[on] = label
    return colour.to_uint8(rgb).astype(np.float32) / 255.0, labels


def from_canvas(json_data: dict | None, canvas_size: int) -> list[PlacedShape]:
    """Shapes from a streamlit-drawable-canvas drawing: rect -> square, circle -> circle,
    polygon (or triangle) -> triangle; the fill's lightness becomes the shade."""
    out = []
    for obj in (json_data or {}).get("objects", []):
        kind = {"rect": "square", "circle": "circle", "ellipse": "circle", "triangle": "triangle",
                "polygon": "triangle"}.get(str(obj.get("type", "")).lower())
        if kind is None:
            continue
        sx, sy = float(obj.get("scaleX", 1)), float(obj.get("scaleY", 1))
        if kind == "circle" and "radius" in obj:
            w = h = 2 * float(obj["radius"])
        else:
            w, h = float(obj.get("width", 0)), float(obj.get("height", 0))
        w, h = w * sx, h * sy
        if w < 2 or h < 2:
            continue
        # (left, top) is the object's origin point; its centre is offset from it by the origin's
        # place in the box, turned by the object's angle (the circle tool draws along the drag).
        ox = _ORIGIN.get(str(obj.get("originX", "left")), 0.0)
        oy = _ORIGIN.get(str(obj.get("originY", "top")), 0.0)
        dx, dy = (0.5 - ox) * w, (0.5 - oy) * h
        t = np.deg2rad(float(obj.get("angle", 0) or 0))
        cx = float(obj.get("left", 0)) + dx * np.cos(t) - dy * np.sin(t)
        cy = float(obj.get("top", 0)) + dx * np.sin(t) + dy * np.cos(t)
        out.append(PlacedShape(kind, float(cx / canvas_size), float(cy / canvas_size), w / canvas_size, h / canvas_size,
                               _lightness(obj.get("fill"))))
    return out


def _lightness(fill) -> float:
    """A CSS '#rrggbb' / 'rgb(a)(...)' fill's mean channel in (0, 1]; 1 when unknown."""
    try:
        text = str(fill).strip()
        if text.startswith("#") and len(text) >= 7:
            values = [int(text[i: i + 2], 16) for i in (1, 3, 5)]
        elif text.startswith("rgb"):
            values = [float(v) for v in text[text.index("(") + 1: text.index(")")].split(",")[:3]]
        else:
            return 1.0
        return max(0.2, sum(values) / (3 * 255))
    except (ValueError, IndexError):
        return 1.0
