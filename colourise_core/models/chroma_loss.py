"""Colour-aware reconstruction terms for the CVAE decoder (dissertation 6.1.3, Deshpande et al. 2017).

An unweighted MSE lets the common, dull chroma of most pixels dominate, so the decoder learns
muted colours and blurred colour fields (dissertation 5.3). Two terms counter that:

- Rarity weights: each pixel's squared error is weighted by how rare its true chroma is. The
  prior p over a grid of UV bins is the training data's 2D histogram, smoothed with a Gaussian
  and mixed with the uniform distribution (Zhang et al., ECCV 2016, section 3.3):
      w_q proportional to 1 / ((1 - lambda) p~_q + lambda / Q),   sum_q p~_q w_q = 1,
  so the expected weight over the training pixels is 1. The grid is stored in the model (a
  non-trainable variable), so it travels with the weights.
- Chroma gradients: the squared difference of horizontal and vertical UV finite differences of
  the prediction and the truth (Deshpande et al.'s L_grad), which penalises blurred edges.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from colourise_core import colour


def uv_bins(uv: np.ndarray, bins: int) -> np.ndarray:
    """The (U bin, V bin) of each UV value on a bins x bins grid over [-U_MAX, U_MAX] x [-V_MAX, V_MAX].

    The numpy twin of `pixel_weights`' lookup (values on or past the gamut edge go to the edge bins).

    Args:
        uv: (..., 2).
    Returns:
        (..., 2) int.
    """
    pos = (np.asarray(uv, np.float32) / np.array([colour.U_MAX, colour.V_MAX], np.float32) + 1.0) * 0.5 * bins
    return np.clip(np.floor(pos).astype(np.int64), 0, bins - 1)


def uv_histogram(uv: np.ndarray, bins: int) -> np.ndarray:
    """Counts of UV values per bin of `uv_bins`.

    Args:
        uv: (..., 2).
    Returns:
        (bins, bins) float64 counts, rows U, columns V.
    """
    idx = uv_bins(uv, bins).reshape(-1, 2)
    return np.bincount(idx[:, 0] * bins + idx[:, 1], minlength=bins * bins).reshape(bins, bins).astype(np.float64)


def rarity_weights(counts: np.ndarray, mix: float = 0.5, sigma: float = 1.0) -> np.ndarray:
    """ECCV16 class-rebalancing weights of a UV histogram.

    Args:
        counts: (B, B) histogram.
        mix: lambda, the share of the uniform distribution (ECCV16: 0.5; 1 gives all weights 1).
        sigma: Gaussian smoothing of the prior in bins (0: none).
    Returns:
        (B, B) float32 weights w with sum(p~ w) = 1 for the smoothed prior p~.
    """
    from scipy.ndimage import gaussian_filter

    p = np.asarray(counts, np.float64)
    if p.sum() <= 0:
        raise ValueError("rarity_weights: the histogram is empty")
    p = p / p.sum()
    if sigma > 0:
        p = gaussian_filter(p, sigma, mode="constant")
        p = p / p.sum()
    w = 1.0 / ((1.0 - mix) * p + mix / p.size)
    return (w / np.sum(p * w)).astype(np.float32)


def pixel_weights(uv, weight_grid):
    """Look up each pixel's rarity weight.

    Args:
        uv: (N, H, W, 2) true chroma.
        weight_grid: (B, B) weights (rows U, columns V).
    Returns:
        (N, H, W) weights.
    """
    bins = ops.shape(weight_grid)[0]
    scale = ops.convert_to_tensor([colour.U_MAX, colour.V_MAX], dtype=uv.dtype)
    pos = (uv / scale + 1.0) * 0.5 * ops.cast(bins, uv.dtype)  # (N, H, W, 2) in [0, B]
    idx = ops.clip(ops.cast(ops.floor(pos), "int32"), 0, bins - 1)
    flat = idx[..., 0] * bins + idx[..., 1]  # (N, H, W)
    return ops.take(ops.reshape(weight_grid, (-1,)), flat)


def weighted_mse(target, pred, weights):
    """mean over pixels and channels of w_pixel * (target - pred)^2; w of shape (N, H, W)."""
    return ops.mean(ops.expand_dims(weights, -1) * ops.square(target - pred))


def gradient_loss(target, pred):
    """Squared error of the horizontal and vertical finite differences (N, H, W, C) -> scalar.

    mean((dx_pred - dx_true)^2) + mean((dy_pred - dy_true)^2), dx along W, dy along H.
    """
    def dx(a):
        return a[:, :, 1:, :] - a[:, :, :-1, :]

    def dy(a):
        return a[:, 1:, :, :] - a[:, :-1, :, :]

    return ops.mean(ops.square(dx(pred) - dx(target))) + ops.mean(ops.square(dy(pred) - dy(target)))
