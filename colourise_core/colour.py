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

import cv2
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
    """Float RGB in [0, 1] -> uint8 with rounding (not truncation).

    Rounds in float64 like `np.rint(x * 255)`, a million values at a time, so a 24 MP image
    needs tens of MB of temporaries rather than gigabytes.
    """
    rgb = np.asarray(rgb)
    src = np.ascontiguousarray(rgb).reshape(-1)
    out = np.empty(src.shape, np.uint8)
    for i in range(0, src.size, _CHUNK):
        part = src[i:i + _CHUNK].astype(np.float64) * 255.0
        np.rint(part, out=part)
        np.clip(part, 0, 255, out=part)
        out[i:i + _CHUNK] = part
    return out.reshape(rgb.shape)


_CHUNK = 1 << 20  # values per chunk of to_uint8
# Each RGB channel's chroma part: rgb = y + uv @ CHROMA_TO_RGB (the Y column of YUV_TO_RGB is 1).
CHROMA_TO_RGB = YUV_TO_RGB[:, 1:].T  # (2, 3)
UV_MAX = np.array([U_MAX, V_MAX])


def _chroma_scale(y: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The largest s in [0, 1] with y + s * k inside [0, 1] for all three channels.

    Channel c bounds s by (1 - y) / k_c where k_c > 0 and by y / -k_c where k_c < 0, both equal
    to 0.5 / |k_c| + (0.5 - y) / k_c; k_c = 0 gives NaN or +inf (no bound), which `fmin`
    and the final clip ignore. The minimum is taken pairwise (numpy's min over a trailing
    axis of length 3 is several times slower).

    Args:
        y: (..., 1) luma in [0, 1].
        k: (..., 3) each channel's chroma part, `uv @ CHROMA_TO_RGB`.
    Returns:
        (..., 1) scale, same dtype as k.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inv = np.reciprocal(k)  # (..., 3)
        limit = np.abs(inv) * 0.5 + (0.5 - y) * inv
    s = np.fmin(np.fmin(limit[..., 0], limit[..., 1]), limit[..., 2])[..., None]
    return np.clip(np.nan_to_num(s, nan=1.0, posinf=1.0), 0.0, 1.0)


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
    y = np.clip(yuv[..., :1], 0.0, 1.0)  # (..., 1)
    uv = yuv[..., 1:]  # (..., 2)
    s = _chroma_scale(y, uv @ CHROMA_TO_RGB.astype(compute_dtype))
    return np.concatenate([y, uv * s], axis=-1).astype(np.float32)


def luma_chroma_to_rgb(y: np.ndarray, uv: np.ndarray, compute_dtype=np.float64) -> np.ndarray:
    """RGB of a luma and a predicted chroma, keeping the luma exactly: a model's output path.

    The same pixels as `yuv_to_rgb(fit_chroma_to_gamut(merge_y_uv(y, uv)))` up to rounding, in
    one pass: the chroma is clipped to its range, then scaled towards grey where the colour
    would leave the RGB cube, and RGB = y + s * (uv @ CHROMA_TO_RGB).

    Args:
        y: (..., 1) luma in [0, 1].
        uv: (..., 2) chroma, broadcastable against y.
        compute_dtype: float64, or float32 for full-size photos (half the memory, faster).
    Returns:
        (..., 3) float32 RGB in [0, 1] whose luma is y.
    """
    y = np.clip(np.asarray(y, dtype=compute_dtype), 0.0, 1.0)  # (..., 1)
    uv = np.clip(np.asarray(uv, dtype=compute_dtype), -UV_MAX.astype(compute_dtype), UV_MAX.astype(compute_dtype))
    k = uv @ CHROMA_TO_RGB.astype(compute_dtype)  # (..., 3)
    k *= _chroma_scale(y, k)
    k += y
    np.clip(k, 0.0, 1.0, out=k)  # rounding only: in gamut by construction
    return k.astype(np.float32, copy=False)


# ----------------------------------------------------------------------------- full-size fast path

LUMA_ROW = np.array([[KR, KG, KB]], np.float32)  # (1, 3): cv2.transform's matrix for Y
_KERNEL_TILE = 1 << 16  # pixels per tile of `chroma_to_rgb8`: its temporaries stay in the CPU cache


def luma_of(rgb: np.ndarray) -> np.ndarray:
    """Luma of a full-size float RGB image in one multi-threaded OpenCV pass: (H, W, 3) -> (H, W, 1).

    The same values as `rgb_to_y(rgb, compute_dtype=np.float32)` to float32 rounding.
    """
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    return cv2.transform(rgb, LUMA_ROW).reshape(rgb.shape[:2] + (1,))


def chroma_to_rgb8(y: np.ndarray, u: np.ndarray, v: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Display-ready uint8 RGB of a luma and a chroma, gamut-fitted, in one pass over the pixels.

    The same pixels as `to_uint8(luma_chroma_to_rgb(y, uv))` within one level (float32 rounding
    at a .5 boundary), without its full-size float temporaries: per tile of `_KERNEL_TILE`
    pixels, each channel's chroma part k_c = uv . CHROMA_TO_RGB[:, c], the chroma scale
    s = 1 / max(1, max_c k_c / (1 - y), -min_c k_c / y) (the largest s <= 1 keeping
    y + s k_c in [0, 1], as `_chroma_scale`), and RGB8 = round(255 (y + s k)).

    Args:
        y: (H, W) or (H, W, 1) float32 luma in [0, 1].
        u, v: (H, W) float32 chroma, already clipped to [-U_MAX, U_MAX] and [-V_MAX, V_MAX].
        out: optional (H, W, 3) uint8 array to write into.
    Returns:
        (H, W, 3) uint8 RGB whose luma is y within 0.5 / 255.
    """
    height, width = u.shape[:2]
    y = np.asarray(y, np.float32).reshape(height, width)
    out = np.empty((height, width, 3), np.uint8) if out is None else out
    m = CHROMA_TO_RGB.astype(np.float32)  # (2, 3)
    rows = max(1, _KERNEL_TILE // width)
    tiny = np.float32(1e-12)  # y = 1 (or 0) with chroma towards the bound gives s ~ 1e-12 k: grey
    for r in range(0, height, rows):
        yy, uu, vv = y[r:r + rows], u[r:r + rows], v[r:r + rows]  # (rows, W) each
        k = [uu * m[0, c] + vv * m[1, c] for c in range(3)]  # each channel's chroma part
        kmax = np.maximum(np.maximum(k[0], k[1]), k[2])
        kmin = np.minimum(np.minimum(k[0], k[1]), k[2])
        room = np.maximum(1.0 - yy, tiny)
        np.divide(kmax, room, out=kmax)  # how far the top channel would go past 1, as a ratio
        np.maximum(yy, tiny, out=room)
        np.divide(kmin, room, out=kmin)  # and the bottom channel past 0
        np.negative(kmin, out=kmin)
        np.maximum(kmax, kmin, out=kmax)
        np.maximum(kmax, 1.0, out=kmax)
        np.divide(np.float32(255.0), kmax, out=kmax)  # 255 s
        y255 = yy * np.float32(255.0)
        for c in range(3):
            np.multiply(k[c], kmax, out=k[c])
            np.add(k[c], y255, out=k[c])
        # rounds to nearest (half to even, like np.rint) and saturates to [0, 255]
        out[r:r + rows] = cv2.convertScaleAbs(cv2.merge(k))
    return out
