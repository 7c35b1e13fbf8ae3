"""How diverse, and how good, a sampling model's colourings are (issue 12; dissertation Figure 5.6).

For each image, S samples of the chroma are drawn from the model (a CVAE) at a temperature,
and measured against each other and against the true image:

- spread: the mean pairwise RMS distance between the samples' UV (`metrics.mean_pairwise_distance`);
- single: the UV MSE of one sample, averaged over the S samples ("mean of S");
- best: the UV MSE of the sample nearest the truth ("best of S", needs the truth: it says what
  the model *can* produce, not what it picks);
- average: the UV MSE of the samples' average colour (what a mean-squared-error model would give);
- colourfulness of each sample beside the truth's (Hasler and Suesstrunk), and the grey baseline.

All numbers are means over images; UV in BT.601 units, as the report measures them. `evaluate`
gives every figure of issue 12's report for one model (used by benchmarks/diversity.py and the
`reproduce` report's 128 px Figure 5.6), `checks` says which of the issue's targets it meets.
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


# Issue 12's targets (Imagenette val, temperature 1, eight samples per image).
TARGETS = {"spread": 0.04, "best_over_single": 0.8, "colourfulness_ratio": 0.6}


def checks(m: dict) -> dict:
    """Which of issue 12's targets the figures `m` (of `evaluate`) meet: {target text: bool}."""
    return {"spread >= 0.04": m["spread"] >= TARGETS["spread"],
            "best <= 0.8 x single": m["best_uv_mse"] <= TARGETS["best_over_single"] * m["single_uv_mse"],
            "best < grey": m["best_uv_mse"] < m["grey_uv_mse"],
            "colourfulness >= 0.6 x truth": m["colourfulness_ratio"] >= TARGETS["colourfulness_ratio"]}


def evaluate(model, true_rgb: np.ndarray, samples: int = 8, temperature: float = 1.0, seed: int = 0,
             curve=(), curve_limit: int = 100, batch: int = 50) -> tuple[dict, np.ndarray, np.ndarray]:
    """Every diversity figure of one model on held-out images.

    Args:
        true_rgb: (N, R, R, 3) at the model's resolution.
        curve: temperatures of the spread / best-of-S curve, on the first `curve_limit` images.
        batch: images sampled at once (bounds the memory: S x batch decoded images).
    Returns:
        (figures, samples (S, N, R, R, 3), mean decoding (N, R, R, 3)): figures are `measure`'s plus
        "mean_uv_mse" (temperature 0), "best_over_single", "checks" (`checks`), "curve" (a list of
        `measure` dicts with "temperature", without best_index).
    """
    drawn = np.concatenate([sample_rgb(model, true_rgb[i:i + batch], samples, temperature, seed)
                            for i in range(0, len(true_rgb), batch)], axis=1)  # (S, N, R, R, 3)
    m = measure(drawn, true_rgb)
    mean_rgb = sample_rgb(model, true_rgb, 1, 0.0, seed)[0]  # one draw: with an MDN, its mode is chosen by weight
    m["mean_uv_mse"] = metrics.uv_mse(mean_rgb, true_rgb)
    m["best_over_single"] = m["best_uv_mse"] / m["single_uv_mse"] if m["single_uv_mse"] > 0 else float("nan")
    m["checks"] = checks(m)
    points = temperature_curve(model, true_rgb[:curve_limit], curve, samples, seed) if len(curve) else []
    for point in points:
        point.pop("best_index")
    m["curve"] = points
    return m, drawn, mean_rgb
