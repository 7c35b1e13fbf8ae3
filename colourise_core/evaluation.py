"""Evaluate a model on a held-out dataset beside the all-grey baseline.

Predictions are made from the Y of each of the dataset's images with the model at its own input
size (as `inference` colourises a user's photo), then compared with the true colour image. The
baseline predicts U = V = 0 (the grey image).
"colour" pools the colour over every pixel (`metrics.colour_budget`): how much colour the model
paints (energy_ratio; an MSE model's regression to grey shows as a small one) and how much of
the true colour its colour explains (rho2).
"""

from __future__ import annotations

import numpy as np

from colourise_core import colour, metrics
from colourise_core.inference import input_size, predict_uv
from colourise_core.resize import resize_float



def predict_rgb(model, rgb: np.ndarray, samples: int = 1, temperature: float | None = None, seed: int = 0) -> np.ndarray:
    """Colourise a batch of true images from their luma, as a user's image would be.

    The model sees the luma at its own input size (`inference.input_size`: a fully convolutional
    family at its training resolution, not the dataset's); when that differs from the images'
    size, the luma is resized to it and the predicted chroma back, and the images' own luma is kept.

    Args:
        rgb: (N, R, C, 3) true images (usually R = C = the model's resolution).
    Returns:
        (S, N, R, C, 3) predictions.
    """
    y = colour.rgb_to_y(rgb)  # (N, R, C, 1)
    height, width = y.shape[1:3]
    h, w = input_size(model, height, width)
    y_in = y if (h, w) == (height, width) else np.stack([resize_float(im, (h, w)) for im in y])  # (N, h, w, 1)
    uv = predict_uv(model, y_in, samples=samples, temperature=temperature, seed=seed)  # (S, N, h, w, 2)
    if (h, w) != (height, width):
        uv = np.stack([[resize_float(im, (height, width)) for im in s] for s in uv])  # (S, N, R, C, 2)
    return colour.luma_chroma_to_rgb(y, uv)  # y broadcasts over the samples


def evaluate_model(model, dataset, batch_size: int = 256, temperature: float | None = None, full: bool = False,
                   limit: int | None = None) -> dict:
    """Metrics of a model and of the all-grey baseline on a dataset.

    Args:
        model: a built, trained model.
        dataset: an ImageDataset (the model runs at its own input size, see `predict_rgb`).
        batch_size: images per forward pass.
        temperature: the model's temperature (CVAE: 0 the mean; unet: vividness); None: its default.
        full: also SSIM, colourfulness gap, UV-error CDF AUC and share within 5 levels.
        limit: evaluate at most this many images.
    Returns:
        {"n": N, "uv_mse", "psnr", "colourfulness", ..., "baseline": {...}, "truth_colourfulness",
        "colour": {"mse_over_grey", "energy_ratio", "rho2", ...} pooled over every pixel}.
    """
    n = len(dataset) if limit is None else min(limit, len(dataset))
    fn = metrics.evaluate_batch if full else _summary
    sums, base, truth_c, energy = {}, {}, 0.0, np.zeros(3)
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(n, start + batch_size))
        true = dataset.load(idx)  # (B, R, R, 3)
        pred = predict_rgb(model, true, temperature=temperature)[0]
        weight = len(idx)
        for out, values in ((sums, fn(pred, true)), (base, fn(metrics.grey_baseline(true), true))):
            for k, v in values.items():
                out[k] = out.get(k, 0.0) + v * weight
        truth_c += metrics.colourfulness(true) * weight
        energy += metrics.colour_energy(pred, true)
    result = {k: v / n for k, v in sums.items()}
    result.update(n=n, truth_colourfulness=truth_c / n, baseline={k: v / n for k, v in base.items()})
    budget = metrics.colour_budget(energy)
    result["colour"] = {k: budget[k] for k in ("mse_over_grey", "energy_ratio", "rho2")}
    return result


def _summary(pred: np.ndarray, true: np.ndarray) -> dict:
    return {"uv_mse": metrics.uv_mse(pred, true), "psnr": metrics.psnr(pred, true), "colourfulness": metrics.colourfulness(pred)}
