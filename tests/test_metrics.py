"""Tests of colourise_core.metrics with exact values on small hand-made images."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from colourise_core import metrics
from colourise_core.colour import rgb_to_y, rgb_to_yuv, yuv_to_rgb
from colourise_core.metrics import (
    best_of_n_uv_mse,
    colourfulness,
    colourfulness_gap,
    evaluate_batch,
    grey_baseline,
    mean_pairwise_distance,
    psnr,
    ssim,
    uv_error_cdf,
    uv_error_cdf_auc,
    uv_mse,
    within_threshold,
)

GREY = np.full((8, 8, 3), 0.5, np.float32)


def shifted(u: float, v: float = 0.0, base: np.ndarray = GREY) -> np.ndarray:
    """`base` with U and V raised by (u, v): (H, W, 3) float32."""
    yuv = rgb_to_yuv(base) + np.array([0.0, u, v], np.float32)
    return yuv_to_rgb(yuv)


def random_image(seed: int, shape=(16, 16, 3)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(np.float32)


# ----------------------------------------------------------------------------- colourfulness


def test_grey_image_has_zero_colourfulness():
    grey = np.repeat(random_image(0, (5, 7, 1)), 3, axis=-1)
    assert colourfulness(grey) == 0.0


def test_two_pixel_colourfulness_by_hand():
    # red and blue: rg = [255, 0], yb = [127.5, -255]; stds 127.5 and 191.25,
    # means 127.5 and -63.75.
    image = np.array([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    expected = math.sqrt(127.5**2 + 191.25**2) + 0.3 * math.sqrt(127.5**2 + 63.75**2)
    assert colourfulness(image) == pytest.approx(expected, rel=1e-12)
    assert colourfulness_gap(image, np.zeros_like(image)) == pytest.approx(expected, rel=1e-12)


def test_colourfulness_batch_is_the_mean_of_images():
    pair = np.stack([random_image(1), random_image(2)])
    assert colourfulness(pair) == pytest.approx(
        (colourfulness(pair[0]) + colourfulness(pair[1])) / 2, rel=1e-12
    )


# ----------------------------------------------------------------------------- identical images


def test_identical_images_are_perfect():
    image = random_image(3)
    assert psnr(image, image) == 100.0
    assert psnr(image, image, cap=60.0) == 60.0
    assert ssim(image, image) == 1.0
    assert uv_mse(image, image) == 0.0
    assert uv_error_cdf_auc(image, image) == 1.0
    assert within_threshold(image, image) == 1.0


# ----------------------------------------------------------------------------- known UV errors


def test_constant_u_error_of_ten_levels():
    pred = shifted(10 / 255)  # every pixel off by exactly 10/255 in U
    assert uv_mse(pred, GREY) == pytest.approx((10 / 255) ** 2 / 2, rel=1e-5)
    assert within_threshold(pred, GREY, 5.0) == 0.0
    assert within_threshold(pred, GREY, 9.9) == 0.0
    assert within_threshold(pred, GREY, 10.0) == 1.0
    thresholds, fractions = uv_error_cdf(pred, GREY)
    np.testing.assert_array_equal(thresholds, np.arange(151))
    np.testing.assert_array_equal(fractions, (np.arange(151) >= 10).astype(float))
    assert uv_error_cdf_auc(pred, GREY) == 141 / 151


def test_uv_error_is_the_l2_norm_of_u_and_v():
    pred = shifted(3 / 255, 4 / 255)  # |(3, 4)| = 5 levels
    assert within_threshold(pred, GREY, 5.0) == 1.0
    assert within_threshold(pred, GREY, 4.9) == 0.0
    assert uv_error_cdf_auc(pred, GREY, max_threshold=9) == 5 / 10


def test_half_the_pixels_wrong():
    pred = GREY.copy()
    pred[:4] = shifted(20 / 255)[:4]  # top half off by 20 levels
    assert within_threshold(pred, GREY) == 0.5
    assert uv_mse(pred, GREY) == pytest.approx((20 / 255) ** 2 / 4, rel=1e-5)
    assert uv_error_cdf_auc(pred, GREY) == pytest.approx((20 * 0.5 + 131) / 151, rel=1e-12)


# ----------------------------------------------------------------------------- psnr, ssim


def test_psnr_of_a_known_mse():
    true = np.full((4, 4, 3), 0.5)
    pred = true + 0.1  # MSE 0.01 -> 20 dB
    assert psnr(pred, true) == pytest.approx(20.0, rel=1e-9)
    assert psnr(pred * 255, true * 255, data_range=255.0) == pytest.approx(20.0, rel=1e-9)
    batch_pred, batch_true = np.stack([pred, true]), np.stack([true, true])
    assert psnr(batch_pred, batch_true) == pytest.approx((20.0 + 100.0) / 2, rel=1e-9)


def test_ssim_matches_scikit_image():
    pred, true = random_image(4).astype(np.float64), random_image(5).astype(np.float64)
    expected = structural_similarity(
        pred, true, channel_axis=-1, data_range=1.0, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False,
    )
    assert ssim(pred, true) == pytest.approx(expected, rel=1e-12)
    second = ssim(true, pred * 0.5)
    assert ssim(np.stack([pred, true]), np.stack([true, pred * 0.5])) == pytest.approx(
        (expected + second) / 2, rel=1e-12
    )


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 5, 3), (6, 6, 3), (10, 40, 3)])
def test_ssim_of_small_images(shape):
    pred, true = random_image(6, shape), random_image(7, shape)
    assert ssim(true, true) == pytest.approx(1.0, abs=1e-12)
    assert -1.0 <= ssim(pred, true) < 1.0


def test_ssim_small_image_fallback_is_a_smaller_crop():
    pred = random_image(8, (10, 10, 3)).astype(np.float64)
    true = random_image(9, (10, 10, 3)).astype(np.float64)
    expected = structural_similarity(
        pred, true, channel_axis=-1, data_range=1.0, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, win_size=9,
    )
    assert ssim(pred, true) == pytest.approx(expected, rel=1e-12)


# ----------------------------------------------------------------------------- samples


def test_best_of_n_picks_the_minimum():
    samples = np.stack([shifted(20 / 255), shifted(10 / 255), shifted(30 / 255)])  # (S, H, W, 3)
    assert best_of_n_uv_mse(samples, GREY) == pytest.approx(uv_mse(samples[1], GREY), rel=1e-12)
    other = random_image(10, GREY.shape)
    batch = np.stack(  # (S=2, N=2, H, W, 3): image 0 best in sample 0, image 1 in sample 1
        [np.stack([GREY, random_image(11, GREY.shape)]), np.stack([shifted(0.1), other])]
    )
    truth = np.stack([GREY, other])
    assert best_of_n_uv_mse(batch, truth) == pytest.approx(0.0, abs=1e-12)


def test_mean_pairwise_distance():
    d = 0.1
    a, b = GREY, shifted(d)  # differ by d in U and 0 in V: RMS over U and V = d / sqrt(2)
    assert mean_pairwise_distance(np.stack([a, a, a])) == 0.0
    assert mean_pairwise_distance(np.stack([a, b])) == pytest.approx(d / math.sqrt(2), rel=1e-5)
    # pairs (a, a), (a, b), (a, b)
    assert mean_pairwise_distance(np.stack([a, a, b])) == pytest.approx(
        2 / 3 * d / math.sqrt(2), rel=1e-5
    )
    with pytest.raises(ValueError, match="at least 2"):
        mean_pairwise_distance(a[None])


# ----------------------------------------------------------------------------- baseline, batch


def test_grey_baseline_keeps_luma_and_drops_chroma():
    image = random_image(12, (3, 4, 3))
    grey = grey_baseline(image)
    assert grey.shape == image.shape and grey.dtype == np.float32
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])
    np.testing.assert_array_equal(grey[..., :1], rgb_to_y(image))
    np.testing.assert_allclose(rgb_to_yuv(grey)[..., 1:], 0.0, atol=1e-7)
    assert colourfulness(grey) == 0.0


def test_evaluate_batch():
    true = np.stack([random_image(13), random_image(14)])
    pred = grey_baseline(true)
    result = evaluate_batch(pred, true)
    assert set(result) == {
        "uv_mse", "psnr", "ssim", "colourfulness", "colourfulness_gap", "auc", "within_5"
    }
    assert all(type(value) is float for value in result.values())
    assert result["uv_mse"] == uv_mse(pred, true)
    assert result["colourfulness"] == 0.0
    assert result["colourfulness_gap"] == -colourfulness(true)
    assert 0.0 < result["auc"] < 1.0 and 0.0 <= result["within_5"] < 1.0


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="differ in shape"):
        uv_mse(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        psnr(np.zeros((4, 4)), np.zeros((4, 4)))


@pytest.mark.parametrize("rows", [1, 7, 40])
def test_banded_scores_equal_the_whole_image_functions(rows):
    """Full-size photos are scored band by band (issue 11: no full-size float copies); the figures
    are the whole-image ones."""
    rng = np.random.default_rng(5)
    true = rng.uniform(0, 1, (40, 30, 3))
    pred = np.clip(true + rng.normal(0, 0.1, true.shape), 0, 1)
    got = metrics.banded_scores((pred[r:r + rows], true[r:r + rows]) for r in range(0, 40, rows))
    assert got["psnr"] == pytest.approx(metrics.psnr(pred, true), rel=1e-9)
    assert got["uv_mse"] == pytest.approx(metrics.uv_mse(pred, true), rel=1e-9)
    assert got["colourfulness"] == pytest.approx(metrics.colourfulness(pred), rel=1e-9)
    same = metrics.banded_scores([(true, true)])
    assert same["psnr"] == 100.0 and same["uv_mse"] == 0.0
    grey = np.repeat(true.mean(axis=-1, keepdims=True), 3, axis=-1)
    assert metrics.banded_scores([(grey, true)])["colourfulness"] == pytest.approx(0.0, abs=1e-6)


def _image_pair(seed: int = 0):
    """A random colour truth and a prediction with its luma (UV scaled and noised)."""
    rng = np.random.default_rng(seed)
    yuv = np.concatenate([rng.uniform(0.3, 0.7, (2, 6, 5, 1)), rng.uniform(-0.1, 0.1, (2, 6, 5, 2))], -1)
    true = yuv_to_rgb(yuv)
    pred = yuv_to_rgb(np.concatenate([yuv[..., :1], 0.5 * yuv[..., 1:] + rng.uniform(-0.02, 0.02, (2, 6, 5, 2))], -1))
    return pred, true


def test_colour_energy_gives_the_pooled_squared_errors():
    pred, true = _image_pair()
    tt, pp, pt = metrics.colour_energy(pred, true)
    # |c_p - c_t|^2 pooled is the RGB squared error (the luma is shared); grey's is |c_t|^2.
    assert tt + pp - 2 * pt == pytest.approx(np.sum((pred - true) ** 2), rel=1e-6)  # float32 images
    assert tt == pytest.approx(np.sum((metrics.grey_baseline(true) - true) ** 2), rel=1e-6)
    halves = metrics.colour_energy(pred[:1], true[:1]) + metrics.colour_energy(pred[1:], true[1:])
    np.testing.assert_allclose(halves, [tt, pp, pt], rtol=1e-12)
    assert metrics.colour_energy(true, true)[1] == pytest.approx(tt)


def test_colour_budget_by_hand():
    # tt 1, pp 0.5476 (k = 0.74), pt 0.3: MSE ratio 1 + 0.5476 - 0.6; rho^2 = 0.09 / 0.5476;
    # 0.5 dB above grey at k = 0.74 needs sqrt(r*) >= (1 + 0.5476 - 10^-0.05) / 1.48.
    b = metrics.colour_budget([1.0, 0.5476, 0.3], db=0.5)
    assert b["mse_over_grey"] == pytest.approx(0.9476)
    assert b["energy_ratio"] == pytest.approx(0.74)
    assert b["rho2"] == pytest.approx(0.09 / 0.5476)
    assert b["needed_r"] == pytest.approx(((1.5476 - 10 ** -0.05) / 1.48) ** 2)
    assert b["needed_r"] == pytest.approx(0.19667, abs=1e-5)
    # Its own colour (k = 0.74, rho = 0.3 / 0.74): pooled MSE ratio 0.9476 -> 0.2335 dB above grey.
    assert b["rescaled_db"] == pytest.approx(-10 * math.log10(0.9476))
    # Rescaled to paint the truth's whole colour: 1 + 1 - 2 rho.
    assert metrics.colour_budget([1.0, 0.5476, 0.3], colour_ratio=1.0)["rescaled_db"] == pytest.approx(
        -10 * math.log10(2 - 2 * 0.3 / 0.74))
    # Asking for the truth's whole colour at 0 dB needs a quarter of it determined by the grey.
    assert metrics.colour_budget([2.0, 1.0, 1.0], db=0.0, colour_ratio=1.0)["needed_r"] == pytest.approx(0.25)
    grey = metrics.colour_budget([2.0, 0.0, 0.0])
    assert grey["mse_over_grey"] == 1.0 and grey["rho2"] is None and grey["needed_r"] is None
    assert grey["rescaled_db"] is None


def test_colour_budget_bound_is_reached_by_a_scaled_truth():
    # A prediction k * c_t (r* = 1 known): MSE ratio (1 - k)^2 exactly, the Cauchy-Schwarz bound.
    pred, true = _image_pair(1)
    y = rgb_to_y(true)
    for k in (0.3, 0.74, 1.0):  # k = 1: the truth itself, 100 dB (capped as psnr)
        sums = metrics.colour_energy(y + k * (true - y), true)
        b = metrics.colour_budget(sums)
        assert b["rho2"] == pytest.approx(1.0)
        assert b["energy_ratio"] == pytest.approx(k)
        assert b["mse_over_grey"] == pytest.approx((1 - k) ** 2, abs=1e-6)
        assert 1 + k * k - 2 * k * math.sqrt(b["rho2"]) == pytest.approx(b["mse_over_grey"], abs=1e-6)
        assert b["rescaled_db"] == pytest.approx(min(100.0, -20 * math.log10(1 - k)) if k < 1 else 100.0, rel=1e-4)
