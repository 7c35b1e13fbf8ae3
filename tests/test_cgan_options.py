"""The CGAN's pix2pix options (issue 10, item 3): a conditional discriminator (Y beside UV) and an
L1 term in the generator loss. The faithful defaults keep the dissertation's spec exactly."""

import json
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from colourise_core import models, training
from colourise_core.models import cgan

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def _batch(seed=0, n=8, r=32):
    rng = np.random.default_rng(seed)
    return rng.random((n, r, r, 1), dtype=np.float32), rng.uniform(-0.3, 0.3, (n, r, r, 2)).astype("float32")


def _compiled(model, lr=2e-4):
    model.compile(keras.optimizers.Adam(lr, beta_1=0.5), keras.optimizers.Adam(lr, beta_1=0.5))
    return model


def test_default_spec_is_unchanged():
    spec = models.build_model("cgan", 64).spec
    assert spec == {"model": "cgan", "resolution": 64, "config": {"resolution": 64, "disc_filters": [16, 32, 64, 128, 256]}}
    # the options at their defaults, set explicitly, are left out of the spec as well
    explicit = models.build_model("cgan", 64, conditional_discriminator=False, l1_weight=0.0).spec
    assert explicit == spec


@pytest.mark.parametrize("weight_set", ["shapes", "cifar10", "faces", "imagenette"])
def test_shipped_cgan_weights_load_with_unchanged_specs(weight_set):
    path = WEIGHTS / weight_set / "cgan.weights.h5"
    if not path.is_file():
        pytest.skip(f"no shipped {weight_set} CGAN weights")
    with h5py.File(path, "r") as f:
        stored = json.loads(f.attrs[models.SPEC_ATTR])
    fresh = models.build_model("cgan", stored["resolution"])
    assert fresh.spec == stored
    models.load_weights_checked(fresh, path)  # raises on any mismatch


def test_options_go_into_the_spec_and_rebuild():
    model = models.build_model("cgan", 32, conditional_discriminator=True, l1_weight=100.0)
    assert model.spec["config"]["conditional_discriminator"] is True
    assert model.spec["config"]["l1_weight"] == 100.0
    again = models.build_from_spec(json.loads(json.dumps(model.spec)))
    assert again.spec == model.spec and again.conditional and again.l1_weight == 100.0


def test_conditional_discriminator_sees_luma_beside_chroma():
    plain = models.build_model("cgan", 32)
    cond = models.build_model("cgan", 32, conditional_discriminator=True)
    assert plain.discriminator.inputs[0].shape[-1] == 2
    assert cond.discriminator.inputs[0].shape[-1] == 3
    y, uv = _batch()
    x = keras.ops.convert_to_numpy(cond.disc_input(y, uv))
    np.testing.assert_array_equal(x[..., :1], y)  # channel 0 is Y, 1-2 are UV
    np.testing.assert_array_equal(x[..., 1:], uv)
    # same UV, other luma: a conditional discriminator's verdict changes
    p1 = keras.ops.convert_to_numpy(cond.discriminator(cond.disc_input(y, uv)))
    p2 = keras.ops.convert_to_numpy(cond.discriminator(cond.disc_input(1.0 - y, uv)))
    assert np.abs(p1 - p2).max() > 1e-6


def test_generator_loss_l1_term_exact():
    model = _compiled(models.build_model("cgan", 32, l1_weight=100.0))
    p_fake = np.array([[0.25], [0.5]], "float32")  # a known discriminator output
    generated = np.zeros((2, 4, 4, 2), "float32")
    uv = np.zeros((2, 4, 4, 2), "float32")
    uv[0, 0, 0, 0] = 0.32  # |error| sums to 0.32 + 0.32 = 0.64 over 64 values: mean 0.01
    uv[1, 3, 3, 1] = -0.32
    loss = float(keras.ops.convert_to_numpy(model.generator_loss(p_fake, generated, uv)))
    bce = -(np.log(0.25) + np.log(0.5)) / 2
    assert loss == pytest.approx(bce + 100.0 * 0.01, rel=1e-5)
    plain = _compiled(models.build_model("cgan", 32))
    assert float(keras.ops.convert_to_numpy(plain.generator_loss(p_fake, generated, uv))) == pytest.approx(bce, rel=1e-5)


@pytest.mark.parametrize("fused", [True, False])
def test_train_step_generator_loss_includes_l1(fused):
    """With learning rate 0 nothing moves, so the step's g_loss is BCE(D(Y, G(Y))) + w * L1, recomputed here."""
    y, uv = _batch(2)
    model = _compiled(models.build_model("cgan", 32, conditional_discriminator=True, l1_weight=10.0), lr=0.0)
    model.fused_step = fused
    generated = model.generator(y, training=True)
    p = keras.ops.convert_to_numpy(model.discriminator(np.concatenate([y, keras.ops.convert_to_numpy(generated)], -1)))
    l1 = np.abs(keras.ops.convert_to_numpy(generated) - uv).mean()
    expected = -np.log(np.clip(p, 1e-7, 1 - 1e-7)).mean() + 10.0 * l1
    logs = model.train_batch(y, uv)
    assert logs["g_loss"] == pytest.approx(expected, rel=1e-4)
    assert logs["g_loss"] > 10.0 * l1 * 0.99  # the L1 term is really in it
    val = model.test_batch(y, uv)
    gen_inf = keras.ops.convert_to_numpy(model.generator(y, training=False))
    p_inf = keras.ops.convert_to_numpy(model.discriminator(np.concatenate([y, gen_inf], -1)))
    assert val["g_loss"] == pytest.approx(-np.log(np.clip(p_inf, 1e-7, 1 - 1e-7)).mean() + 10.0 * np.abs(gen_inf - uv).mean(), rel=1e-4)


def test_options_compiled_step_equals_train_on_batch_step():
    y, uv = _batch(1)
    initial = models.build_model("cgan", 32, conditional_discriminator=True, l1_weight=100.0).get_weights()
    nets, logs = [], []
    for fused in (True, False):
        net = _compiled(models.build_model("cgan", 32, conditional_discriminator=True, l1_weight=100.0))
        net.set_weights(initial)
        net.fused_step = fused
        logs.append([net.train_batch(y, uv) for _ in range(2)])
        nets.append(net)
    for key in ("d_loss", "g_loss"):
        np.testing.assert_allclose([l[key] for l in logs[0]], [l[key] for l in logs[1]], rtol=1e-4, atol=1e-6)
    for a, b in zip(nets[0].generator.trainable_weights, nets[1].generator.trainable_weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-4, atol=1e-6)


def test_replica_step_validation_uses_the_options():
    pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("replica_step is the tf.distribute path")
    y, uv = _batch(3)
    model = _compiled(models.build_model("cgan", 32, conditional_discriminator=True, l1_weight=5.0))
    logs = cgan.FAMILY.replica_step(model, y, uv, training=False)
    gen = keras.ops.convert_to_numpy(model.generator(y, training=False))
    p = keras.ops.convert_to_numpy(model.discriminator(np.concatenate([y, gen], -1)))
    expected = -np.log(np.clip(p, 1e-7, 1 - 1e-7)).mean() + 5.0 * np.abs(gen - uv).mean()
    assert float(logs["g_loss"]) == pytest.approx(expected, rel=1e-4)
    trained = cgan.FAMILY.replica_step(model, y, uv, training=True)
    assert np.isfinite(float(trained["g_loss"])) and float(trained["g_loss"]) > 5.0 * np.abs(gen - uv).mean() * 0.5


def test_cli_flags_reach_the_train_config():
    from colourise_core import cli
    from colourise_core.cli_config import config_from_args

    args = cli.build_parser().parse_args(["train", "--model", "cgan", "--dataset", "shapes", "--conditional-discriminator", "--l1-weight", "100"])
    config = config_from_args(training.TrainConfig, args).resolved()
    assert (config.conditional_discriminator, config.l1_weight) == (True, 100.0)
    assert config.model_overrides() == {"conditional_discriminator": True, "l1_weight": 100.0}
    plain = config_from_args(training.TrainConfig, cli.build_parser().parse_args(["train", "--model", "cgan", "--dataset", "shapes"]))
    assert plain.resolved().model_overrides() == {}


def test_a_few_steps_on_a_tiny_shape_set(tmp_path):
    config = training.TrainConfig(model="cgan", dataset="shapes", luma_matched=True, resolution=32, epochs=2, limit=32,
                                  batch_size=16, val_limit=16, conditional_discriminator=True, l1_weight=100.0)
    result = training.train(config, tmp_path / "run")
    assert result.epochs_done == 2
    assert all(np.isfinite(h["g_loss"]) and np.isfinite(h["d_loss"]) for h in result.history)
    # with w = 100 the L1 term dominates g_loss and falls as the generator fits the chroma
    assert result.history[-1]["g_loss"] < result.history[0]["g_loss"]
    again = training.load_run(tmp_path / "run")
    assert again.spec["config"]["conditional_discriminator"] is True and again.spec["config"]["l1_weight"] == 100.0


# ---- stabilising the discriminator (label smoothing, a slower D) and the best checkpoint by L1

@pytest.mark.parametrize("fused", [True, False])
def test_label_smoothing_is_the_discriminators_real_label(fused):
    """With learning rate 0, d_loss = BCE(1 - s, D(real)) + BCE(0, D(fake)): recomputed here."""
    y, uv = _batch(4)
    model = _compiled(models.build_model("cgan", 32, conditional_discriminator=True, l1_weight=1.0,
                                         label_smoothing=0.2), lr=0.0)
    model.fused_step = fused
    gen = keras.ops.convert_to_numpy(model.generator(y, training=True))
    p_real = np.clip(keras.ops.convert_to_numpy(model.discriminator(np.concatenate([y, uv], -1))), 1e-7, 1 - 1e-7)
    p_fake = np.clip(keras.ops.convert_to_numpy(model.discriminator(np.concatenate([y, gen], -1))), 1e-7, 1 - 1e-7)
    smoothed = -(0.8 * np.log(p_real) + 0.2 * np.log(1 - p_real)).mean() - np.log(1 - p_fake).mean()
    logs = model.train_batch(y, uv)
    assert logs["d_loss"] == pytest.approx(smoothed, rel=1e-4)
    assert logs["l1"] == pytest.approx(np.abs(gen - uv).mean(), rel=1e-4)  # the logged L1 is the batch's
    assert model.spec["config"]["label_smoothing"] == 0.2


def test_disc_lr_scale_sets_the_discriminators_learning_rate():
    model = models.build_model("cgan", 32, disc_lr_scale=0.25)
    cgan.FAMILY.compile(model, learning_rate=1e-3, beta_1=0.5)
    assert float(keras.ops.convert_to_numpy(model.d_optimizer.learning_rate)) == pytest.approx(2.5e-4)
    assert float(keras.ops.convert_to_numpy(model.g_optimizer.learning_rate)) == pytest.approx(1e-3)
    plain = models.build_model("cgan", 32)
    cgan.FAMILY.compile(plain, learning_rate=1e-3, beta_1=0.5)
    assert float(keras.ops.convert_to_numpy(plain.d_optimizer.learning_rate)) == pytest.approx(1e-3)
    assert "disc_lr_scale" not in plain.spec["config"] and "label_smoothing" not in plain.spec["config"]


def test_with_l1_the_best_checkpoint_watches_the_validation_l1(tmp_path):
    """A GAN's g_loss rises when its discriminator wins, whatever the colours: with the L1 option
    the run's best epoch is the one of the lowest validation L1, and best.weights.h5 holds it."""
    assert cgan.FAMILY.monitor_log(models.build_model("cgan", 32)) == "val_g_loss"  # the dissertation's
    config = training.TrainConfig(model="cgan", dataset="shapes", luma_matched=True, resolution=32, epochs=3, limit=32,
                                  batch_size=16, val_limit=16, conditional_discriminator=True, l1_weight=100.0,
                                  disc_lr_scale=0.5, label_smoothing=0.1, early_stopping=10)
    result = training.train(config, tmp_path / "run")
    val_l1 = [h["val_l1"] for h in result.history]
    best_epoch = int(np.argmin(val_l1)) + 1
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["best"]["epoch"] == best_epoch and state["best"]["value"] == pytest.approx(min(val_l1))
    best = models.build_from_spec(models.read_spec(tmp_path / "run" / "best.weights.h5"))
    models.load_weights_checked(best, tmp_path / "run" / "best.weights.h5")
    assert best.spec["config"]["disc_lr_scale"] == 0.5 and best.spec["config"]["label_smoothing"] == 0.1


def test_stabilising_flags_reach_the_train_config():
    from colourise_core import cli
    from colourise_core.cli_config import config_from_args

    args = cli.build_parser().parse_args(["train", "--model", "cgan", "--dataset", "shapes", "--disc-lr-scale", "0.1",
                                          "--label-smoothing", "0.1", "--l1-weight", "1000", "--adv-weight", "0"])
    config = config_from_args(training.TrainConfig, args).resolved()
    assert config.model_overrides() == {"disc_lr_scale": 0.1, "label_smoothing": 0.1, "l1_weight": 1000.0, "adv_weight": 0.0}
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--model", "cgan", "--label-smoothing", "0.9"])


@pytest.mark.parametrize("fused", [True, False])
def test_adv_weight_zero_is_an_l1_warm_start(fused):
    """adv_weight 0: the generator's loss is l1_weight * L1 exactly (the discriminator still trains)."""
    y, uv = _batch(5)
    model = _compiled(models.build_model("cgan", 32, conditional_discriminator=True, l1_weight=10.0, adv_weight=0.0), lr=0.0)
    model.fused_step = fused
    gen = keras.ops.convert_to_numpy(model.generator(y, training=True))
    logs = model.train_batch(y, uv)
    assert logs["g_loss"] == pytest.approx(10.0 * np.abs(gen - uv).mean(), rel=1e-4)
    assert logs["d_loss"] > 0.1  # the discriminator's BCE, unweighted
    half = _compiled(models.build_model("cgan", 32, conditional_discriminator=True, l1_weight=10.0, adv_weight=0.5), lr=0.0)
    half.set_weights(model.get_weights())
    p = keras.ops.convert_to_numpy(half.discriminator(np.concatenate([y, gen], -1)))
    expected = 0.5 * -np.log(np.clip(p, 1e-7, 1 - 1e-7)).mean() + 10.0 * np.abs(gen - uv).mean()
    half.fused_step = fused
    assert half.train_batch(y, uv)["g_loss"] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("fused", [True, False])
def test_adv_weight_without_l1_scales_the_adversarial_loss(fused):
    y, uv = _batch(6)
    model = _compiled(models.build_model("cgan", 32, conditional_discriminator=True, adv_weight=0.5), lr=0.0)
    model.fused_step = fused
    gen = keras.ops.convert_to_numpy(model.generator(y, training=True))
    p = keras.ops.convert_to_numpy(model.discriminator(np.concatenate([y, gen], -1)))
    assert model.train_batch(y, uv)["g_loss"] == pytest.approx(0.5 * -np.log(np.clip(p, 1e-7, 1 - 1e-7)).mean(), rel=1e-4)


def test_a_generator_without_any_loss_is_refused():
    from colourise_core.errors import ColouriseError

    with pytest.raises(ColouriseError, match="adv_weight 0 needs an L1 weight"):
        models.build_model("cgan", 32, adv_weight=0.0)


def test_an_option_of_another_family_is_refused_not_ignored(tmp_path, capsys):
    from colourise_core import cli
    from colourise_core.errors import ColouriseError

    with pytest.raises(ColouriseError, match=r"--l1-weight \(a cgan option\) set for cnn, which has no such option"):
        training.TrainConfig(model="cnn", dataset="shapes", l1_weight=100.0).resolved()
    with pytest.raises(ColouriseError, match=r"--rebalance \(a unet option\) set for cgan"):
        training.TrainConfig(model="cgan", dataset="shapes", rebalance=0.5).resolved()
    assert training.TrainConfig(model="cgan", dataset="shapes", l1_weight=100.0).resolved().l1_weight == 100.0
    code = cli.main(["train", "--model", "cvae", "--dataset", "shapes", "--label-smoothing", "0.1", "--epochs", "1",
                     "--out", str(tmp_path / "run")])
    assert code != 0 and "--label-smoothing (a cgan option) set for cvae" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything was written
