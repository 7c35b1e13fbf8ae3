"""Resizing float images with OpenCV (the library's one resize; `imageio.resize_float` re-exports it)."""

from __future__ import annotations

import cv2
import numpy as np


def resize_float(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float image with OpenCV, choosing the interpolation per axis.

    Shrinking uses INTER_AREA (an exact box average for integer factors); enlarging uses
    INTER_CUBIC clipped to each channel's input range, so no ringing leaves the range. When
    one axis shrinks and the other grows (e.g. 10000x3 -> 32x32) the two are done in turn.

    Args:
        arr: (H, W) or (H, W, C) with C in 1..4, any real dtype.
        size: the output (height, width), both >= 1.
    Returns:
        float32 array (h, w) or (h, w, C), the same number of dimensions as `arr`.
    """
    arr = np.asarray(arr)
    height, width = (int(size[0]), int(size[1]))
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive (height, width), got {size}")
    if arr.ndim not in (2, 3) or 0 in arr.shape or (arr.ndim == 3 and arr.shape[2] > 4):
        raise ValueError(f"arr must have shape (H, W) or (H, W, 1..4), got {arr.shape}")
    out = np.ascontiguousarray(arr, dtype=np.float32)  # (H, W[, C])
    if out.shape[0] > height:  # shrink the height first: less data for what follows
        out = _resize(out, (height, out.shape[1]), cv2.INTER_AREA)
    if out.shape[1] > width:
        out = _resize(out, (out.shape[0], width), cv2.INTER_AREA)
    if out.shape[:2] != (height, width):  # what is left only grows
        low = out.min(axis=(0, 1))  # (C,) or scalar
        high = out.max(axis=(0, 1))
        out = _resize(out, (height, width), cv2.INTER_CUBIC)
        np.clip(out, low, high, out=out)  # in place: a full-size UV is 192 MB at 24 MP
    return out.astype(np.float32, copy=False)


def _resize(arr: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    """cv2.resize to (height, width), keeping a trailing channel axis of size 1."""
    out = cv2.resize(arr, (size[1], size[0]), interpolation=interpolation)
    return out[..., None] if arr.ndim == 3 and out.ndim == 2 else out
