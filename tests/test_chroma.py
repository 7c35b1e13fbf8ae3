"""Exact tests of the chroma-class maths (models/chroma.py) and of the unet's simulated hints."""

import keras
import numpy as np
import pytest

from colourise_core import colour
from colourise_core.models import chroma


@pytest.fixture(scope="module")
def centres():
    return chroma.uv_bins(0.05)


def test_bins_are_the_in_gamut_cells_of_the_grid(centres):
    assert 250 <= len(centres) <= 350  # ECCV16 keeps 313 ab cells; the UV grid of 0.05 keeps 300
    # every kept cell holds the chroma of some RGB colour: within half a step of a centre
    rgb = np.random.default_rng(0).random((20000, 3))
    uv_all = colour.rgb_to_yuv(rgb)[:, 1:]
    d = np.abs(uv_all[:, None] - centres[None]).max(-1).min(-1)  # Chebyshev distance to the nearest centre
    assert d.max() <= 0.025 + 1e-6
    used = np.unique(chroma.nearest_bin(uv_all, centres))
    assert len(used) > 0.8 * len(centres)  # ...and most cells are reached by random colours
    # ...and the chroma of pure red, green, blue and grey falls in a kept cell within half a step
    for c in ([1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]):
        uv = colour.rgb_to_yuv(np.array([[c]], float))[0, 0, 1:]
        assert np.abs(centres - uv).max(axis=1).min() <= 0.025 + 1e-6
    far = np.array([colour.U_MAX, -colour.V_MAX])  # no RGB colour has both extremes
    assert np.abs(centres - far).max(axis=1).min() > 0.05


@pytest.mark.parametrize("t", [1.0, 0.38, 0.1, 1e-3, 0.0])
def test_one_hot_decodes_to_its_bin_centre_at_any_temperature(centres, t):
    p = np.zeros((3, len(centres)))
    picks = [0, 17, len(centres) - 1]
    p[np.arange(3), picks] = 1.0
    uv = chroma.annealed_mean(chroma.probabilities_to_log(p), centres, t)
    np.testing.assert_allclose(uv, centres[picks], rtol=0, atol=1e-7)


def test_two_bins_at_temperature_one_decode_to_the_weighted_mean(centres):
    p = np.zeros(len(centres))
    p[5], p[200] = 0.3, 0.7
    uv = chroma.annealed_mean(chroma.probabilities_to_log(p), centres, 1.0)
    np.testing.assert_allclose(uv, 0.3 * centres[5] + 0.7 * centres[200], atol=1e-7)
    # a lower temperature moves it towards the likelier bin: softmax(log p / T) exactly
    uv_half = chroma.annealed_mean(chroma.probabilities_to_log(p), centres, 0.5)
    a, b = 0.3**2, 0.7**2
    np.testing.assert_allclose(uv_half, (a * centres[5] + b * centres[200]) / (a + b), atol=1e-7)


def test_uniform_prior_gives_uniform_weights():
    for lam in (0.0, 0.5, 1.0):
        np.testing.assert_allclose(chroma.rebalance_weights(np.full(300, 1 / 300), lam), 1.0, atol=1e-12)
        w = keras.ops.convert_to_numpy(chroma.rebalance_weights_ops(keras.ops.convert_to_tensor(np.full(300, 1 / 300, "float32")), lam))
        np.testing.assert_allclose(w, 1.0, atol=1e-5)


def test_rebalancing_weights_follow_eccv16_eq4():
    prior = np.array([0.7, 0.2, 0.1, 0.0])
    w = chroma.rebalance_weights(prior, 0.5)
    raw = 1 / (0.5 * prior + 0.5 / 4)  # (1 - lambda) p + lambda / Q, inverted
    np.testing.assert_allclose(w, raw / (prior * raw).sum())
    assert (prior * w).sum() == pytest.approx(1.0)
    assert w[3] > w[2] > w[1] > w[0]  # rarer colours weigh more
    np.testing.assert_allclose(chroma.rebalance_weights(prior, 1.0), 1.0)  # lambda 1: off
    ops_w = keras.ops.convert_to_numpy(chroma.rebalance_weights_ops(keras.ops.convert_to_tensor(prior.astype("float32")), 0.5))
    np.testing.assert_allclose(ops_w, w, rtol=1e-5)


def test_smoothed_prior_keeps_mass_and_spreads_to_neighbours(centres):
    counts = np.zeros(len(centres))
    counts[100] = 50
    p = chroma.smooth_prior(counts, centres, sigma=0.025)
    assert p.sum() == pytest.approx(1.0) and p.argmax() == 100
    near = np.argsort(((centres - centres[100]) ** 2).sum(1))[1]
    assert p[near] > 0 and p[near] < p[100]
    np.testing.assert_allclose(chroma.smooth_prior(counts, centres, sigma=0), np.eye(len(centres))[100])


def test_soft_encoding_puts_gaussian_mass_on_the_five_nearest_bins(centres):
    grid = chroma.BinGrid(0.05)
    np.testing.assert_array_equal(grid.centres, centres)
    rng = np.random.default_rng(0)
    rgb = rng.random((500, 3))
    uv = np.concatenate([colour.rgb_to_yuv(rgb)[:, 1:], centres[[42]], [[0.013, -0.021]]]).astype("float32")
    z = grid.soft_encode(uv, sigma=0.025, k=5)  # (n, Q)
    np.testing.assert_allclose(z.sum(-1), 1.0, rtol=1e-5)
    d2 = ((centres[None] - uv[:, None]) ** 2).sum(-1)  # brute force over every bin
    for i in range(len(uv)):
        nearest = np.argsort(d2[i], kind="stable")[:5]
        assert set(np.flatnonzero(z[i])) == set(nearest), i
        g = np.exp(-d2[i, nearest] / (2 * 0.025**2))
        np.testing.assert_allclose(z[i, nearest], g / g.sum(), rtol=1e-4)
    assert z[500].argmax() == 42  # a bin centre's target peaks on its own bin
    idx, w = grid.soft_encode_sparse(uv, 0.025)
    np.testing.assert_array_equal(idx[:, 0], d2.argmin(-1))  # nearest first


def test_sparse_cross_entropy_equals_the_dense_one(centres):
    grid = chroma.BinGrid(0.05)
    rng = np.random.default_rng(1)
    uv = colour.rgb_to_yuv(rng.random((6, 3)))[:, 1:]
    logits = rng.normal(size=(6, len(centres))).astype("float32")
    idx, w = grid.soft_encode_sparse(uv, 0.025)
    dense = grid.soft_encode(uv, 0.025)
    log_p = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(-1, keepdims=True)
    expected = -(dense * log_p).sum(-1)
    got = keras.ops.convert_to_numpy(chroma.sparse_cross_entropy(logits, idx, w))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_nearest_bin(centres):
    idx = chroma.nearest_bin(centres[[3, 99, 250]] + 0.001, centres)
    assert list(idx) == [3, 99, 250]


def test_simulated_hints_take_the_patch_mean_on_the_marked_pixels():
    from colourise_core.models import unet

    rng = np.random.default_rng(3)
    uv = rng.uniform(-0.3, 0.3, (64, 16, 16, 2)).astype("float32")
    config = unet.UNetConfig(hint_none=0.5, hint_p=0.5, hint_patch=1)
    hint, mask = unet.simulate_hints(uv, np.random.default_rng(0), config)
    assert set(np.unique(mask)) == {0.0, 1.0}
    counts = mask.reshape(64, -1).sum(1)
    assert 10 < (counts == 0).sum() < 54  # about half the images get none
    on = mask[..., 0] == 1
    np.testing.assert_array_equal(hint[on], uv[on])  # 1-pixel hints: the true colour, exactly there
    assert not hint[~on].any()
    # wider patches: every marked pixel holds the mean of a square of the truth containing it
    config = unet.UNetConfig(hint_none=0.0, hint_p=1.0, hint_patch=3)  # exactly one hint each
    hint, mask = unet.simulate_hints(uv, np.random.default_rng(1), config)
    for i in range(8):
        rows, cols = np.nonzero(mask[i, ..., 0])
        r0, c0, s = rows.min(), cols.min(), rows.max() - rows.min() + 1
        assert cols.max() - c0 + 1 == s and len(rows) == s * s
        mean = uv[i, r0:r0 + s, c0:c0 + s].reshape(-1, 2).mean(0)
        np.testing.assert_allclose(hint[i, rows, cols], np.broadcast_to(mean, (len(rows), 2)), atol=1e-6)
