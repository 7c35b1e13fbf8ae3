import json

import h5py
import keras
import numpy as np
import pytest

from colourise_core import models
from colourise_core.errors import WeightsError
from colourise_core.models import cvae


def test_cnn_generator_matches_dissertation_table():
    # Figure 4.9b: the CGAN generator at 32 px has 233,106 parameters.
    gen = models.cnn.build(models.cnn.CNNConfig.for_resolution(32, dropout=0.0, batch_norm=True))
    assert gen.count_params() == 233_106
    assert gen.get_layer("conv_in").output.shape[1:] == (None, None, 8)


def test_cvae_encoder_matches_dissertation_table():
    # Figure 4.10a with latent 128: conv and dense parameter counts of the training encoder.
    model = models.build_model("cvae", 32, latent_dim=128)
    enc = model.train_encoder
    counts = [enc.get_layer(f"train_encoder_conv{i}").count_params() for i in range(4)]
    assert counts == [224, 1168, 9280, 73856]
    assert enc.get_layer("train_encoder_dense").count_params() == 262_656
    assert model.decoder.get_layer("dec_up0").count_params() == 147_584


@pytest.mark.parametrize("name", models.DISSERTATION_MODELS)
@pytest.mark.parametrize("resolution", models.RESOLUTIONS)
def test_build_shapes(name, resolution):
    model = models.build_model(name, resolution, **({"latent_dim": 16} if name == "cvae" else {}))
    y = np.random.default_rng(0).random((2, resolution, resolution, 1), dtype=np.float32)
    uv = keras.ops.convert_to_numpy(model(y))
    assert uv.shape == (2, resolution, resolution, 2)
    assert np.isfinite(uv).all()
    if name != "cvae":  # tanh output; the CVAE's YUV head is linear and clipped at merge
        assert np.abs(uv).max() <= 1.0


def test_cnn_is_fully_convolutional():
    model = models.build_model("cnn", 32)
    out = model(np.zeros((1, 48, 16, 1), "float32"))
    assert tuple(out.shape) == (1, 48, 16, 2)


def test_kl_divergence_exact():
    # KL(N(1, 1) || N(0, 4)) = log 2 + (1 + 1) / 8 - 1/2 = log 2 - 1/4, per dimension
    mu_p, lv_p = np.array([[1.0, 1.0]]), np.array([[0.0, 0.0]])
    mu_q, lv_q = np.array([[0.0, 0.0]]), np.log(np.array([[4.0, 4.0]]))
    kl = keras.ops.convert_to_numpy(cvae.kl_divergence(mu_p, lv_p, mu_q, lv_q))
    np.testing.assert_allclose(kl, [2 * (np.log(2) - 0.25)], rtol=1e-6)
    same = keras.ops.convert_to_numpy(cvae.kl_divergence(mu_q, lv_q, mu_q, lv_q))
    np.testing.assert_allclose(same, [0.0], atol=1e-6)


def test_cvae_compute_loss_is_weighted_mse_plus_kl():
    model = models.build_model("cvae", 32, latent_dim=8, recon_weight=10.0)
    target = np.full((1, 32, 32, 3), 0.5, "float32")
    pred = np.zeros((1, 32, 32, 3), "float32")
    mu, lv = np.zeros((1, 8), "float32"), np.zeros((1, 8), "float32")
    loss = keras.ops.convert_to_numpy(model.compute_loss(x=target, y=target, y_pred=(pred, mu + 1, lv, mu, lv)))
    assert loss == pytest.approx(10.0 * 0.25 + 8 * 0.5, rel=1e-6)  # W * MSE + sum of (1/2) per dim
    assert float(model.recon_tracker.result()) == pytest.approx(0.25)


def test_one_cgan_step_changes_both_networks():
    model = models.build_model("cgan", 32)
    model.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    rng = np.random.default_rng(0)
    y, uv = rng.random((8, 32, 32, 1), dtype=np.float32), rng.uniform(-0.3, 0.3, (8, 32, 32, 2)).astype("float32")
    gen0 = [keras.ops.convert_to_numpy(w).copy() for w in model.generator.trainable_weights]
    disc0 = [keras.ops.convert_to_numpy(w).copy() for w in model.discriminator.trainable_weights]
    logs = model.train_batch(y, uv)
    assert set(logs) == {"d_loss", "g_loss"} and all(np.isfinite(v) for v in logs.values())
    moved = lambda before, ws: max(np.abs(b - keras.ops.convert_to_numpy(w)).max() for b, w in zip(before, ws))  # noqa: E731
    assert moved(gen0, model.generator.trainable_weights) > 0
    assert moved(disc0, model.discriminator.trainable_weights) > 0


def test_cgan_compiled_step_equals_the_train_on_batch_step():
    """The TensorFlow step (one function) and the portable path (train_on_batch) do the same maths."""
    rng = np.random.default_rng(1)
    y, uv = rng.random((8, 32, 32, 1), dtype=np.float32), rng.uniform(-0.3, 0.3, (8, 32, 32, 2)).astype("float32")
    initial = models.build_model("cgan", 32).get_weights()
    nets, logs = [], []
    for fused in (True, False):
        net = models.build_model("cgan", 32)
        net.set_weights(initial)
        net.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
        net.fused_step = fused
        logs.append([net.train_batch(y, uv) for _ in range(2)])
        nets.append(net)
    for key in ("d_loss", "g_loss"):
        np.testing.assert_allclose([l[key] for l in logs[0]], [l[key] for l in logs[1]], rtol=1e-4, atol=1e-6)
    for part in ("discriminator", "generator"):
        for a, b in zip(getattr(nets[0], part).trainable_weights, getattr(nets[1], part).trainable_weights):
            np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-4, atol=1e-6)
    # both differ from the start: the step trained
    assert max(np.abs(w0 - w1).max() for w0, w1 in zip(initial, nets[0].get_weights())) > 0


def test_cvae_samples_differ_and_spread_grows_with_temperature(tiny_models):
    model = tiny_models["cvae"]
    y = np.random.default_rng(0).random((2, 32, 32, 1), dtype=np.float32)
    spreads = []
    for t in (0.0, 0.5, 2.0):
        s = model.sample_uv(y, n=4, temperature=t, seed=1)
        assert s.shape == (4, 2, 32, 32, 2)
        spreads.append(float(np.mean(np.std(s, axis=0))))
    assert spreads[0] < 1e-7  # temperature 0: every sample is the mean
    assert spreads[0] < spreads[1] < spreads[2]
    again = model.sample_uv(y, n=4, temperature=0.5, seed=1)
    np.testing.assert_array_equal(again, model.sample_uv(y, n=4, temperature=0.5, seed=1))


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_save_then_load_gives_identical_outputs(name, tmp_path):
    model = models.build_model(name, 32, **({"latent_dim": 16} if name == "cvae" else {}))
    path = tmp_path / f"{name}.weights.h5"
    models.save_weights_atomic(model, path)
    again = models.build_from_spec(json.loads(json.dumps(model.spec)))
    models.load_weights_checked(again, path)
    y = np.random.default_rng(0).random((2, 32, 32, 1), dtype=np.float32)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(y)), keras.ops.convert_to_numpy(again(y)))
    assert not list(tmp_path.glob(".*tmp*"))


def test_export_float16_stays_within_one_level(tmp_path):
    model = models.build_model("cnn", 32)
    path = tmp_path / "cnn.weights.h5"
    models.export_weights(model, path, dtype="float16")
    with h5py.File(path) as f:
        dtypes = set()
        f.visititems(lambda n, o: dtypes.add(o.dtype) if isinstance(o, h5py.Dataset) else None)
    assert dtypes == {np.dtype("float16")}
    half = models.build_from_spec(model.spec)
    models.load_weights_checked(half, path)
    y = np.random.default_rng(0).random((2, 32, 32, 1), dtype=np.float32)
    diff = np.abs(keras.ops.convert_to_numpy(model(y)) - keras.ops.convert_to_numpy(half(y))).max()
    assert diff < 1 / 255


def test_export_keeps_the_small_arrays_float32_when_asked(tmp_path):
    model = models.build_model("cnn", 32)
    rng = np.random.default_rng(1)
    for v in model.weights:  # values float16 cannot hold exactly
        v.assign(rng.normal(0.0, 0.1, v.shape).astype("float32") + np.float32(1e-4))
    path = tmp_path / "cnn.weights.h5"
    models.export_weights(model, path, dtype="float16", keep_float32_below=1000)
    stored = {}
    with h5py.File(path) as f:
        f.visititems(lambda n, o: stored.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    assert {a.dtype for a in stored.values() if a.size < 1000} == {np.dtype("float32")}
    assert {a.dtype for a in stored.values() if a.size >= 1000} == {np.dtype("float16")}
    half = models.build_from_spec(model.spec)
    models.load_weights_checked(half, path)
    by_shape = {}
    for v in model.weights:
        by_shape.setdefault(tuple(v.shape), []).append(np.asarray(v))
    for v in half.weights:  # the small arrays come back bit for bit, the large ones rounded
        value = np.asarray(v)
        match = [w for w in by_shape[tuple(v.shape)] if np.allclose(w, value, atol=1e-3)]
        assert match
        if value.size < 1000:
            assert any(np.array_equal(w, value) for w in match)
        else:
            assert not any(np.array_equal(w, value) for w in match)


def test_corrupt_weight_file_refused(tmp_path):
    path = tmp_path / "bad.weights.h5"
    path.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(WeightsError, match="corrupt or not a Keras .weights.h5 file"):
        models.load_weights_checked(models.build_model("cnn", 32), path)


def test_weights_for_another_model_refused(tmp_path):
    path = tmp_path / "cnn.weights.h5"
    models.save_weights_atomic(models.build_model("cnn", 32), path)
    with pytest.raises(WeightsError, match=r"holds weights for cnn at 32 px, but the model to load is cgan at 32 px"):
        models.load_weights_checked(models.build_model("cgan", 32), path)


def test_weights_for_another_resolution_refused(tmp_path):
    path = tmp_path / "cnn.weights.h5"
    models.save_weights_atomic(models.build_model("cnn", 64), path)
    with pytest.raises(WeightsError, match="cnn at 64 px, but the model to load is cnn at 32 px"):
        models.load_weights_checked(models.build_model("cnn", 32), path)


def test_weights_without_spec_for_another_architecture_refused(tmp_path):
    path = tmp_path / "plain.weights.h5"
    models.build_model("cnn", 64).save_weights(path)  # a plain Keras file, no spec attribute
    with pytest.raises(WeightsError, match="could not load .* into cvae at 32 px"):
        models.load_weights_checked(models.build_model("cvae", 32, latent_dim=16), path)


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        models.build_model("vgg", 32)


def _weights_equal(a, b) -> bool:
    return all(np.array_equal(keras.ops.convert_to_numpy(x), keras.ops.convert_to_numpy(y)) for x, y in zip(a.weights, b.weights))


def test_fine_tune_accepts_a_changed_training_field_and_loads_the_weights(tmp_path):
    """`train --init-weights` with another hint simulation (unet) or W (cvae): the same layers load."""
    for name, kwargs, changed in (("unet", {}, {"hint_none": 0.25}), ("cvae", {"latent_dim": 16}, {"recon_weight": 10.0})):
        path = tmp_path / f"{name}.weights.h5"
        source = models.build_model(name, 32, **kwargs)
        models.save_weights_atomic(source, path)
        tuned = models.build_model(name, 32, **kwargs, **changed)
        assert not _weights_equal(source, tuned)  # fresh random initialisation differs
        field = next(iter(changed))
        with pytest.raises(WeightsError, match=rf"another configuration: {field}="):
            models.load_weights_checked(tuned, path)  # a plain load still refuses it
        models.load_weights_checked(tuned, path, fine_tune=True)
        assert _weights_equal(source, tuned)


def test_fine_tune_refuses_another_architecture(tmp_path):
    path = tmp_path / "unet.weights.h5"
    models.save_weights_atomic(models.build_model("unet", 32), path)
    wider = models.build_model("unet", 32, widths=(16, 32, 64, 128, 128))
    with pytest.raises(WeightsError, match=r"widths=.*a fine-tune may change only \['rebalance'"):
        models.load_weights_checked(wider, path, fine_tune=True)
