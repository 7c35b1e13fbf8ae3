"""The classic (pre-deep-learning) colourisation methods, beside the learned ones: numpy/scipy/OpenCV.

- Levin, Lischinski and Weiss, "Colorization using Optimization" (SIGGRAPH 2004): user hints'
  chroma spreads to every pixel by a sparse linear system whose weights come from luma similarity
  in a 3x3 window: neighbouring pixels of similar luma get similar chroma.
- Welsh, Ashikhmin and Mueller, "Transferring Color to Greyscale Images" (SIGGRAPH 2002; the
  dissertation's reference [20]): each pixel takes the chroma of the reference pixel whose luma
  and 5x5 luma standard deviation match best, among a jittered sample of ~200 reference pixels.

Both keep the input's luma exactly and go through the models' gamut handling
(`colour.luma_chroma_to_rgb`). Arrays are channels-last float32: Y (H, W, 1), UV (H, W, 2), RGB (H, W, 3).
"""

from __future__ import annotations

import functools

import math

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.spatial import cKDTree

from colourise_core.colour import UV_MAX, luma_chroma_to_rgb, rgb_to_yuv
from colourise_core.errors import HintsError, ImageError
from colourise_core.hints import Hints, rasterise

LEVIN_MAX_SIDE = 256  # working resolution (longer side): 65k unknowns, ~0.3 s; chroma is smooth
WELSH_SAMPLES = 200  # jittered reference samples (Welsh et al. section 3: "approximately 200")
WELSH_WINDOW = 5  # neighbourhood for the luma standard deviation (5x5, as in the paper)
WELSH_STD_WEIGHT = 0.5  # weight of the std beside the luma in the match (the paper's 50/50)
GREY_CHROMA = 2.0 / 255.0  # a reference whose chroma never exceeds this is grey: nothing to transfer

# The 8 neighbours of the 3x3 window (dy, dx).
_OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def _as_luma(y: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 1) luma -> float32 (H, W, 1)."""
    y = np.asarray(y, np.float32)
    return y[..., None] if y.ndim == 2 else y


def working_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(h, w) with the longer side at most `max_side`, the aspect kept (never enlarged)."""
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def levin_weights(y: np.ndarray) -> sp.csr_matrix:
    """The affinity matrix W of Levin et al. (eq. 2): W[r, s] for s in r's 3x3 window.

    w_rs ∝ exp(-(Y_r - Y_s)^2 / (2 sigma_r^2)), sigma_r^2 the luma variance in the window
    around r, rows normalised to sum to 1. As in the authors' code (getColorExact.m) the
    variance is scaled by 0.6, raised so the closest neighbour keeps weight >= 0.01, and
    floored at 2e-6 (a flat window would give 0/0).

    Args:
        y: (h, w) luma.
    Returns:
        (h*w, h*w) CSR matrix with 3-8 entries per row summing to 1 (none when h = w = 1).
    """
    h, w = y.shape
    y = y.astype(np.float64)
    pad = np.pad(y, 1, constant_values=np.nan)
    neigh = np.stack([pad[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy, dx in _OFFSETS])  # (8, h, w)
    valid = ~np.isnan(neigh)
    window = np.concatenate([neigh, y[None]])  # (9, h, w) incl. the centre
    n = valid.sum(0) + 1
    mean = np.nansum(window, 0) / n
    var = np.nansum((window - mean) ** 2, 0) / n  # (h, w)
    d2 = np.where(valid, (neigh - y) ** 2, np.inf)  # (8, h, w)
    mgv = np.where(valid.any(0), d2.min(0), 0.0)
    csig = np.maximum(np.maximum(0.6 * var, -mgv / math.log(0.01)), 2e-6)
    wts = np.where(valid, np.exp(-np.where(valid, d2, 0.0) / csig), 0.0)
    wts /= np.maximum(wts.sum(0), 1e-300)
    idx = np.arange(h * w).reshape(h, w)
    rows, cols, vals = [], [], []
    for k, (dy, dx) in enumerate(_OFFSETS):
        ok = valid[k]
        rows.append(idx[ok])
        cols.append(idx[ok] + dy * w + dx)
        vals.append(wts[k][ok])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(h * w, h * w))


@functools.lru_cache(maxsize=8)
def nested_dissection(h: int, w: int, leaf: int = 4) -> np.ndarray:
    """A fill-reducing elimination order of an h x w grid with a 3x3 stencil (George 1973).

    The grid is split in two by its middle row or column (a one-pixel line separates a 3x3
    stencil), each half is ordered the same way, and the separator comes last. It depends on the
    grid's size only, so it is computed once per size (the Guide page re-solves after each hint).

    Returns:
        int permutation of range(h * w) (read-only: it is shared).
    """
    idx = np.arange(h * w).reshape(h, w)
    out, stack = [], [(0, h, 0, w, False)]
    while stack:  # explicit stack: depth-first, each separator after both of its halves
        y0, y1, x0, x1, separator = stack.pop()
        if separator or ((y1 - y0) <= leaf and (x1 - x0) <= leaf):
            out.append(idx[y0:y1, x0:x1].ravel())
            continue
        if y1 - y0 >= x1 - x0:
            m = (y0 + y1) // 2
            parts = [(y0, m, x0, x1, False), (m + 1, y1, x0, x1, False), (m, m + 1, x0, x1, True)]
        else:
            m = (x0 + x1) // 2
            parts = [(y0, y1, x0, m, False), (y0, y1, m + 1, x1, False), (y0, y1, m, m + 1, True)]
        stack.extend(p for p in reversed(parts) if p[1] > p[0] and p[3] > p[2])
    order = np.concatenate(out)
    order.flags.writeable = False
    return order


def levin_solve(y: np.ndarray, hint_uv: np.ndarray, hint_mask: np.ndarray) -> np.ndarray:
    """Solve Levin et al.'s system at one resolution: U(r) - sum_s w_rs U(s) = 0 where no hint,
    U(r) = hint where a hint (and the same for V, with the same factorisation).

    Args:
        y: (h, w, 1) or (h, w) luma.
        hint_uv: (h, w, 2) hint chroma.
        hint_mask: (h, w, 1) or (h, w): > 0 where a hint is.
    Returns:
        float32 (h, w, 2) chroma.
    """
    y2 = _as_luma(y)[..., 0]
    h, w = y2.shape
    hinted = (np.asarray(hint_mask).reshape(h, w) > 0).ravel()  # (N,)
    if not hinted.any():
        raise HintsError("Levin's method needs at least one hint")
    free = sp.diags((~hinted).astype(np.float64))
    a = sp.identity(h * w, format="csr") - free @ levin_weights(y2)  # hinted rows: the identity
    b = np.where(hinted[:, None], np.asarray(hint_uv, np.float64).reshape(-1, 2), 0.0)  # (N, 2)
    # Factorise once in nested-dissection order (half the fill of SuperLU's own orderings on this
    # grid), without pivoting: A's rows are diagonally dominant (1 against weights summing to 1).
    order = nested_dissection(h, w)
    lu = spla.splu(a[order][:, order].tocsc(), permc_spec="NATURAL", diag_pivot_thresh=0.0,
                   options={"SymmetricMode": True})
    uv = np.empty_like(b)
    uv[order] = lu.solve(b[order])
    return uv.reshape(h, w, 2).astype(np.float32)


def levin_uv(y: np.ndarray, hints: Hints, max_side: int = LEVIN_MAX_SIDE,
             out_size: tuple[int, int] | None = None, base_uv: np.ndarray | None = None) -> np.ndarray:
    """Levin et al.'s chroma for a full-size luma: solved at a working size, resized back.

    With `base_uv` (a prior chroma, e.g. a model's automatic colouring) the method propagates the
    hints' *differences* from the base and adds them to it, so the base's own variation is kept
    and the hints correct it edge-aware: the network-as-prior comparison of issue 15.

    Args:
        y: (H, W, 1) or (H, W) luma in [0, 1].
        hints: hints validated for (W, H).
        max_side: longer side of the working resolution (the full size when smaller).
        out_size: (h, w) of the returned chroma (e.g. a display copy); default (H, W).
        base_uv: optional (H, W, 2) chroma the hints correct; None: plain Levin et al.
    Returns:
        float32 (H, W, 2) (or out_size) chroma.
    """
    y = _as_luma(y)
    H, W = y.shape[:2]
    h, w = working_size(H, W, max_side)
    y_small = y if (h, w) == (H, W) else cv2.resize(y, (w, h), interpolation=cv2.INTER_AREA)[..., None]
    hint_uv, mask = rasterise(hints, y, size=(h, w))
    oh, ow = out_size if out_size is not None else (H, W)
    if base_uv is not None:
        base_uv = np.asarray(base_uv, np.float32)
        if base_uv.shape != (H, W, 2):
            raise ValueError(f"base_uv must be (H, W, 2) = {(H, W, 2)}, got {base_uv.shape}")
        base_small = base_uv if (h, w) == (H, W) else cv2.resize(base_uv, (w, h), interpolation=cv2.INTER_AREA)
        hint_uv = np.where(mask > 0, hint_uv - base_small, 0.0).astype(np.float32)  # residuals at the hints
    uv = levin_solve(y_small, hint_uv, mask)
    if (h, w) != (oh, ow):
        uv = cv2.resize(uv, (ow, oh), interpolation=cv2.INTER_LINEAR)  # bilinear stays within the hints' range
    if base_uv is not None:
        base_out = base_uv if (H, W) == (oh, ow) else cv2.resize(base_uv, (ow, oh), interpolation=cv2.INTER_AREA)
        uv = uv + base_out
    return uv


def levin_colourise(y: np.ndarray, hints: Hints, max_side: int = LEVIN_MAX_SIDE) -> np.ndarray:
    """RGB (H, W, 3) float32 of Levin et al.'s method, keeping the luma exactly."""
    y = _as_luma(y)
    return luma_chroma_to_rgb(y, levin_uv(y, hints, max_side), compute_dtype=np.float32)


# ----------------------------------------------------------------------------- Welsh et al. 2002


def _local_std(y: np.ndarray, size: int) -> np.ndarray:
    """Standard deviation of the luma in a size x size window (reflected at borders): (H, W)."""
    y = y.astype(np.float32)
    mean = cv2.blur(y, (size, size), borderType=cv2.BORDER_REFLECT)
    sq = cv2.blur(y * y, (size, size), borderType=cv2.BORDER_REFLECT)
    return np.sqrt(np.maximum(sq - mean * mean, 0.0))


def jittered_sample(height: int, width: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """About n positions on a jittered grid (one random pixel per grid cell; Welsh et al. 3.1).

    Returns:
        (ys, xs) int arrays of equal length (about n; at most height * width).
    """
    rng = np.random.default_rng(seed)
    rows = max(1, min(height, round(math.sqrt(n * height / width))))
    cols = max(1, min(width, round(n / rows)))
    ey = np.linspace(0, height, rows + 1).astype(int)
    ex = np.linspace(0, width, cols + 1).astype(int)
    gy, gx = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    ys = ey[gy] + (rng.random(gy.shape) * (ey[gy + 1] - ey[gy])).astype(int)
    xs = ex[gx] + (rng.random(gx.shape) * (ex[gx + 1] - ex[gx])).astype(int)
    return ys.ravel(), xs.ravel()


def check_reference(reference_rgb: np.ndarray, name: str = "the reference") -> np.ndarray:
    """The reference's (H, W, 3) RGB, or an ImageError when it has no colour to transfer."""
    ref = np.asarray(reference_rgb, np.float32)
    if ref.ndim != 3 or ref.shape[2] != 3:
        raise ImageError(f"{name} is greyscale: there is no colour to transfer; choose a colour photo")
    if np.abs(rgb_to_yuv(ref, compute_dtype=np.float32)[..., 1:]).max() <= GREY_CHROMA:
        raise ImageError(f"{name} is greyscale (its colour channels are equal): there is no colour to "
                         "transfer; choose a colour photo")
    return ref


def welsh_uv(y: np.ndarray, reference_rgb: np.ndarray, samples: int = WELSH_SAMPLES, seed: int = 0,
             std_weight: float = WELSH_STD_WEIGHT) -> np.ndarray:
    """Welsh et al.'s global transfer: the chroma of the best-matching jittered reference sample.

    1. Luminance remapping (section 3.1): the reference luma is shifted and scaled to the target's
       mean and standard deviation, so the two histograms are comparable.
    2. Each sample and each target pixel gets (luma, std of luma in 5x5).
    3. Each target pixel takes the U, V of the sample minimising
       (1 - std_weight) * (dY)^2 + std_weight * (dStd)^2 (the paper's weighted average), found
       with a k-d tree over the scaled 2-D features.

    Args:
        y: (H, W, 1) or (H, W) target luma in [0, 1].
        reference_rgb: (Hr, Wr, 3) colour reference in [0, 1].
        samples: number of jittered reference samples.
        seed: jitter seed.
        std_weight: weight of the neighbourhood statistic in the match.
    Returns:
        float32 (H, W, 2) chroma.
    """
    ref = check_reference(reference_rgb)
    yt = _as_luma(y)[..., 0]
    yuv_r = rgb_to_yuv(ref, compute_dtype=np.float32)
    yr = yuv_r[..., 0]
    mu_t, sd_t, mu_r, sd_r = yt.mean(), yt.std(), yr.mean(), yr.std()
    yr = (yr - mu_r) * (sd_t / sd_r if sd_r > 1e-6 else 1.0) + mu_t  # luminance remapping
    ys, xs = jittered_sample(*yr.shape, samples, seed)
    std_r = _local_std(yr, WELSH_WINDOW)
    a, b = math.sqrt(1.0 - std_weight), math.sqrt(std_weight)
    feats_r = np.stack([a * yr[ys, xs], b * std_r[ys, xs]], -1)  # (S, 2)
    feats_t = np.stack([a * yt, b * _local_std(yt, WELSH_WINDOW)], -1).reshape(-1, 2)  # (H*W, 2)
    _, nearest = cKDTree(feats_r).query(feats_t, workers=1)
    uv_samples = yuv_r[ys, xs, 1:]  # (S, 2)
    return np.clip(uv_samples[nearest].reshape(*yt.shape, 2), -UV_MAX, UV_MAX).astype(np.float32)


def welsh_colourise(y: np.ndarray, reference_rgb: np.ndarray, samples: int = WELSH_SAMPLES, seed: int = 0) -> np.ndarray:
    """RGB (H, W, 3) float32 of Welsh et al.'s transfer, keeping the target's luma exactly."""
    y = _as_luma(y)
    return luma_chroma_to_rgb(y, welsh_uv(y, reference_rgb, samples, seed), compute_dtype=np.float32)
