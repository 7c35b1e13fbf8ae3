"""Writing images: PNG bytes for downloads, PNG files written atomically.

The input is what the library produces: an RGB image (H, W, 3) as float in [0, 1] or uint8, and
an optional alpha plane (H, W); both are checked (shape, dtype, no NaN) before anything is written.
`colourise_core.imageio` re-exports `encode_png` and `save_png_atomic`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from colourise_core import atomic
from colourise_core.colour import to_uint8


def _to_rgb8(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Validate rgb (H, W, 3) and alpha (H, W), float [0, 1] or uint8 -> uint8 (H, W, 3|4)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")
    planes = [_to_uint8_checked(rgb, "rgb")]  # (H, W, 3)
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.shape != rgb.shape[:2]:
            raise ValueError(f"alpha must have shape {rgb.shape[:2]}, got {alpha.shape}")
        planes.append(_to_uint8_checked(alpha, "alpha")[..., None])  # (H, W, 1)
    return planes[0] if len(planes) == 1 else np.concatenate(planes, axis=2)


def _to_pil_rgb(rgb: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    """Validate rgb (H, W, 3) and alpha (H, W), float [0, 1] or uint8 -> RGB/RGBA image."""
    return Image.fromarray(np.ascontiguousarray(_to_rgb8(rgb, alpha)))


def _to_uint8_checked(arr: np.ndarray, what: str) -> np.ndarray:
    """uint8 passes through; floats in [0, 1] are rounded; NaN/inf are refused."""
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{what} must be uint8 or float in [0, 1], got {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} holds NaN or infinite values")
    return to_uint8(arr)


def encode_png(rgb: np.ndarray, alpha: np.ndarray | None = None, compress_level: int = 1) -> bytes:
    """Encode an image as PNG bytes (for downloads).

    Args:
        rgb: (H, W, 3) float in [0, 1] or uint8.
        alpha: (H, W) float in [0, 1] or uint8, or None; with alpha the PNG is RGBA.
        compress_level: zlib level 0-9; 1 is several times faster than Pillow's 6 for ~10% more bytes.
    Returns:
        The PNG file's bytes (`colourise_core.png.encode`: fixed filter, deflate on a few threads).
    """
    from colourise_core import png  # its thread pool only when asked

    return png.encode(_to_rgb8(rgb, alpha), compress_level)


def save_png_atomic(
    path: str | os.PathLike, rgb: np.ndarray, alpha: np.ndarray | None = None,
    compress_level: int | None = None,
) -> Path:
    """Write a PNG atomically: a temporary file in the same folder, then `os.replace`.

    A failure at any point leaves an existing file at `path` untouched and no temporary file
    (`atomic.replacing`). Parent folders are created. A new file gets the usual mode (umask); a
    replaced one keeps its mode.

    Args:
        path: the destination .png path.
        rgb: (H, W, 3) float in [0, 1] or uint8.
        alpha: (H, W) float in [0, 1] or uint8, or None; with alpha the PNG is RGBA.
        compress_level: None: Pillow's default PNG (smallest files); 0-9: the fast encoder of
            `encode_png` at that zlib level (the CLI writes with 1).
    Returns:
        The destination path.
    """
    path = Path(path)
    # validate (and encode) before touching the disk
    img = _to_pil_rgb(rgb, alpha) if compress_level is None else encode_png(rgb, alpha, compress_level)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path) as tmp, open(tmp, "wb") as fp:
        if isinstance(img, bytes):
            fp.write(img)
        else:
            img.save(fp, format="PNG")
    return path
