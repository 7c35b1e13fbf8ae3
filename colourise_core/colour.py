"""YUV colour space: the one place that defines the colour constants and conversions.

The dissertation (section 3.1.2) reads the luma Y as the greyscale image and predicts the
chroma U, V. We use the analog BT.601 YUV of the dissertation:

    Y =  0.299 R + 0.587 G + 0.114 B            Y in [0, 1]
    U =  0.492 (B - Y)                          U in [-U_MAX, U_MAX], U_MAX = 0.436
    V =  0.877 (R - Y)                          V in [-V_MAX, V_MAX], V_MAX = 0.615

The inverse is the exact matrix inverse of the forward matrix (computed, not the rounded
textbook coefficients), so a round trip is exact to float precision.
All arrays are channels-last: (..., 3) for RGB/YUV, (..., 1) for Y, (..., 2) for UV.
"""

from __future__ import annotations

import numpy as np

# Luma weights (BT.601), U and V scale factors.
KR, KG, KB = 0.299, 0.587, 0.114
U_SCALE, V_SCALE = 0.492, 0.877
U_MAX = U_SCALE * (1.0 - KB)  # 0.436: the largest |U| of an RGB colour in [0, 1]
V_MAX = V_SCALE * (1.0 - KR)  # 0.615: the largest |V|

# Forward matrix: yuv = rgb @ RGB_TO_YUV.T
RGB_TO_YUV = np.array(
    [
        [KR, KG, KB],
        [-U_SCALE * KR, -U_SCALE * KG, U_SCALE * (1.0 - KB)],
        [V_SCALE * (1.0 - KR), -V_SCALE * KG, -V_SCALE * KB],
    ],
    dtype=np.float64,
)
YUV_TO_RGB = np.linalg.inv(RGB_TO_YUV)


def rgb_to_yuv(rgb: np.ndarray, compute_dtype=np.float64) -> np.ndarray:
    """Convert RGB in [0, 1] to YUV.

    Args:
        rgb: float array (..., 3) with values in [0, 1].
        compute_dtype: float64 (exact round trips) or float32 (training batches: 3x faster).
    Returns:
        float32 array (..., 3): Y in [0, 1], U in [-U_MAX, U_MAX], V in [-V_MAX, V_MAX].
    """
    rgb = np.asarray(rgb, dtype=compute_dtype)
    return (rgb @ RGB_TO_YUV.T.astype(compute_dtype)).astype(np.float32)


def yuv_to_rgb(yuv: np.ndarray, clip: bool = True, compute_dtype=np.float64) -> np.ndarray:
    """Convert YUV back to RGB (the exact inverse of `rgb_to_yuv`).

    Args:
        yuv: float array (..., 3).
        clip: clip the result to [0, 1]; chroma predicted by a model can leave the gamut.
        compute_dtype: float64 (exact round trips) or float32 (full-size photos: faster, less memory).
    Returns:
        float32 array (..., 3).
    """
    rgb = np.asarray(yuv, dtype=compute_dtype) @ YUV_TO_RGB.T.astype(compute_dtype)
    if clip:
        rgb = np.clip(rgb, 0.0, 1.0)
    return rgb.astype(np.float32)


def rgb_to_y(rgb: np.ndarray, compute_dtype=np.float64) -> np.ndarray:
    """Luma of an RGB array in [0, 1]: (..., 3) -> (..., 1) float32."""
    rgb = np.asarray(rgb, dtype=compute_dtype)
    return (rgb @ RGB_TO_YUV[0].astype(compute_dtype))[..., None].astype(np.float32)


def merge_y_uv(y: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Join luma (..., 1) and chroma (..., 2) into YUV (..., 3), chroma clipped to its range."""
    u = np.clip(uv[..., 0:1], -U_MAX, U_MAX)
    v = np.clip(uv[..., 1:2], -V_MAX, V_MAX)
    return np.concatenate([y, u, v], axis=-1).astype(np.float32)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] -> uint8 with rounding (not truncation)."""
    return np.clip(np.rint(np.asarray(rgb, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def fit_chroma_to_gamut(yuv: np.ndarray, compute_dtype=np.float64) -> np.ndarray:
    """Scale each pixel's chroma towards grey until its RGB lies in [0, 1], keeping Y exactly.

    Clipping RGB would change the luma; this keeps the input's luma, which the model must not
    alter (section 3.1.2), and keeps the hue. Each RGB channel is c = Y + s * k(U, V) for a chroma
    scale s, so the largest s <= 1 with every c in [0, 1] is found in closed form.

    Args:
        yuv: (..., 3) with Y in [0, 1].
        compute_dtype: float64, or float32 for full-size photos.
    Returns:
        (..., 3) float32 YUV whose RGB is in gamut.
    """
    yuv = np.asarray(yuv, dtype=compute_dtype)
    y = np.clip(yuv[..., :1], 0.0, 1.0)
    k = yuv[..., 1:] @ YUV_TO_RGB[:, 1:].T.astype(compute_dtype)  # (..., 3): each channel's chroma part
    with np.errstate(divide="ignore", invalid="ignore"):
        limit = np.where(k > 1e-6, (1.0 - y) / k, np.where(k < -1e-6, y / -k, np.inf))
    s = np.clip(np.min(limit, axis=-1, keepdims=True), 0.0, 1.0).astype(compute_dtype)
    return np.concatenate([y, yuv[..., 1:] * s], axis=-1).astype(np.float32)
