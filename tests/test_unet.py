"""The unet family: learning, hints, decoding, the stored prior, training through the trainer."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from colourise_core import colour, inference, models, seeding, training
from colourise_core.data import ShapeSetConfig, hue_accuracy, load_dataset, pipeline
from colourise_core.models import chroma, unet

REPO = Path(__file__).resolve().parents[1]
TINY = dict(widths=(8, 16, 16, 32, 32), dilations=(1, 2), decoder_widths=(32, 32))  # a small, fast unet


def _fit(model, dataset, epochs: int, batch_size: int = 16, lr: float = 3e-3, seed: int = 0):
    """Train through the family interface exactly as the trainer does (prepare, then steps)."""
    family = models.family_of(model)
    family.compile(model, lr, 0.9)
    batches = pipeline.YUVBatches(dataset, batch_size=batch_size, shuffle=True, seed=seed)
    family.prepare(model, batches)
    losses = []  # mean training loss of each epoch
    for _ in range(epochs):  # bounded by epochs, not by wall time
        model.reset_metrics()
        for i in range(len(batches)):
            logs = family.train_step(model, *batches[i])
        losses.append(logs["loss"])
        batches.on_epoch_end()
    return losses


@pytest.fixture(scope="module")
def shapes_unet():
    train = load_dataset("shapes", split="train", limit=256)  # 64 px, shades of three colours
    model = models.build_model("unet", 64, **TINY)
    losses = _fit(model, train, epochs=6)
    return model, losses


def test_unet_learns_a_tiny_shape_set(shapes_unet):
    model, losses = shapes_unet
    assert losses[-1] < 0.7 * losses[0]
    test = load_dataset("shapes", split="test", limit=64)
    y = colour.rgb_to_y(test.load_all()).astype("float32")
    uv = inference.predict_uv(model, y)[0]  # (N, 64, 64, 2) at the stored temperature
    assert uv.shape == (64, 64, 64, 2)
    assert hue_accuracy(uv, test.masks) > 0.6  # chance is 1/3 (three hues)
    # the prior was learnt from the data: black background dominates, so grey is the likeliest bin
    prior = keras.ops.convert_to_numpy(model.prior)
    assert prior.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.linalg.norm(model.centres[prior.argmax()]) < 0.05


class _RandomPatches:
    """Images of 2 x 2 flat squares of random colour and one luma: colour is unpredictable from Y."""

    name, resolution, class_names, labels, masks, skipped_grey = "patches", 32, (), None, None, 0

    def __init__(self, n: int, seed: int):
        rng = np.random.default_rng(seed)
        uv = rng.uniform(-0.2, 0.2, (n, 2, 2, 2))
        uv = np.repeat(np.repeat(uv, 16, axis=1), 16, axis=2)  # (n, 32, 32, 2)
        yuv = np.concatenate([np.full((n, 32, 32, 1), 0.5), uv], axis=-1)
        self.rgb = colour.yuv_to_rgb(yuv).astype("float32")  # clipped to the gamut where it must

    def __len__(self):
        return len(self.rgb)

    def load(self, idx):
        return self.rgb[np.asarray(idx)]


def test_a_hint_moves_the_output_at_its_point_towards_the_hint():
    seeding.seed_everything(0)  # a learning test: the same initial weights and hint draws every run
    model = models.build_model("unet", 32, hint_none=0.2, hint_p=0.5, hint_patch=8, **TINY)
    _fit(model, _RandomPatches(256, 0), epochs=20)
    family = models.family_of(model)
    test = _RandomPatches(16, 1)
    y = colour.rgb_to_y(test.rgb).astype("float32")
    true_uv = colour.rgb_to_yuv(test.rgb)[..., 1:]
    plain = family.predict_uv(model, y, temperature=0.38)[0]
    hint_uv = np.zeros((16, 32, 32, 2), "float32")
    mask = np.zeros((16, 32, 32, 1), "float32")
    r, c = 8, 24  # inside the top-right 16 x 16 square
    hint_uv[:, r - 2:r + 3, c - 2:c + 3] = true_uv[:, r:r + 1, c:c + 1]
    mask[:, r - 2:r + 3, c - 2:c + 3] = 1.0
    hinted = family.predict_uv(model, y, temperature=0.38, hints=(hint_uv, mask))[0]
    err_plain = np.linalg.norm(plain[:, r, c] - true_uv[:, r, c], axis=-1)
    err_hinted = np.linalg.norm(hinted[:, r, c] - true_uv[:, r, c], axis=-1)
    assert np.mean(err_hinted) < 0.85 * np.mean(err_plain)
    assert (err_hinted < err_plain).mean() >= 0.6
    far = np.linalg.norm(hinted[:, 26, 6] - plain[:, 26, 6], axis=-1)  # the opposite square: moves less
    assert np.mean(far) < np.mean(np.linalg.norm(hinted[:, r, c] - plain[:, r, c], axis=-1))


def _set_logits(model, bias):
    layer = model.net.get_layer("logits")
    kernel, _ = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.asarray(bias, "float32")])


def test_decoding_one_bin_gives_its_centre_and_unrebalancing_is_exact():
    model = models.build_model("unet", 32, **TINY)
    family = models.family_of(model)
    q = len(model.centres)
    bias = np.full(q, -1e4)
    bias[123] = 0.0
    _set_logits(model, bias)
    y = np.random.default_rng(0).random((2, 48, 32, 1)).astype("float32")
    for t, yy in ((1.0, y), (0.38, y[:, :32]), (0.05, y[:, :16, :16])):  # several input sizes in a row
        uv = family.predict_uv(model, yy, temperature=t)[0]
        assert uv.shape == yy.shape[:3] + (2,)
        np.testing.assert_allclose(uv, np.broadcast_to(model.centres[123], uv.shape), atol=1e-6)
    # uniform logits, a non-uniform prior: decoding with unrebalance a gives sum_q w_q^(-a/T) c_q / sum
    prior = np.random.default_rng(1).random(q) + 0.1
    prior /= prior.sum()
    model.prior.assign(prior.astype("float32"))
    _set_logits(model, np.zeros(q))
    w = chroma.rebalance_weights(prior, model.config.rebalance)
    for t, a in ((1.0, 0.0), (1.0, 0.5), (0.5, 1.0)):
        model.set_decoding(t, a)
        f = w ** (-a / t)
        expected = (f[:, None] * model.centres).sum(0) / f.sum()
        np.testing.assert_allclose(family.predict_uv(model, y[:1])[0, 0, 5, 5], expected, atol=1e-5)


def test_chroma_probabilities_are_the_distribution_the_decoding_averages():
    # uniform logits and a non-uniform prior: with unrebalance a, p_q = w_q^(-a) / sum w^(-a), exactly
    model = models.build_model("unet", 32, **TINY)
    family = models.family_of(model)
    q = len(model.centres)
    prior = np.random.default_rng(2).random(q) + 0.1
    prior /= prior.sum()
    model.prior.assign(prior.astype("float32"))
    _set_logits(model, np.zeros(q))
    model.set_decoding(1.0, 0.5)
    y = np.random.default_rng(3).random((1, 32, 32, 1)).astype("float32")
    p = family.chroma_probabilities(model, y)
    assert p.shape == (1, 8, 8, q)
    f = chroma.rebalance_weights(prior, model.config.rebalance) ** -0.5
    np.testing.assert_allclose(p[0, 3, 4], f / f.sum(), rtol=1e-5)
    # at T = 1 the decoded UV is the mean of the bin centres under this distribution
    np.testing.assert_allclose(family.predict_uv(model, y)[0, 0, 13, 17], p[0, 3, 4] @ model.centres, atol=1e-5)


def test_prior_and_decoding_settings_travel_with_the_weights(tmp_path):
    model = models.build_model("unet", 32, **TINY)
    prior = np.random.default_rng(2).random(len(model.centres)).astype("float32")
    model.prior.assign(prior / prior.sum())
    model.set_decoding(0.2, 0.4)
    models.export_weights(model, tmp_path / "u.weights.h5", dtype="float32")
    again = models.build_from_spec(models.read_spec(tmp_path / "u.weights.h5"))
    models.load_weights_checked(again, tmp_path / "u.weights.h5")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again.prior), prior / prior.sum(), rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again.decode), [0.2, 0.4], rtol=1e-6)
    y = np.random.default_rng(0).random((1, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(inference.predict_uv(again, y), inference.predict_uv(model, y), atol=1e-6)


def test_input_size_keeps_the_aspect_ratio_at_multiples_of_16():
    model = models.build_model("unet", 32, **TINY)
    assert inference.input_size(model, 667, 1001) == (16, 32)  # longer side -> the training size
    assert inference.input_size(model, 667, 1001, render_size=256) == (176, 256)
    with pytest.raises(Exception, match="multiple of 16"):
        models.build_model("unet", 40)


def _photo_folder(root: Path, n: int, size=(70, 50)) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (root / split / "x").mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(root / split / "x" / f"{i}.png")
    return root


def test_trainer_runs_unet_on_two_datasets_of_random_crops_and_resumes(tmp_path):
    photos = _photo_folder(tmp_path / "photos", 12)
    more = _photo_folder(tmp_path / "more", 6, size=(40, 64))
    config = training.TrainConfig(model="unet", dataset="folder", data=str(photos), extra=(f"folder:{more}",), crops=True,
                                  resolution=32, epochs=1, batch_size=4, steps_per_epoch=2, val_limit=4,
                                  model_config={k: list(v) for k, v in TINY.items()})
    run = tmp_path / "run"
    result = training.train(config, run)
    assert result.epochs_done == 1 and np.isfinite(result.history[0]["val_loss"])
    saved = json.loads((run / "train_config.json").read_text())
    assert saved["extra"] == [f"folder:{more}"] and saved["crops"] and saved["steps_per_epoch"] == 2
    assert result.model.config.widths == TINY["widths"]  # --model-config reached the architecture
    prior = keras.ops.convert_to_numpy(result.model.prior)
    assert prior.sum() == pytest.approx(1.0, abs=1e-5) and prior.std() > 0  # set from the data
    again = training.train(training.TrainConfig(**{**saved, "extra": tuple(saved["extra"]), "epochs": 2}), run, resume=True)
    assert [h["epoch"] for h in again.history] == [1, 2]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again.model.prior), prior)  # resumed, not recomputed


def test_model_config_names_unknown_fields():
    config = training.TrainConfig(model="unet", dataset="shapes", model_config={"width": [8]})
    with pytest.raises(ValueError, match="no config fields .'width'."):
        config.resolved().model_overrides()


def test_random_crops_are_multi_scale_and_validation_crops_central(tmp_path):
    from colourise_core.data import crops

    photos = _photo_folder(tmp_path / "photos", 3, size=(90, 60))
    mix = crops.load_mixture([("folder", str(photos))], resolution=32)
    native = np.asarray(Image.open(photos / "train" / "x" / "0.png"))  # (60, 90, 3)
    central = mix.load([0])[0]
    expected = crops.CropDataset.crop(mix.parts[0], native[:, 15:75], None) / 255.0
    np.testing.assert_allclose(central, expected, atol=1e-6)
    a = mix.load([0, 1, 2], rng=np.random.default_rng(0))
    b = mix.load([0, 1, 2], rng=np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)  # seeded
    assert not np.array_equal(a, mix.load([0, 1, 2], rng=np.random.default_rng(1)))


def test_a_repeated_extra_dataset_is_seen_n_times_per_pass_and_never_leaks_into_validation(tmp_path):
    from colourise_core.errors import DatasetError

    big = _photo_folder(tmp_path / "big", 20)
    small = _photo_folder(tmp_path / "small", 10, size=(40, 64))

    def split(extra):
        config = training.TrainConfig(model="unet", dataset="folder", data=str(big), extra=(extra,), crops=True,
                                      resolution=32, val_limit=100).resolved()
        return training.make_datasets(config)

    train1, val1 = split(f"folder:{small}")
    train3, val3 = split(f"folder*3:{small}")
    np.testing.assert_array_equal(val3.indices, val1.indices)  # the same validation images
    part = train1.dataset.part_of  # images 0..19 of the mixture are the big set's, 20..29 the small set's
    np.testing.assert_array_equal(part([0, 19, 20, 29]), [0, 0, 1, 1])
    own = lambda idx: np.unique(idx[part(idx) == 1], return_counts=True)
    small_ids, counts = own(train3.indices)
    np.testing.assert_array_equal(small_ids, own(train1.indices)[0])
    assert set(counts) == {3} and len(small_ids) >= 6  # each of its training images, three times
    big1, big3 = (t.indices[part(t.indices) == 0] for t in (train1, train3))
    np.testing.assert_array_equal(big3, big1)  # the large set once
    assert not set(small_ids) & set(val3.indices.tolist())  # no copy of a validation image
    np.testing.assert_array_equal(train3.load([0]), train1.load([0]))
    for bad in ("folder*0:", "folder*x:", "folder*101:"):  # refused as the config resolves, before reading data
        with pytest.raises(DatasetError, match="repeat count is a whole number from 1 to 100"):
            training.TrainConfig(model="unet", dataset="folder", data=str(tmp_path / "absent"),
                                 extra=(bad + str(tmp_path / "absent.zip"),), crops=True).resolved()


def test_unet_trains_one_step_under_jax(tmp_path):
    code = f"""
import numpy as np
from colourise_core import models
m = models.build_model("unet", 32, widths=(8, 8, 8, 8, 8), dilations=(2,), decoder_widths=(8, 8))
f = models.family_of(m)
f.compile(m, 1e-3, 0.9)
rng = np.random.default_rng(0)
y = rng.random((2, 32, 32, 1), dtype=np.float32); uv = rng.uniform(-0.2, 0.2, (2, 32, 32, 2)).astype("float32")
before = m.net.get_layer("logits").get_weights()[0].copy()
logs = f.train_step(m, y, uv)
assert np.isfinite(logs["loss"]) and not np.allclose(before, m.net.get_layer("logits").get_weights()[0])
print("ok", logs)
"""
    env = {"KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]
