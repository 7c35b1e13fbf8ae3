"""User colour hints: parse and validate a hints file, rasterise it to a chroma map and a mask.

A hint says "this pixel is this colour" (ideepcolor, Zhang et al. SIGGRAPH 2017; Levin et al.
SIGGRAPH 2004 call them scribbles). Only the hint's chroma is used: the output keeps the
photo's own luma, so the brightness of `rgb` is ignored.

JSON format (image pixel coordinates after EXIF orientation, x to the right, y down):

    {"points": [{"x": 120, "y": 45, "rgb": [200, 30, 30]}, ...], "radius": 3}

`radius` (optional, pixels, default 0 = one pixel) is the disc each point covers; a point may
carry its own "radius" that overrides it. Later points paint over earlier ones where discs overlap.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

from colourise_core.colour import rgb_to_yuv
from colourise_core.errors import HintsError

MAX_POINTS = 1000  # more than any person places by hand; bounds the work of every method
MAX_FILE_BYTES = 1 << 20  # 1 MiB: 1,000 points need ~60 kB
MAX_RADIUS = 4096  # pixels; a disc larger than any photo side we accept is surely a mistake
DEFAULT_RADIUS = 0  # one pixel

HintsSource = Union["Hints", dict, str, bytes, os.PathLike]


@dataclass(frozen=True)
class Hints:
    """Validated hints for one image.

    Attributes:
        points: tuple of (x, y, (r, g, b), radius) with ints; x < width, y < height.
        width, height: the image size the points were validated against.
        radius: the file's default radius (kept for `to_json`).
    """

    points: tuple
    width: int
    height: int
    radius: int = DEFAULT_RADIUS

    def __len__(self) -> int:
        return len(self.points)


def _is_int(value: Any) -> bool:
    """True for JSON integers (not booleans, not 3.0)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _whole(value: Any) -> int | None:
    """The int a JSON number stands for when it is whole (3 or 3.0, as some tools write it); None
    for anything else (3.5, "3", true, NaN)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def _shown(value: Any) -> str:
    """A value as the JSON file spells it (true, not Python's True), for messages."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _check_radius(value: Any, where: str) -> int:
    r = _whole(value)
    if r is None:
        raise HintsError(f"{where}: radius must be a whole number of pixels, got {_shown(value)}")
    if r < 0 or r > MAX_RADIUS:
        raise HintsError(f"{where}: radius {r} is outside 0..{MAX_RADIUS} pixels")
    return r


def _load(src: Any) -> tuple[Any, str]:
    """Turn a path, JSON text, bytes or a dict into a Python object and a label for messages."""
    if isinstance(src, dict):
        return src, "the hints"
    label = "the hints"
    if isinstance(src, (bytes, bytearray)):
        if len(src) > MAX_FILE_BYTES:
            raise HintsError(f"{label} are {len(src):,} bytes; at most {MAX_FILE_BYTES:,} are accepted")
        try:
            text = bytes(src).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise HintsError(f"{label} are not JSON: not UTF-8 text") from None
    elif isinstance(src, str) and (not src.strip() or src.lstrip()[0] in "{[" or not os.path.isfile(src) and "\n" in src):
        text = src
    elif isinstance(src, (str, os.PathLike)):
        path = Path(src)
        label = f"hints file {path.name}"
        if not path.is_file():
            raise HintsError(f"{label} not found ({path})")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise HintsError(f"{label} is {size:,} bytes; at most {MAX_FILE_BYTES:,} are accepted")
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise HintsError(f"{label} is not JSON: not UTF-8 text") from None
    else:
        raise HintsError(f"hints must be a dict, JSON text or a path, got {type(src).__name__}")
    if not text.strip():
        raise HintsError(f"{label} {'is' if label.startswith('hints file') else 'are'} empty, not JSON")
    try:
        return json.loads(text), label
    except json.JSONDecodeError as e:
        raise HintsError(f"{label} {'is' if label.startswith('hints file') else 'are'} not JSON: "
                         f"{e.msg} at line {e.lineno} column {e.colno}") from None


def read_hints(src: HintsSource) -> dict | Hints:
    """Read a hints file or text once (to check it against several images): JSON object, not validated.

    Raises:
        HintsError: missing, too large, not JSON, or not a JSON object.
    """
    if isinstance(src, Hints):
        return src
    obj, label = _load(src)
    if not isinstance(obj, dict):
        raise HintsError(f"{label}: expected a JSON object {{\"points\": [...]}}, got a {type(obj).__name__}")
    return obj


def parse_hints(src: HintsSource, width: int, height: int, name: str | None = None) -> Hints:
    """Parse and validate hints against an image of `width` x `height` pixels.

    Args:
        src: a `Hints` (re-validated for this size), a dict, JSON text, bytes, or a path.
        width, height: the image size after EXIF orientation.
        name: what messages call the hints (default: "hints file NAME" for a path, else "the hints").
    Returns:
        Hints with every point inside the image.
    Raises:
        HintsError: not JSON, wrong structure, non-integer or negative coordinates, points
            outside the image, rgb not three integers in 0..255, more than MAX_POINTS points,
            or a bad radius; the message names the point and the problem.
    """
    if isinstance(src, Hints):
        src = json.loads(to_json(src))
    obj, label = _load(src)
    label = name or label
    if not isinstance(obj, dict):
        raise HintsError(f"{label}: expected a JSON object {{\"points\": [...]}}, got a {type(obj).__name__}")
    if "points" not in obj:
        raise HintsError(f"{label}: no \"points\" list")
    raw = obj["points"]
    if not isinstance(raw, list):
        raise HintsError(f"{label}: \"points\" must be a list, got a {type(raw).__name__}")
    if len(raw) > MAX_POINTS:
        raise HintsError(f"{label}: {len(raw):,} points; at most {MAX_POINTS:,} are accepted")
    radius = _check_radius(obj["radius"], label) if "radius" in obj and obj["radius"] is not None else DEFAULT_RADIUS
    points = []
    for i, p in enumerate(raw):
        where = f"{label}: point {i + 1}"
        if not isinstance(p, dict):
            raise HintsError(f"{where} must be an object with x, y and rgb, got {_shown(p)}")
        for key in ("x", "y", "rgb"):
            if key not in p:
                raise HintsError(f"{where} has no \"{key}\"")
        x, y, rgb = _whole(p["x"]), _whole(p["y"]), p["rgb"]
        for name, v in (("x", x), ("y", y)):
            if v is None:
                raise HintsError(f"{where}: {name} must be a whole number of pixels, got {_shown(p[name])}")
            if v < 0:
                raise HintsError(f"{where}: {name} = {v} is negative")
        if x >= width or y >= height:
            raise HintsError(f"{where} (x={x}, y={y}) is outside the {width}x{height} image "
                             f"(x must be below {width}, y below {height})")
        if not isinstance(rgb, (list, tuple)) or len(rgb) != 3:
            raise HintsError(f"{where}: rgb must be three numbers [r, g, b], got {_shown(rgb)}")
        channels = [_whole(c) for c in rgb]
        for c, given in zip(channels, rgb):
            if c is None:
                raise HintsError(f"{where}: rgb values must be whole numbers 0-255, got {_shown(rgb)}")
            if not 0 <= c <= 255:
                raise HintsError(f"{where}: rgb {_shown(rgb)} has {_shown(given)}, outside 0-255")
        r = _check_radius(p["radius"], where) if p.get("radius") is not None else radius
        points.append((x, y, tuple(channels), r))
    return Hints(points=tuple(points), width=int(width), height=int(height), radius=radius)


def to_json(hints: Hints) -> str:
    """The hints as JSON text that `parse_hints` reads back to equal hints."""
    out_points = []
    for x, y, rgb, r in hints.points:
        item = {"x": x, "y": y, "rgb": list(rgb)}
        if r != hints.radius:
            item["radius"] = r
        out_points.append(item)
    return json.dumps({"points": out_points, "radius": hints.radius}, indent=1)


def hint_uv(rgb: tuple[int, int, int]) -> np.ndarray:
    """BT.601 chroma (U, V) of an 8-bit colour: float32 (2,)."""
    return rgb_to_yuv(np.asarray(rgb, np.float64) / 255.0)[1:]


def rasterise(hints: Hints, luma_full: np.ndarray, size: tuple[int, int] | None = None, min_side: int = 1
              ) -> tuple[np.ndarray, np.ndarray]:
    """Paint the hints into a chroma map and a mask at a working size.

    A point at full-size pixel (x, y) lands on working pixel floor((x + 0.5) * w / W) (and the
    same for y); its disc has radius `radius * (w/W + h/H) / 2` working pixels, around the
    point's centre, and always covers that pixel and the `min_side` x `min_side` square of
    working pixels centred on it (rows and columns from p - (min_side - 1) // 2; clipped at the
    borders). A network trained on hint squares (the unet: 1..5 pixels, SIGGRAPH17 3.3) barely
    heeds a single pixel, so its family asks for a square as large as its training's largest.

    Args:
        hints: validated hints.
        luma_full: (H, W, 1) or (H, W) luma of the full-size image (only its size is used: the
            hint's luma is ignored, the output keeps the photo's).
        size: (h, w) working size; default the full size.
        min_side: the smallest square (working pixels) a point covers; 1: its own pixel.
    Returns:
        uv: float32 (h, w, 2) BT.601 chroma, 0 where there is no hint.
        mask: float32 (h, w, 1), 1 where a hint is.
    """
    H, W = luma_full.shape[:2]
    h, w = size if size is not None else (H, W)
    if not _is_int(min_side) or min_side < 1:
        raise ValueError(f"min_side must be a whole number of pixels >= 1, got {min_side!r}")
    half = (int(min_side) - 1) // 2  # the square's rows/columns before the point's
    uv = np.zeros((h, w, 2), np.float32)
    mask = np.zeros((h, w, 1), np.float32)
    sx, sy = w / W, h / H
    for x, y, rgb, radius in hints.points:
        cx, cy = (x + 0.5) * sx, (y + 0.5) * sy  # point centre in working pixel units
        px, py = min(int(math.floor(cx)), w - 1), min(int(math.floor(cy)), h - 1)
        r = radius * (sx + sy) / 2.0
        x0, x1 = max(0, int(math.floor(cx - r - 1))), min(w, int(math.ceil(cx + r + 1)))
        y0, y1 = max(0, int(math.floor(cy - r - 1))), min(h, int(math.ceil(cy + r + 1)))
        yy, xx = np.mgrid[y0:y1, x0:x1]
        disc = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= r * r  # pixel centres inside
        disc[py - y0, px - x0] = True
        value = hint_uv(rgb)
        uv[y0:y1, x0:x1][disc] = value
        mask[y0:y1, x0:x1][disc] = 1.0
        if min_side > 1:
            r0, c0 = max(0, py - half), max(0, px - half)
            r1, c1 = min(h, py - half + min_side), min(w, px - half + min_side)
            uv[r0:r1, c0:c1] = value
            mask[r0:r1, c0:c1] = 1.0
    return uv, mask


def random_true_hints(rgb: np.ndarray, n: int, seed: int = 0, radius: int = 0) -> Hints:
    """N hints at random distinct pixels carrying the true colour there (the evaluation of
    ideepcolor, SIGGRAPH 2017 section 4): the lesson's fifth part and the report's hints curve.

    Args:
        rgb: (H, W, 3) float RGB in [0, 1] or uint8.
        n: number of hints (at most MAX_POINTS and H * W).
        seed: numpy seed of the positions.
        radius: each hint's radius in pixels.
    """
    H, W = rgb.shape[:2]
    img = np.asarray(rgb)
    u8 = img if img.dtype == np.uint8 else np.clip(np.rint(img.astype(np.float64) * 255), 0, 255).astype(np.uint8)
    n = min(int(n), MAX_POINTS, H * W)
    idx = np.random.default_rng(seed).choice(H * W, size=n, replace=False)
    points = tuple((int(i % W), int(i // W), tuple(int(c) for c in u8[i // W, i % W]), int(radius)) for i in idx)
    return Hints(points=points, width=W, height=H, radius=int(radius))
