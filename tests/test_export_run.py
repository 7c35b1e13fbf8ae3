"""scripts/export_run.py: a CPU run exported as a weight set, its last epoch or (--best) its best one."""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from colourise_core import models, training

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import export_run  # noqa: E402


def _export(run: Path, out: Path, best: bool) -> Path:
    export_run.export(argparse.Namespace(run=str(run), set="s", model="cgan", command="the command", export=str(out),
                                         best=best))
    return out / "s" / "cgan.weights.h5"


def _outputs(path: Path) -> np.ndarray:
    net = models.build_from_spec(models.read_spec(path))
    models.load_weights_checked(net, path)
    return np.asarray(net(np.random.default_rng(0).random((2, 32, 32, 1), dtype=np.float32)))


def test_best_exports_the_best_epoch_and_is_refused_without_one(tmp_path):
    config = training.TrainConfig(model="cgan", dataset="shapes", luma_matched=True, resolution=32, epochs=2, limit=32,
                                  batch_size=16, val_limit=16, conditional_discriminator=True, l1_weight=100.0,
                                  early_stopping=10)
    run = tmp_path / "run"
    training.train(config, run)
    # make the best file certainly differ from the last epoch: other weights of the same architecture
    other = models.build_from_spec(models.read_spec(run / "best.weights.h5"))
    models.save_weights_atomic(other, run / "best.weights.h5")
    best, last = _outputs(run / "best.weights.h5"), _outputs(run / "model.weights.h5")
    assert np.abs(best - last).max() > 0.01

    exported = _export(run, tmp_path / "export", best=True)
    info = json.loads(exported.with_suffix("").with_suffix(".json").read_text())
    assert info["epochs"] == 2 and info["command"] == "the command"
    tol = 2 / 255 if info["dtype"].startswith("float16") else 1e-6
    np.testing.assert_allclose(_outputs(exported), best, atol=tol)
    np.testing.assert_allclose(_outputs(_export(run, tmp_path / "export-last", best=False)), last, atol=tol)

    plain = training.TrainConfig(**{**config.__dict__, "early_stopping": 0, "epochs": 1})
    training.train(plain, tmp_path / "no-best")
    with pytest.raises(SystemExit, match="has no best.weights.h5"):
        _export(tmp_path / "no-best", tmp_path / "export2", best=True)


def test_export_small_keeps_the_small_arrays_float32_where_float16_moves_outputs(tmp_path):
    """The Shape Set unet (shipped `shapes`): all-float16 moves its colours by more than one level
    on 64 training images, so `export_small` keeps the small arrays (batch-norm statistics, biases,
    the bin prior) in float32: within one level, in half the bytes of float32."""
    import h5py
    import train_sets
    from colourise_core.data import ShapeSetConfig, load_dataset
    from colourise_core.weights import load_pretrained

    model = load_pretrained("unet", "shapes")
    images = load_dataset("shapes", split="train", resolution=64, limit=64, seed=0,
                          shapes_config=ShapeSetConfig(luma_matched=True)).load(np.arange(64))
    path = tmp_path / "unet.weights.h5"
    models.export_weights(model, path, dtype="float16")
    assert train_sets.float16_check(model, path, images) > 1 / 255  # all float16: too far
    dtype, diff = train_sets.export_small(model, path, images)
    assert dtype == "float16, float32 below 100,000 values"
    assert diff <= 1 / 255 and diff == train_sets.float16_check(model, path, images)
    with h5py.File(path) as f:
        arrays = []
        f.visititems(lambda n, o: arrays.append((o.size, o.dtype)) if isinstance(o, h5py.Dataset) else None)
    assert {d for n, d in arrays if n < 100_000} == {np.dtype("float32")}
    assert {d for n, d in arrays if n >= 100_000} == {np.dtype("float16")}
    models.export_weights(model, tmp_path / "f32.weights.h5", dtype="float32")
    assert path.stat().st_size < 0.6 * (tmp_path / "f32.weights.h5").stat().st_size
