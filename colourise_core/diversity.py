"""How diverse, and how good, a sampling model's colourings are (issue 12; dissertation Figure 5.6).

For each image, S samples of the chroma are drawn from the model (a CVAE) at a temperature,
and measured against each other and against the true image:

- spread: the mean pairwise RMS distance between the samples' UV (`metrics.mean_pairwise_distance`);
- single: the UV MSE of one sample, averaged over the S samples ("mean of S");
- best: the UV MSE of the sample nearest the truth ("best of S", needs the truth: it says what
  the model *can* produce, not what it picks);
- average: the UV MSE of the samples' average colour (what a mean-squared-error model would give);
- colourfulness of each sample beside the truth's (Hasler and Suesstrunk), and the grey baseline.

All numbers are means over images; UV in BT.601 units, as the report measures them.
"""

from __future__ import annotations

import numpy as np

from colourise_core import colour, metrics
from colourise_core.inference import predict_uv


def sample_rgb(model, rgb: np.ndarray, samples: int, temperature: float, seed: int = 0,
               component: int | None = None) -> np.ndarray:
    """Samples (S, N, R, R, 3) of a model for true images (N, R, R, 3) at its resolution, from their luma."""
    y = colour.rgb_to_y(rgb)  # (N, R, R, 1)
    uv = predict_uv(model, y, samples=samples, temperature=temperature, seed=seed, component=component)
    return colour.luma_chroma_to_rgb(y, uv)


def _uv(rgb: np.ndarray) -> np.ndarray:
    return colour.rgb_to_yuv(rgb)[..., 1:]


def measure(samples_rgb: np.ndarray, true_rgb: np.ndarray) -> dict:
    """The diversity figures of S samples per image.

    Args:
        samples_rgb: (S, N, H, W, 3) in [0, 1], S >= 2.
        true_rgb: (N, H, W, 3).
    Returns:
        {"spread", "single_uv_mse", "best_uv_mse", "average_uv_mse", "grey_uv_mse",
         "colourfulness", "truth_colourfulness", "colourfulness_ratio", "best_index" (N,) list}.
    """
    uv_s, uv_t = _uv(samples_rgb), _uv(true_rgb)  # (S, N, H, W, 2), (N, H, W, 2)
    per = np.mean((uv_s - uv_t[None]) ** 2, axis=(2, 3, 4))  # (S, N)
    average = np.mean((uv_s.mean(axis=0) - uv_t) ** 2, axis=(1, 2, 3))  # (N,)
    grey = np.mean(uv_t ** 2, axis=(1, 2, 3))
    colourful = np.array([[metrics.colourfulness(samples_rgb[s, i]) for i in range(samples_rgb.shape[1])]
                          for s in range(samples_rgb.shape[0])])  # (S, N)
    truth = np.array([metrics.colourfulness(t) for t in true_rgb])  # (N,)
    return {
        "spread": metrics.mean_pairwise_distance(samples_rgb),
        "single_uv_mse": float(per.mean()),
        "best_uv_mse": float(per.min(axis=0).mean()),
        "average_uv_mse": float(average.mean()),
        "grey_uv_mse": float(grey.mean()),
        "colourfulness": float(colourful.mean()),
        "truth_colourfulness": float(truth.mean()),
        "colourfulness_ratio": float(colourful.mean() / truth.mean()) if truth.mean() > 0 else float("nan"),
        "best_index": per.argmin(axis=0).tolist(),
    }


def temperature_curve(model, true_rgb: np.ndarray, temperatures, samples: int = 8, seed: int = 0,
                      component: int | None = None) -> list[dict]:
    """`measure` at each temperature (same seed): how spread and best-of-S error grow with it.

    Args:
        true_rgb: (N, R, R, 3) at the model's resolution.
    Returns:
        one dict per temperature, with "temperature" added.
    """
    out = []
    for t in temperatures:
        m = measure(sample_rgb(model, true_rgb, samples, t, seed, component), true_rgb)
        out.append({"temperature": float(t), **m})
    return out
