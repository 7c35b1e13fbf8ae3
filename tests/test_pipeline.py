"""YUV batches, augmentation and the train/validation split."""

import keras
import numpy as np
import pytest

from colourise_core.colour import rgb_to_yuv
from colourise_core.data.datasets import load_dataset
from colourise_core.data.pipeline import AugmentConfig, YUVBatches, augment_batch, split_train_val


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("shapes", limit=10, resolution=16)


def test_batches_are_yuv_of_the_dataset_in_order(shapes):
    batches = YUVBatches(shapes, 4, shuffle=False)
    assert len(batches) == 3
    y, uv = batches[2]  # the last, partial batch is kept
    assert y.shape == (2, 16, 16, 1) and uv.shape == (2, 16, 16, 2)
    assert y.dtype == uv.dtype == np.float32
    yuv = rgb_to_yuv(shapes.load([8, 9]), compute_dtype=np.float32)  # as the pipeline converts
    np.testing.assert_array_equal(y, yuv[..., :1])
    np.testing.assert_array_equal(uv, yuv[..., 1:])
    _, full = YUVBatches(shapes, 4, shuffle=False, target="yuv")[0]
    assert full.shape == (4, 16, 16, 3)
    with pytest.raises(IndexError):
        batches[3]


def test_shuffle_is_seeded_per_epoch(shapes):
    all_y = rgb_to_yuv(shapes.load_all(), compute_dtype=np.float32)[..., :1]  # (10, 16, 16, 1)

    def epoch_order(b):  # which dataset image each batch row is
        ys = np.concatenate([b[i][0] for i in range(len(b))])
        return [next(j for j in range(10) if np.array_equal(y, all_y[j])) for y in ys]

    a, b = YUVBatches(shapes, 4, seed=5), YUVBatches(shapes, 4, seed=5)
    first = epoch_order(a)
    assert sorted(first) == list(range(10)) and first != list(range(10))
    assert epoch_order(b) == first
    a.on_epoch_end()
    b.on_epoch_end()
    assert epoch_order(a) == epoch_order(b) != first
    assert epoch_order(YUVBatches(shapes, 4, seed=6)) != first


def test_augment_identity_flip_and_nearest_fill():
    rng = np.random.default_rng(0)
    rgb = rng.random((16, 8, 8, 3), dtype=np.float32)
    none = AugmentConfig(flip=False, shift=0.0, rotation=0.0)
    np.testing.assert_array_equal(augment_batch(rgb, rng, none), rgb)
    flipped = augment_batch(rgb, np.random.default_rng(1), AugmentConfig(shift=0.0, rotation=0.0))
    is_flip = [np.array_equal(f, x[:, ::-1]) for f, x in zip(flipped, rgb)]
    assert all(f or np.array_equal(o, x) for f, o, x in zip(is_flip, flipped, rgb))
    assert 0 < sum(is_flip) < 16
    uniform = np.full((4, 8, 8, 3), 0.3, np.float32)  # replicated borders: no black corners
    np.testing.assert_allclose(augment_batch(uniform, np.random.default_rng(2)), uniform, atol=1e-6)
    out1 = augment_batch(rgb, np.random.default_rng(3))
    np.testing.assert_array_equal(out1, augment_batch(rgb, np.random.default_rng(3)))
    assert out1.shape == rgb.shape and out1.dtype == np.float32 and not np.allclose(out1, rgb)


def test_augment_config_says_what_it_applies():
    assert AugmentConfig().describe() == "flip, shift, rotate"
    assert AugmentConfig(flip=True, shift=0.0, rotation=0.0).describe() == "flip"
    assert AugmentConfig(flip=False, shift=0.1, rotation=0.0).describe() == "shift"
    assert AugmentConfig(flip=False, shift=0.0, rotation=0.0).describe() == "none"


def test_each_family_says_how_its_runs_augment():
    from colourise_core import models

    described = {name: models.get_family(name).augment_config().describe() for name in ("cnn", "cgan", "cvae", "unet")}
    assert described == {"cnn": "flip, shift, rotate", "cgan": "flip, shift, rotate", "cvae": "flip, shift, rotate",
                         "unet": "flip"}  # the U-Net's random crops give the shifts and scales


def test_augmented_batches_are_reproducible(shapes):
    a = YUVBatches(shapes, 5, augment=True, seed=1)
    b = YUVBatches(shapes, 5, augment=True, seed=1)
    plain = YUVBatches(shapes, 5, augment=False, seed=1)
    np.testing.assert_array_equal(a[1][1], b[1][1])
    assert not np.array_equal(a[1][0], plain[1][0])


def test_split_train_val(shapes):
    train, val = split_train_val(shapes, 0.2, seed=0)
    assert (len(train), len(val)) == (8, 2)
    assert sorted(train.indices.tolist() + val.indices.tolist()) == list(range(10))
    np.testing.assert_array_equal(val.load_all(), shapes.load(val.indices))
    np.testing.assert_array_equal(val.masks, shapes.masks[val.indices])
    again, _ = split_train_val(shapes, 0.2, seed=0)
    np.testing.assert_array_equal(again.indices, train.indices)
    assert train.resolution == 16 and train.skipped_grey == 0 and len(YUVBatches(train, 3)) == 3


def test_fit_runs_over_epochs(shapes):
    batches = YUVBatches(shapes, 4, augment=True)
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(2, 3, padding="same")])
    model.compile("adam", "mse")
    history = model.fit(batches, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert batches.epoch >= 2  # keras may also call on_epoch_end once before training
