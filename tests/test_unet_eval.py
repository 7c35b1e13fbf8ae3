"""scripts/unet_eval.py measure(): the figures of issue 10's targets 1 and 2 on a tiny archive, with a tiny unet."""

import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from colourise_core import classic, colour, hints, inference, metrics, models

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import unet_eval  # noqa: E402

TINY = dict(widths=(8, 16, 16, 32, 32), dilations=(1, 2), decoder_widths=(32, 32))


def _photo(seed: int) -> np.ndarray:
    """A colourful 40 x 48 uint8 photo: smooth colour gradients plus a block of red."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:40, 0:48] / 48.0
    rgb = np.stack([0.2 + 0.6 * xx, 0.3 + 0.5 * yy, 0.8 - 0.6 * xx * rng.random()], -1)
    rgb[10:20, 12:30] = (0.9, 0.1, 0.1)
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("eval") / "photos.zip"
    with zipfile.ZipFile(path, "w") as z:
        for i in range(3):
            Image.fromarray(_photo(i)).save(p := path.parent / f"p{i}.png")
            z.write(p, f"val/things/p{i}.png")
        Image.fromarray(_photo(9)).save(p := path.parent / "t.png")
        z.write(p, "train/things/t.png")
    return path


def test_measure_gives_the_models_levins_and_the_budget(archive):
    model = models.build_model("unet", 32, **TINY)
    keras.utils.set_random_seed(0)
    model.set_decoding(0.38, 0.0)
    out = unet_eval.measure(model, str(archive), "val", None, n_hints=4, radius=1, blends=(0.0, 1.0), residual=True)
    assert out["n"] == 3
    # The model's decoding is restored after its mean decoding was measured.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.decode), [0.38, 0.0])
    truths = [_photo(i).astype(np.float32) / 255 for i in range(3)]
    lumas = [colour.rgb_to_y(t).astype(np.float32) for t in truths]
    preds = [inference.colourise_luma(model, y)[0] for y in lumas]
    assert out["model"]["psnr"] == pytest.approx(np.mean([metrics.psnr(p, t) for p, t in zip(preds, truths)]), abs=1e-9)
    assert out["grey"]["colourfulness"] == 0.0
    assert out["truth"]["colourfulness"] == pytest.approx(np.mean([metrics.colourfulness(t) for t in truths]))
    # Levin's method on the very hints the unet got (seeded per photo).
    levin = [classic.levin_colourise(y, hints.random_true_hints(_photo(i), 4, seed=i, radius=1)) for i, y in enumerate(lumas)]
    assert out["levin"]["psnr"] == pytest.approx(np.mean([metrics.psnr(p, t) for p, t in zip(levin, truths)]), abs=1e-9)
    assert out["hints_over_levin"] == pytest.approx(out["hints"]["psnr"] - out["levin"]["psnr"])
    # The residual row: Levin's propagation of the same hints' differences from the unet's own
    # automatic colouring, added to it.
    resid = [colour.luma_chroma_to_rgb(y, classic.levin_uv(y, hints.random_true_hints(_photo(i), 4, seed=i, radius=1),
                                                           base_uv=colour.rgb_to_yuv(p)[..., 1:]))
             for i, (y, p) in enumerate(zip(lumas, preds))]
    assert out["residual"]["psnr"] == pytest.approx(np.mean([metrics.psnr(p, t) for p, t in zip(resid, truths)]), abs=1e-9)
    # (An untrained unet's colouring is nearly constant, and Levin's result is the same for any
    # constant base, so this row differs from Levin's by little, but not within the 1e-9 above.)
    assert out["residual"]["psnr"] != pytest.approx(out["levin"]["psnr"], abs=1e-9)
    # A blend of weight 0 is Levin's chroma, of weight 1 the unet's (re-fitted to the gamut: the same).
    assert out["blend_0"]["psnr"] == pytest.approx(out["levin"]["psnr"], abs=1e-3)
    assert out["blend_1"]["psnr"] == pytest.approx(out["hints"]["psnr"], abs=1e-3)
    # The budget's MSE ratio is the pooled RGB squared error over grey's.
    err = sum(np.sum((p - t) ** 2) for p, t in zip(preds, truths))
    grey = sum(np.sum((metrics.grey_baseline(t) - t) ** 2) for t in truths)
    assert out["budget"]["model"]["mse_over_grey"] == pytest.approx(err / grey, rel=1e-5)
    assert set(out["budget"]) == {"model", "mean"} and out["budget"]["mean"]["rescaled_db"] is not None


def test_measure_at_a_render_size_runs_the_model_at_it(archive):
    """`--render-size`: every unet row (automatic, mean decoding, hints) is the model run at that
    longer side, not at its training resolution; grey and Levin do not depend on it."""
    model = models.build_model("unet", 32, **TINY)
    keras.utils.set_random_seed(1)
    model.set_decoding(0.38, 0.0)
    at_48 = unet_eval.measure(model, str(archive), "val", None, n_hints=4, radius=1, render_size=48)
    plain = unet_eval.measure(model, str(archive), "val", None, n_hints=4, radius=1)
    truths = [_photo(i).astype(np.float32) / 255 for i in range(3)]
    lumas = [colour.rgb_to_y(t).astype(np.float32) for t in truths]
    for who, hinted, decoding in (("model", False, (0.38, 0.0)), ("mean", False, (1.0, 1.0)), ("hints", True, (0.38, 0.0))):
        model.set_decoding(*decoding)
        preds = []
        for i, (y, t) in enumerate(zip(lumas, truths)):
            extra = {"hints": hints.random_true_hints(_photo(i), 4, seed=i, radius=1)} if hinted else {}
            preds.append(metrics.psnr(inference.colourise_luma(model, y, render_size=48, **extra)[0], t))
        assert at_48[who]["psnr"] == pytest.approx(np.mean(preds), abs=1e-9)
        assert at_48[who]["psnr"] != pytest.approx(plain[who]["psnr"], abs=1e-6)
    assert at_48["levin"] == plain["levin"] and at_48["grey"] == plain["grey"]


def test_hinted_validation_measures_on_the_runs_own_validation_images(tmp_path):
    """--val-hints: PSNR with true hints on the run's held-out *training* images, the unet beside
    Levin's method and grey, by hand for one image."""
    from colourise_core import training

    folder = tmp_path / "photos" / "train" / "things"
    folder.mkdir(parents=True)
    for i in range(10):
        Image.fromarray(_photo(i)).save(folder / f"p{i}.png")
    config = training.TrainConfig(model="unet", dataset="folder", data=str(tmp_path / "photos"), crops=True, resolution=32, epochs=1,
                                  batch_size=2, steps_per_epoch=1, val_limit=4,
                                  model_config={k: list(v) for k, v in TINY.items()})
    result = training.train(config, tmp_path / "run")
    out = unet_eval.hinted_validation(result.model, tmp_path / "run", n_hints=30, radius=1, limit=4)
    _, val = training.make_datasets(config)
    true = val.load_all()
    assert out["n"] == len(true) == 1  # 10% of 10 training images
    luma = colour.rgb_to_y(true[0]).astype(np.float32)
    h = hints.random_true_hints(true[0], 30, seed=0, radius=1)
    assert out["levin"] == pytest.approx(metrics.psnr(classic.levin_colourise(luma, h), true[0]))  # one image: exactly
    assert out["hints"] == pytest.approx(metrics.psnr(inference.colourise_luma(result.model, luma, hints=h)[0], true[0]))
    assert out["levin"] > out["grey"] + 3  # 30 true hints on a 32 px crop: Levin's propagation is close
