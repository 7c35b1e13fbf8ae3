"""Evaluate a model on a held-out dataset beside the all-grey baseline.

Predictions are made at the model's resolution on the dataset's images (the Y of each image),
then compared with the true colour image. The baseline predicts U = V = 0 (the grey image).
"colour" pools the colour over every pixel (`metrics.colour_budget`): how much colour the model
paints (energy_ratio; an MSE model's regression to grey shows as a small one) and how much of
the true colour its colour explains (rho2).
"""

from __future__ import annotations

import numpy as np

from colourise_core import colour, metrics
from colourise_core.inference import predict_uv



def predict_rgb(model, rgb: np.ndarray, samples: int = 1, temperature: float | None = None, seed: int = 0) -> np.ndarray:
    """Colourise a batch of true images from their luma.

    Args:
        rgb: (N, R, R, 3) true images at the model's resolution.
    Returns:
        (S, N, R, R, 3) predictions.
    """
    y = colour.rgb_to_y(rgb)  # (N, R, R, 1)
    uv = predict_uv(model, y, samples=samples, temperature=temperature, seed=seed)  # (S, N, R, R, 2)
    return colour.luma_chroma_to_rgb(y, uv)  # y broadcasts over the samples


def evaluate_model(model, dataset, batch_size: int = 256, temperature: float | None = None, full: bool = False,
                   limit: int | None = None) -> dict:
    """Metrics of a model and of the all-grey baseline on a dataset.

    Args:
        model: a built, trained model.
        dataset: an ImageDataset at the model's resolution.
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
