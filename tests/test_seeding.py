"""The seed entry point: the same seed gives the same model, the same batches and the same training."""

import keras
import numpy as np
import pytest

from colourise_core import models, seeding, training


def _weights(model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


def test_seed_everything_makes_model_building_reproducible():
    seeding.seed_everything(3)
    a = _weights(models.build_model("cnn", 32))
    seeding.seed_everything(3)
    b = _weights(models.build_model("cnn", 32))
    seeding.seed_everything(4)
    c = _weights(models.build_model("cnn", 32))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert any(not np.array_equal(x, y) for x, y in zip(a, c))  # the seed is really used


def test_seed_everything_refuses_a_bad_seed():
    with pytest.raises(ValueError, match="non-negative int"):
        seeding.seed_everything(-1)
    with pytest.raises(ValueError, match="non-negative int"):
        seeding.seed_everything("7")


def test_data_rng_depends_only_on_seed_and_keys():
    np.random.seed(123)  # global state must not matter
    first = seeding.data_rng(5, 2).permutation(10)
    np.random.seed(456)
    assert np.array_equal(seeding.data_rng(5, 2).permutation(10), first)
    assert not np.array_equal(seeding.data_rng(5, 3).permutation(10), first)


def _history(result) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in result.history]  # seconds: wall time


@pytest.mark.parametrize("name", ["cnn", "cvae"])
def test_two_seeded_runs_give_identical_weights_and_histories(tmp_path, name):
    """Dropout, augmentation (CNN), the reparametrisation noise (CVAE) and the data order all seeded."""
    config = training.TrainConfig(model=name, dataset="shapes", resolution=32, epochs=2, limit=64, batch_size=16,
                                  val_limit=16, seed=11, latent_dim=16 if name == "cvae" else None)
    keras.utils.set_random_seed(1)  # whatever ran before must not matter
    a = training.train(config, tmp_path / "a")
    keras.utils.set_random_seed(2)
    b = training.train(config, tmp_path / "b")
    assert _history(a) == _history(b)
    assert all(np.array_equal(x, y) for x, y in zip(_weights(a.model), _weights(b.model)))
    other = training.train(training.TrainConfig(**{**config.__dict__, "seed": 12}), tmp_path / "c")
    assert _history(other) != _history(a)  # another seed: another run


def test_seed_epoch_makes_an_epochs_dropout_independent_of_the_past():
    """Dropout masks of epoch e are the same whether epochs before it ran (or a resume skipped them)."""
    seeding.seed_everything(0)
    model = models.build_model("cnn", 32)  # dropout 0.2
    y = np.random.default_rng(0).random((2, 32, 32, 1), dtype=np.float32)
    seeding.seed_epoch(model, 2)
    first = keras.ops.convert_to_numpy(model(y, training=True))
    for _ in range(3):
        model(y, training=True)  # draws that an interrupted run would not have made
    seeding.seed_epoch(model, 2)
    again = keras.ops.convert_to_numpy(model(y, training=True))
    seeding.seed_epoch(model, 3)
    other = keras.ops.convert_to_numpy(model(y, training=True))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
