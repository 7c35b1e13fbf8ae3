"""colourise_core.diversity: the figures of issue 12's report (Figure 5.6 at 128 px), exact on built samples."""

from __future__ import annotations

import numpy as np
import pytest

from colourise_core import colour, diversity, metrics


def _image(u: float, v: float, y: float = 0.5, size: int = 4) -> np.ndarray:
    """A flat RGB image (size, size, 3) of luma y and chroma (u, v), inside the gamut."""
    yuv = np.zeros((size, size, 3))
    yuv[..., 0], yuv[..., 1], yuv[..., 2] = y, u, v
    return colour.yuv_to_rgb(yuv)


def test_measure_exact_on_a_truth_and_a_grey_sample():
    truth = np.stack([_image(0.1, -0.05), _image(-0.08, 0.02)])  # (N=2, 4, 4, 3)
    grey = np.stack([metrics.grey_baseline(t) for t in truth])
    samples = np.stack([truth, grey])  # (S=2, N, ...): one sample is the truth, one is grey
    m = diversity.measure(samples, truth)
    uv_sq = np.array([(0.1**2 + 0.05**2) / 2, (0.08**2 + 0.02**2) / 2])  # each image's mean squared UV
    assert m["grey_uv_mse"] == pytest.approx(uv_sq.mean(), rel=1e-6)
    assert m["best_uv_mse"] == pytest.approx(0.0, abs=1e-12)  # the truth itself is among the samples
    assert m["best_index"] == [0, 0]
    assert m["single_uv_mse"] == pytest.approx(uv_sq.mean() / 2, rel=1e-6)  # (0 + grey) / 2
    assert m["average_uv_mse"] == pytest.approx(uv_sq.mean() / 4, rel=1e-6)  # half the chroma: a quarter of the error
    assert m["spread"] == pytest.approx(np.sqrt(uv_sq).mean(), rel=1e-6)  # the RMS distance truth - grey
    assert m["colourfulness"] == pytest.approx(m["truth_colourfulness"] / 2, rel=1e-6)  # grey adds 0
    assert m["colourfulness_ratio"] == pytest.approx(0.5, rel=1e-6)


@pytest.mark.parametrize("field, value, target", [
    ("spread", 0.0399, "spread >= 0.04"), ("single_uv_mse", 0.0099, "best <= 0.8 x single"),
    ("grey_uv_mse", 0.004, "best < grey"), ("colourfulness_ratio", 0.59, "colourfulness >= 0.6 x truth")])
def test_checks_fail_just_past_each_target(field, value, target):
    m = {"spread": 0.04, "best_uv_mse": 0.008, "single_uv_mse": 0.01, "grey_uv_mse": 0.0081, "colourfulness_ratio": 0.6}
    assert all(diversity.checks(m).values())  # exactly at each target: met
    checks = diversity.checks({**m, field: value})
    assert [k for k, ok in checks.items() if not ok] == [target]


def test_evaluate_gives_measure_of_the_models_own_samples():
    from colourise_core import models

    net = models.build_model("cvae", 32, latent_dim=4)  # untrained: its samples still differ
    rng = np.random.default_rng(0)
    true = np.clip(rng.random((5, 32, 32, 3)), 0, 1)
    m, drawn, mean = diversity.evaluate(net, true, samples=3, temperature=1.0, seed=7, curve=(0.0, 1.0), curve_limit=2,
                                        batch=2)
    assert drawn.shape == (3, 5, 32, 32, 3) and mean.shape == (5, 32, 32, 3)
    again = diversity.sample_rgb(net, true[:2], 3, 1.0, 7)  # batches of 2 draw with the same seed
    np.testing.assert_array_equal(drawn[:, :2], again)
    direct = diversity.measure(drawn, true)
    assert {k: m[k] for k in direct} == direct
    assert m["mean_uv_mse"] == pytest.approx(metrics.uv_mse(mean, true))
    assert m["best_over_single"] == pytest.approx(m["best_uv_mse"] / m["single_uv_mse"])
    assert m["checks"] == diversity.checks(m)
    assert [c["temperature"] for c in m["curve"]] == [0.0, 1.0] and "best_index" not in m["curve"][0]
    assert m["curve"][0]["spread"] == 0.0  # temperature 0: the mean, every sample alike
    assert m["curve"][1]["spread"] == pytest.approx(diversity.measure(again, true[:2])["spread"])
