"""Colourisation metrics on float RGB images in [0, 1].

Every metric takes an image (H, W, 3) or a batch (N, H, W, 3), computes a value per image and
returns the mean over the batch as a Python float (per-pixel metrics pool all pixels, which
for equal-sized images is the same mean). Chroma metrics use the library's YUV
(`colourise_core.colour`); errors "on the 0-255 scale" are UV distances times 255.

- `uv_mse`: mean squared error of U and V.
- `psnr`: RGB PSNR in dB, identical images capped at `cap` (100 dB).
- `ssim`: SSIM of Wang et al. 2004 (gaussian window, sigma 1.5), via scikit-image.
- `colourfulness`, `colourfulness_gap`: Hasler and Suesstrunk 2003, 0-255 scale.
- `uv_error_cdf`, `uv_error_cdf_auc`, `within_threshold`: per-pixel UV error CDF and its area,
  as Zhang et al. 2016 do for ab.
- `best_of_n_uv_mse`, `mean_pairwise_distance`: for stochastic models (CVAE samples).
- `grey_baseline`: the all-grey prediction for baseline rows.
- `colour_energy`, `colour_budget`: pooled colour energy, and what a PSNR target over grey asks
  of any predictor that paints a given amount of colour (the why of a colourfulness trade-off).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from colourise_core.colour import rgb_to_y, rgb_to_yuv

# Errors within this distance (0-255 scale) of a threshold count as within it: it absorbs the
# float32 rounding of the colour conversion (about 1e-5 on this scale), far below one level.
THRESHOLD_TOLERANCE = 1e-4
# SSIM's gaussian window (sigma 1.5, truncated at 3.5 sigma) spans 11 pixels.
_SSIM_WINDOW = 11


def _batch(rgb: np.ndarray, what: str) -> np.ndarray:
    """(H, W, 3) or (N, H, W, 3) -> float64 (N, H, W, 3)."""
    arr = np.asarray(rgb, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"{what} must have shape (H, W, 3) or (N, H, W, 3), got {arr.shape}")
    return arr


def _pair(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float64 batches (N, H, W, 3) of the same shape."""
    pred, true = _batch(pred_rgb, "pred_rgb"), _batch(true_rgb, "true_rgb")
    if pred.shape != true.shape:
        raise ValueError(f"pred_rgb {pred.shape} and true_rgb {true.shape} differ in shape")
    return pred, true


def _uv(rgb: np.ndarray) -> np.ndarray:
    """RGB (..., 3) -> float64 UV (..., 2)."""
    return rgb_to_yuv(rgb)[..., 1:].astype(np.float64)


def _uv_error_255(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> np.ndarray:
    """Per-pixel UV L2 error on the 0-255 scale: (N, H, W)."""
    pred, true = _pair(pred_rgb, true_rgb)
    return np.linalg.norm(_uv(pred) - _uv(true), axis=-1) * 255.0


def uv_mse(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> float:
    """Mean squared error of the U and V channels.

    Args:
        pred_rgb: (H, W, 3) or (N, H, W, 3) in [0, 1].
        true_rgb: the same shape.
    Returns:
        mean over images of mean((U_p - U_t)^2 and (V_p - V_t)^2), raw BT.601 units.
    """
    pred, true = _pair(pred_rgb, true_rgb)
    per_image = np.mean((_uv(pred) - _uv(true)) ** 2, axis=(1, 2, 3))  # (N,)
    return float(per_image.mean())


def psnr(
    pred_rgb: np.ndarray, true_rgb: np.ndarray, data_range: float = 1.0, cap: float = 100.0
) -> float:
    """Peak signal-to-noise ratio of the RGB values, 10 log10(data_range^2 / MSE).

    Identical images have infinite PSNR, reported as `cap` (100 dB); every value is capped.

    Args:
        pred_rgb: (H, W, 3) or (N, H, W, 3).
        true_rgb: the same shape.
        data_range: the span of the values (1.0 for [0, 1]).
        cap: the largest value returned.
    Returns:
        mean over images of the per-image PSNR, in dB.
    """
    pred, true = _pair(pred_rgb, true_rgb)
    mse = np.mean((pred - true) ** 2, axis=(1, 2, 3))  # (N,)
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(data_range**2 / mse)
    return float(np.minimum(values, cap).mean())


def ssim(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004), mean over the RGB channels.

    Uses skimage.metrics.structural_similarity with a gaussian window (sigma 1.5, 11x11),
    population covariance and data_range 1, computed in float64. Images under 11 px on a side
    (where scikit-image would raise): the same gaussian statistics with reflect padding,
    averaged after cropping a border of the largest odd window that fits (no crop at 1-2 px).

    Args:
        pred_rgb: (H, W, 3) or (N, H, W, 3) in [0, 1].
        true_rgb: the same shape.
    Returns:
        mean over images of SSIM, 1.0 for identical images.
    """
    from skimage.metrics import structural_similarity  # imported lazily: slow to import

    pred, true = _pair(pred_rgb, true_rgb)
    side = min(pred.shape[1:3])
    window = _SSIM_WINDOW if side >= _SSIM_WINDOW else side - (1 - side % 2)  # odd, <= side
    values = [
        structural_similarity(
            p, t, channel_axis=-1, data_range=1.0, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, win_size=window,
        )
        for p, t in zip(pred, true)
    ]
    return float(np.mean(values))


def _colourfulness_each(rgb: np.ndarray) -> np.ndarray:
    """Hasler-Suesstrunk colourfulness per image of a batch (N, H, W, 3) -> (N,)."""
    scaled = rgb * 255.0
    red, green, blue = scaled[..., 0], scaled[..., 1], scaled[..., 2]  # (N, H, W)
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = np.sqrt(rg.std(axis=(1, 2)) ** 2 + yb.std(axis=(1, 2)) ** 2)
    offset = np.sqrt(rg.mean(axis=(1, 2)) ** 2 + yb.mean(axis=(1, 2)) ** 2)
    return spread + 0.3 * offset


def colourfulness(rgb: np.ndarray) -> float:
    """Colourfulness of Hasler and Suesstrunk (2003) on the 0-255 scale.

    rg = R - G, yb = (R + G) / 2 - B, M = sqrt(std_rg^2 + std_yb^2) + 0.3 sqrt(mean_rg^2 +
    mean_yb^2), population standard deviations. A grey image gives exactly 0.

    Args:
        rgb: (H, W, 3) or (N, H, W, 3) in [0, 1].
    Returns:
        mean over images of M.
    """
    return float(_colourfulness_each(_batch(rgb, "rgb")).mean())


def banded_scores(pairs, data_range: float = 1.0, cap: float = 100.0) -> dict:
    """`psnr`, `uv_mse` and the prediction's `colourfulness` of one image, from its row bands.

    For full-size photos: the same values as the whole-image functions (to float64 rounding),
    holding one band's float64 temporaries at a time instead of several full-size copies.

    Args:
        pairs: iterable of (pred band, true band), each (rows, W, 3) in [0, 1], covering the image.
        data_range, cap: as `psnr`.
    Returns:
        {"psnr", "uv_mse", "colourfulness"} as floats.
    """
    n = 0
    sse_rgb = sse_uv = 0.0
    sums = np.zeros(4)  # sum of rg, rg^2, yb, yb^2 (0-255 scale)
    for pred, true in pairs:
        pred, true = _pair(pred, true)
        n += pred.shape[1] * pred.shape[2]
        sse_rgb += float(np.sum((pred - true) ** 2))
        sse_uv += float(np.sum((_uv(pred) - _uv(true)) ** 2))
        scaled = pred * 255.0
        rg = scaled[..., 0] - scaled[..., 1]
        yb = 0.5 * (scaled[..., 0] + scaled[..., 1]) - scaled[..., 2]
        sums += [rg.sum(), np.square(rg).sum(), yb.sum(), np.square(yb).sum()]
    mse = sse_rgb / (3 * n)
    with np.errstate(divide="ignore"):
        value = 10.0 * np.log10(data_range**2 / mse) if mse > 0 else np.inf
    mean_rg, mean_yb = sums[0] / n, sums[2] / n
    var = max(sums[1] / n - mean_rg**2, 0.0) + max(sums[3] / n - mean_yb**2, 0.0)
    return {"psnr": float(min(value, cap)), "uv_mse": sse_uv / (2 * n),
            "colourfulness": float(np.sqrt(var) + 0.3 * np.sqrt(mean_rg**2 + mean_yb**2))}


def colourfulness_gap(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> float:
    """colourfulness(pred) - colourfulness(true): negative when the prediction is duller.

    Args:
        pred_rgb: (H, W, 3) or (N, H, W, 3) in [0, 1].
        true_rgb: the same shape.
    Returns:
        the difference of the batch means.
    """
    pred, true = _pair(pred_rgb, true_rgb)
    return colourfulness(pred) - colourfulness(true)


def uv_error_cdf(
    pred_rgb: np.ndarray, true_rgb: np.ndarray, max_threshold: int = 150
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative distribution of the per-pixel UV L2 error on the 0-255 scale.

    Args:
        pred_rgb: (H, W, 3) or (N, H, W, 3) in [0, 1].
        true_rgb: the same shape.
        max_threshold: the largest integer threshold.
    Returns:
        (thresholds int (T,) = 0..max_threshold, fractions float64 (T,)): the share of all
        pixels whose error is <= each threshold (within `THRESHOLD_TOLERANCE`).
    """
    errors = np.sort(_uv_error_255(pred_rgb, true_rgb).ravel())  # (P,)
    thresholds = np.arange(int(max_threshold) + 1)
    counts = np.searchsorted(errors, thresholds + THRESHOLD_TOLERANCE, side="right")
    return thresholds, counts / errors.size


def uv_error_cdf_auc(
    pred_rgb: np.ndarray, true_rgb: np.ndarray, max_threshold: int = 150
) -> float:
    """Area under the UV error CDF over thresholds 0..max_threshold, normalised to [0, 1].

    The mean of the CDF values (Zhang et al. 2016, for ab): 1.0 for identical images.

    Args:
        pred_rgb: (H, W, 3) or (N, H, W, 3) in [0, 1].
        true_rgb: the same shape.
        max_threshold: the largest integer threshold.
    Returns:
        the normalised area.
    """
    _, fractions = uv_error_cdf(pred_rgb, true_rgb, max_threshold)
    return float(fractions.mean())


def within_threshold(pred_rgb: np.ndarray, true_rgb: np.ndarray, threshold: float = 5.0) -> float:
    """Share of pixels whose UV L2 error (0-255 scale) is <= threshold.

    Args:
        pred_rgb: (H, W, 3) or (N, H, W, 3) in [0, 1].
        true_rgb: the same shape.
        threshold: the largest accepted error, 0-255 scale (within `THRESHOLD_TOLERANCE`).
    Returns:
        the fraction of all pixels, in [0, 1].
    """
    errors = _uv_error_255(pred_rgb, true_rgb)  # (N, H, W)
    return float(np.mean(errors <= threshold + THRESHOLD_TOLERANCE))


def _samples(samples_rgb: np.ndarray) -> np.ndarray:
    """(S, H, W, 3) or (S, N, H, W, 3) -> float64 (S, N, H, W, 3)."""
    arr = np.asarray(samples_rgb, dtype=np.float64)
    if arr.ndim == 4:
        arr = arr[:, None]
    if arr.ndim != 5 or arr.shape[-1] != 3:
        raise ValueError(
            f"samples_rgb must have shape (S, H, W, 3) or (S, N, H, W, 3), got {arr.shape}"
        )
    return arr


def best_of_n_uv_mse(samples_rgb: np.ndarray, true_rgb: np.ndarray) -> float:
    """Best-of-S UV MSE: per image the smallest UV MSE over its samples, then the mean.

    Args:
        samples_rgb: (S, H, W, 3) for one image or (S, N, H, W, 3) for a batch.
        true_rgb: (H, W, 3) or (N, H, W, 3).
    Returns:
        mean over images of min over samples of the UV MSE.
    """
    samples, true = _samples(samples_rgb), _batch(true_rgb, "true_rgb")
    if samples.shape[1:] != true.shape:
        raise ValueError(f"samples {samples.shape} do not match true_rgb {true.shape}")
    errors = np.mean((_uv(samples) - _uv(true)[None]) ** 2, axis=(2, 3, 4))  # (S, N)
    return float(errors.min(axis=0).mean())


def mean_pairwise_distance(samples_rgb: np.ndarray) -> float:
    """Diversity of samples: the mean over pairs i < j of their RMS UV difference.

    The RMS runs over all U and V values of an image, i.e. sqrt(uv_mse(sample_i, sample_j)).

    Args:
        samples_rgb: (S, H, W, 3) or (S, N, H, W, 3), S >= 2.
    Returns:
        mean over pairs and images, 0.0 when all samples are identical.
    """
    uv = _uv(_samples(samples_rgb))  # (S, N, H, W, 2)
    if uv.shape[0] < 2:
        raise ValueError("mean_pairwise_distance needs at least 2 samples")
    distances = [
        np.sqrt(np.mean((uv[i] - uv[j]) ** 2, axis=(1, 2, 3)))  # (N,)
        for i, j in combinations(range(uv.shape[0]), 2)
    ]
    return float(np.mean(distances))


def grey_baseline(true_rgb: np.ndarray) -> np.ndarray:
    """The all-grey prediction of an image: its luma Y kept, U = V = 0.

    With zero chroma R = G = B = Y, so the result is exactly grey (colourfulness 0).

    Args:
        true_rgb: (..., 3) in [0, 1].
    Returns:
        float32 (..., 3) with every channel equal to the luma.
    """
    return np.repeat(rgb_to_y(true_rgb), 3, axis=-1)


def colour_energy(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> np.ndarray:
    """Pooled sums of the colour each image adds to its grey, c = RGB - Y (Y the truth's luma).

    Args:
        pred_rgb: (H, W, 3) or (N, H, W, 3) in [0, 1], with the truth's luma (as every model's).
        true_rgb: the same shape.
    Returns:
        float64 [sum |c_true|^2, sum |c_pred|^2, sum c_pred . c_true] over pixels and channels;
        sums of several images add, and sum |c_pred - c_true|^2 is the pooled RGB squared error.
    """
    pred, true = _pair(pred_rgb, true_rgb)
    y = rgb_to_y(true).astype(np.float64)
    ct, cp = true.astype(np.float64) - y, pred.astype(np.float64) - y
    return np.array([np.sum(ct * ct), np.sum(cp * cp), np.sum(cp * ct)])


def colour_budget(sums, db: float = 0.5, colour_ratio: float | None = None) -> dict[str, float | None]:
    """What a prediction's colour buys in pooled PSNR, and what a target over grey asks of any model.

    With c_t the true colour and c_p a prediction's (functions of the grey image alone), pooled
    MSE / grey's = 1 + k^2 - 2 E[c_p.c_t] / E|c_t|^2 where k^2 = E|c_p|^2 / E|c_t|^2 (how much colour
    it paints; colourfulness scales with k). Since E[c_p.c_t] = E[c_p.m], m = E[c_t | grey] the best
    possible prediction, Cauchy-Schwarz gives MSE / grey >= 1 + k^2 - 2 k sqrt(r*), r* = E|m|^2 /
    E|c_t|^2 the share of the colour that the grey determines. A prediction's own squared
    correlation with the truth, rho^2, is a share some predictor achieves, so r* >= rho^2.

    Args:
        sums: `colour_energy` sums [tt, pp, pt] of a prediction.
        db: the target, in dB of pooled PSNR above the grey baseline.
        colour_ratio: the colour a target asks for, as k (e.g. 1 - gap / the truth's
            colourfulness); default: the prediction's own k.
    Returns:
        {"mse_over_grey", "energy_ratio" (k), "rho2", "needed_r" (the least r* with which some
        prediction painting colour_ratio is `db` above grey), "rescaled_db" (pooled dB above grey
        of this prediction's colour rescaled to paint colour_ratio: 1 + k'^2 - 2 k' rho)}; rho2,
        needed_r and rescaled_db None for a grey prediction.
    """
    tt, pp, pt = (float(v) for v in sums)
    k = float(np.sqrt(pp / tt))
    want = k if colour_ratio is None else float(colour_ratio)
    m = 10.0 ** (-db / 10.0)
    out = {"mse_over_grey": (tt + pp - 2.0 * pt) / tt, "energy_ratio": k, "rho2": None, "needed_r": None,
           "rescaled_db": None}
    if pp > 0 and want > 0:
        rho = pt / float(np.sqrt(pp * tt))
        ratio = max(1.0 + want * want - 2.0 * want * rho, 1e-10)  # the truth itself: capped at 100 dB, as psnr
        out.update(rho2=rho * rho, needed_r=max(0.0, (1.0 + want * want - m) / (2.0 * want)) ** 2,
                   rescaled_db=float(-10.0 * np.log10(ratio)))
    return out


def evaluate_batch(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> dict[str, float]:
    """All the table metrics of a prediction at once.

    Args:
        pred_rgb: (H, W, 3) or (N, H, W, 3) in [0, 1].
        true_rgb: the same shape.
    Returns:
        {"uv_mse", "psnr", "ssim", "colourfulness" (of pred), "colourfulness_gap", "auc",
        "within_5"} as floats.
    """
    pred, true = _pair(pred_rgb, true_rgb)
    return {
        "uv_mse": uv_mse(pred, true),
        "psnr": psnr(pred, true),
        "ssim": ssim(pred, true),
        "colourfulness": colourfulness(pred),
        "colourfulness_gap": colourfulness_gap(pred, true),
        "auc": uv_error_cdf_auc(pred, true),
        "within_5": within_threshold(pred, true, 5.0),
    }
