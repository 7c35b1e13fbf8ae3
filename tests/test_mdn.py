"""The CVAE's options of issue 12: MDN conditional encoder, colour-aware losses, free bits, annealing.

Exact values where the maths allows: a hand-built mixture's NLL, the component choice by inverse
CDF, a one-component MDN against the dissertation's single-Gaussian sampling.
"""

import json
import math

import keras
import numpy as np
import pytest

from colourise_core import colour, models, training
from colourise_core.data import pipeline
from colourise_core.models import chroma_loss, cvae, mdn

ops = keras.ops


def _np(x):
    return ops.convert_to_numpy(x)


def _gauss(x, mean, var):
    return math.exp(-((x - mean) ** 2) / (2 * var)) / math.sqrt(2 * math.pi * var)


# ---- the mixture's NLL --------------------------------------------------------------------------

def test_nll_exact_on_a_hand_built_mixture():
    # Two 1-d components: weight 1/4 on N(0, 1), 3/4 on N(2, 4); z = 0.
    logits = np.log([[0.25, 0.75]])
    means = np.array([[[0.0], [2.0]]])
    logvars = np.log(np.array([[[1.0], [4.0]]]))
    expected = -math.log(0.25 * _gauss(0, 0, 1) + 0.75 * _gauss(0, 2, 4))  # = 1.3718...
    got = _np(mdn.mixture_nll(np.array([[0.0]]), logits, means, logvars))
    np.testing.assert_allclose(got, [expected], rtol=1e-6)
    # Two dimensions of one component: the log densities add.
    got2 = _np(mdn.mixture_nll(np.array([[1.0, -1.0]]), np.zeros((1, 1)), np.zeros((1, 1, 2)), np.zeros((1, 1, 2))))
    np.testing.assert_allclose(got2, [-2 * math.log(_gauss(1, 0, 1))], rtol=1e-6)


def test_nll_is_stable_far_from_every_component():
    # log N of z = 100 under N(0, 1): -(log 2 pi + 10^4) / 2; no underflow to -inf.
    got = _np(mdn.mixture_nll(np.array([[100.0]]), np.zeros((1, 2)), np.zeros((1, 2, 1)), np.zeros((1, 2, 1))))
    np.testing.assert_allclose(got, [0.5 * (math.log(2 * math.pi) + 1e4)], rtol=1e-6)


# ---- sampling -----------------------------------------------------------------------------------

def test_component_choice_is_the_inverse_cdf():
    weights = np.array([[0.2, 0.5, 0.3]])
    u = np.array([[0.0], [0.19], [0.2], [0.69], [0.7], [0.999]])
    assert mdn.choose_components(weights, u).ravel().tolist() == [0, 0, 1, 1, 2, 2]


def test_component_frequencies_respect_the_weights():
    # 40,000 draws; the binomial standard error is <= 0.0025, the tolerance 0.01 is 4 of them.
    weights = np.array([0.1, 0.6, 0.3])
    means = (np.arange(3, dtype="float32") * 10.0)[None, :, None]  # (1, 3, 1): component k at 10 k
    z = mdn.sample_latent(np.log(weights)[None], means, np.zeros((1, 3, 1)), n=40_000, temperature=0.0, seed=3)
    picked = np.rint(z[:, 0, 0] / 10).astype(int)
    np.testing.assert_allclose(np.bincount(picked, minlength=3) / len(picked), weights, atol=0.01)


def test_temperature_zero_gives_the_chosen_components_mean():
    rng = np.random.default_rng(0)
    means, logvars = rng.normal(size=(2, 4, 5)).astype("float32"), rng.normal(size=(2, 4, 5)).astype("float32")
    z = mdn.sample_latent(rng.normal(size=(2, 4)), means, logvars, n=3, temperature=0.0, seed=1, component=2)
    np.testing.assert_array_equal(z, np.broadcast_to(means[:, 2], (3, 2, 5)))
    # temperature t: z - mean is t times the component's std times the same noise
    z1 = mdn.sample_latent(np.zeros((2, 4)), means, logvars, n=3, temperature=1.0, seed=1, component=2)
    z2 = mdn.sample_latent(np.zeros((2, 4)), means, logvars, n=3, temperature=2.0, seed=1, component=2)
    np.testing.assert_allclose(z2 - means[:, 2], 2 * (z1 - means[:, 2]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="component 4 out of range"):
        mdn.sample_latent(np.zeros((2, 4)), means, logvars, n=1, temperature=1.0, seed=0, component=4)


def _mdn_pair(latent=8):
    """A dissertation CVAE and a 1-component MDN CVAE with the same weights."""
    plain = models.build_model("cvae", 32, latent_dim=latent)
    one = models.build_model("cvae", 32, latent_dim=latent, mdn_components=1)
    one.train_encoder.set_weights(plain.train_encoder.get_weights())
    one.decoder.set_weights(plain.decoder.get_weights())
    for layer in plain.cond_encoder.layers:
        if layer.weights:  # conv, dense, mu and logvar (the MDN's (512, 1 * L) heads have the same shapes)
            one.cond_encoder.get_layer(layer.name).set_weights(layer.get_weights())
    return plain, one


def test_one_component_mixture_samples_exactly_like_the_plain_cvae():
    plain, one = _mdn_pair()
    y = np.random.default_rng(0).random((3, 32, 32, 1), dtype=np.float32)
    for t in (0.0, 0.7, 1.0):
        np.testing.assert_array_equal(one.sample_uv(y, n=4, temperature=t, seed=11), plain.sample_uv(y, n=4, temperature=t, seed=11))
    np.testing.assert_array_equal(_np(one(y)), _np(plain(y)))
    np.testing.assert_array_equal(one.mixture_weights(y), np.ones((3, 1), "float32"))


def test_model_temperature_zero_decodes_the_chosen_components_mean():
    model = models.build_model("cvae", 32, latent_dim=6, mdn_components=3)
    y = np.random.default_rng(1).random((2, 32, 32, 1), dtype=np.float32)
    logits, means, _ = model.mixture(y)
    for k in range(3):
        got = model.sample_uv(y, n=2, temperature=0.0, seed=5, component=k)
        want = np.asarray(model.decoder.predict_on_batch([means[:, k], y]))[..., 1:]
        np.testing.assert_allclose(got, np.broadcast_to(want, got.shape), atol=1e-6)
    # model(y): the heaviest component's mean
    top = np.argmax(logits, axis=-1)
    want = np.asarray(model.decoder.predict_on_batch([means[np.arange(2), top], y]))[..., 1:]
    np.testing.assert_allclose(_np(model(y)), want, atol=1e-6)


def test_seeded_sampling_is_reproducible():
    model = models.build_model("cvae", 32, latent_dim=6, mdn_components=4)
    y = np.random.default_rng(2).random((2, 32, 32, 1), dtype=np.float32)
    a = model.sample_uv(y, n=5, temperature=1.0, seed=7)
    np.testing.assert_array_equal(a, model.sample_uv(y, n=5, temperature=1.0, seed=7))
    assert np.abs(a - model.sample_uv(y, n=5, temperature=1.0, seed=8)).max() > 1e-4
    with pytest.raises(ValueError, match="one Gaussian"):
        models.build_model("cvae", 32, latent_dim=6).sample_uv(y, component=1)


# ---- losses -------------------------------------------------------------------------------------

def test_mdn_loss_is_recon_plus_standard_normal_kl_plus_nll():
    model = models.build_model("cvae", 32, latent_dim=2, mdn_components=2, recon_weight=10.0, mdn_weight=0.5)
    target = np.full((1, 32, 32, 3), 0.5, "float32")
    pred = np.zeros((1, 32, 32, 3), "float32")
    mu_p, lv_p = np.array([[1.0, 0.0]], "float32"), np.zeros((1, 2), "float32")  # KL to N(0, I): 1/2
    z = np.zeros((1, 2), "float32")
    logits, means, lvs = np.zeros((1, 2), "float32"), np.zeros((1, 2, 2), "float32"), np.zeros((1, 2, 2), "float32")
    loss = _np(model.compute_loss(x=target, y=target, y_pred=(pred, mu_p, lv_p, z, logits, means, lvs)))
    nll = math.log(2 * math.pi)  # two dims of N(0, 1) at 0, both components alike
    assert loss == pytest.approx(10.0 * 0.25 + 0.5 + 0.5 * nll, rel=1e-6)
    assert float(model.nll_tracker.result()) == pytest.approx(nll, rel=1e-6)


def test_nll_gradient_does_not_reach_the_training_code():
    z = keras.Variable(np.array([[0.3, -0.2]], "float32"))
    import tensorflow as tf

    with tf.GradientTape() as tape:
        zeros = lambda *shape: np.zeros(shape, "float32")  # noqa: E731
        nll = ops.sum(mdn.mixture_nll(ops.stop_gradient(z.value), zeros(1, 1), zeros(1, 1, 2), zeros(1, 1, 2)))
    assert tape.gradient(nll, z.value) is None


def test_free_bits_and_annealing():
    kl = np.array([[0.1, 2.0], [0.3, 1.0]], "float32")  # batch means 0.2, 1.5
    assert float(_np(mdn.free_bits_kl(kl, 0.5))) == pytest.approx(0.5 + 1.5)
    assert float(_np(mdn.free_bits_kl(kl, 0.0))) == pytest.approx(1.7)
    assert float(_np(mdn.kl_anneal_factor(25, 100))) == pytest.approx(0.25)
    assert float(_np(mdn.kl_anneal_factor(250, 100))) == 1.0
    assert mdn.kl_anneal_factor(5, 0) == 1.0


def test_rarity_weights_uniform_prior_gives_ones_and_rare_colours_weigh_more():
    np.testing.assert_allclose(chroma_loss.rarity_weights(np.ones((8, 8)), mix=0.5, sigma=0), 1.0, rtol=1e-6)
    counts = np.zeros((4, 4))
    counts[1, 1], counts[2, 3] = 90, 10  # p = 0.9 and 0.1; lambda 1/2, Q 16
    w = chroma_loss.rarity_weights(counts, mix=0.5, sigma=0)
    raw = lambda p: 1 / (0.5 * p + 0.5 / 16)  # noqa: E731
    norm = 0.9 * raw(0.9) + 0.1 * raw(0.1)
    assert w[1, 1] == pytest.approx(raw(0.9) / norm, rel=1e-6) and w[2, 3] == pytest.approx(raw(0.1) / norm, rel=1e-6)
    assert 0.9 * w[1, 1] + 0.1 * w[2, 3] == pytest.approx(1.0, rel=1e-6)  # the expected weight is 1


def test_pixel_weights_look_up_the_bin_of_each_pixel():
    grid = np.arange(16, dtype="float32").reshape(4, 4)
    uv = np.array([[[[-colour.U_MAX, -colour.V_MAX], [0.01, 0.01], [colour.U_MAX, colour.V_MAX], [-0.01, 0.2]]]], "float32")
    # bins: (0, 0), (2, 2), (3, 3) clipped from 4, (1, 2)
    np.testing.assert_array_equal(_np(chroma_loss.pixel_weights(uv, grid)), [[[0, 10, 15, 6]]])
    np.testing.assert_array_equal(chroma_loss.uv_bins(uv, 4)[0, 0], [[0, 0], [2, 2], [3, 3], [1, 2]])
    counts = chroma_loss.uv_histogram(uv, 4)
    assert counts.sum() == 4 and counts[0, 0] == counts[2, 2] == counts[3, 3] == counts[1, 2] == 1


def test_gradient_loss_exact():
    target = np.zeros((1, 3, 3, 1), "float32")
    pred = np.array([0.0, 1.0, 2.0], "float32").reshape(1, 1, 3, 1).repeat(3, axis=1)  # ramp along W
    # dx of pred is 1 everywhere (6 values), dy is 0: mean dx^2 = 1
    assert float(_np(chroma_loss.gradient_loss(target, pred))) == pytest.approx(1.0)
    assert float(_np(chroma_loss.gradient_loss(pred, pred + 0.3))) == pytest.approx(0.0, abs=1e-12)


def test_rarity_weighted_reconstruction_in_the_loss():
    model = models.build_model("cvae", 32, latent_dim=2, rarity_mix=0.5, rarity_bins=4)
    grid = np.ones((4, 4), "float32")
    grid[2, 2] = 3.0  # U, V slightly above 0
    model.chroma_weights.assign(grid)
    target = np.full((1, 32, 32, 3), -0.2, "float32")  # U, V -0.2: bin (1, 1)
    target[:, :16, :, 1:] = 0.01  # half the pixels fall in bin (2, 2)
    pred = target + 0.1
    mu = np.zeros((1, 2), "float32")
    loss = _np(model.compute_loss(x=target, y=target, y_pred=(pred, mu, mu, mu, mu)))
    assert loss == pytest.approx(0.01 * (3 + 1) / 2, rel=1e-5)  # mean weight 2 times MSE 0.01; KL 0


# ---- configs, weights and training --------------------------------------------------------------

def test_faithful_spec_unchanged_and_options_round_trip(tmp_path):
    plain = models.build_model("cvae", 32, latent_dim=8)
    assert set(plain.spec["config"]) == {"resolution", "encoder_filters", "decoder_filters", "dense_units", "latent_dim",
                                         "head_filters", "recon_weight", "seed"}
    model = models.build_model("cvae", 32, latent_dim=8, mdn_components=3, rarity_mix=0.5, rarity_bins=8)
    assert model.spec["config"]["mdn_components"] == 3
    weights = np.random.default_rng(0).random((8, 8)).astype("float32")
    model.chroma_weights.assign(weights)
    path = tmp_path / "mdn.weights.h5"
    models.save_weights_atomic(model, path)
    again = models.build_from_spec(json.loads(json.dumps(model.spec)))
    models.load_weights_checked(again, path)
    np.testing.assert_array_equal(_np(again.chroma_weights), weights)
    y = np.random.default_rng(1).random((2, 32, 32, 1), dtype=np.float32)
    np.testing.assert_array_equal(again.sample_uv(y, n=3, seed=4), model.sample_uv(y, n=3, seed=4))


class _Batches:
    def __init__(self, yuv):
        self.yuv = yuv

    def __len__(self):
        return 2

    def __getitem__(self, i):
        half = self.yuv[i * 2 : (i + 1) * 2]
        return half[..., :1], half


def test_fit_chroma_prior_uses_the_training_chroma():
    model = models.build_model("cvae", 32, latent_dim=2, rarity_mix=0.5, rarity_bins=4)
    yuv = np.zeros((4, 32, 32, 3), "float32")
    yuv[:, :8, :, 1:] = 0.3  # a quarter of pixels in bin (3, 2), the rest in (2, 2)
    got = model.fit_chroma_prior(_Batches(yuv), sigma=0)
    counts = np.zeros((4, 4))
    counts[2, 2], counts[3, 2] = 3, 1
    np.testing.assert_allclose(got, chroma_loss.rarity_weights(counts, 0.5, sigma=0), rtol=1e-6)
    np.testing.assert_allclose(_np(model.chroma_weights), got)
    assert got[3, 2] > got[2, 2]


def test_train_mdn_cvae_with_every_option(tmp_path):
    config = training.TrainConfig(model="cvae", dataset="shapes", resolution=32, limit=48, val_limit=8, epochs=1,
                                  latent_dim=4, mdn_components=3, rarity_mix=0.5, grad_weight=1.0, free_bits=0.1,
                                  kl_anneal_steps=5, batch_size=16)
    result = training.train(config, tmp_path / "run")
    logs = result.history[0]
    assert {"nll", "grad", "kl", "recon", "val_nll"} <= set(logs) and all(np.isfinite(v) for v in logs.values())
    grid = _np(result.model.chroma_weights)
    assert grid.std() > 0  # set from the data before training, then saved with the weights
    again = training.load_run(tmp_path / "run")
    np.testing.assert_array_equal(_np(again.chroma_weights), grid)
    assert again.spec["config"]["mdn_components"] == 3


def test_cli_mdn_flag_defaults_to_eight_components():
    from colourise_core import cli

    args = cli.build_parser().parse_args(["train", "--model", "cvae", "--dataset", "shapes", "--mdn"])
    assert args.mdn_components == 8
    args = cli.build_parser().parse_args(["train", "--model", "cvae", "--dataset", "shapes", "--mdn", "3", "--free-bits", "0.5"])
    assert (args.mdn_components, args.free_bits) == (3, 0.5)
