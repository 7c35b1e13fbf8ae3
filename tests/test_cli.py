import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colourise_core import cli, colour

REPO = Path(__file__).resolve().parents[1]


def _gradient(h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx / w, yy / h, 0.5 + 0.4 * np.sin((xx + yy) / 40)], -1)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    Image.fromarray(_gradient(667, 1001)).save(d / "wide.jpg", quality=90)  # 1001x667 JPEG
    Image.fromarray(_gradient(1001, 67)).convert("L").save(d / "tall.png")  # 67x1001 PNG
    return d


def _luma(path):
    return colour.rgb_to_y(np.asarray(Image.open(path).convert("RGB"), np.float64) / 255.0)


@pytest.mark.parametrize("name", ["cnn", "cgan", "cvae"])
def test_colourise_sizes_and_luma(tiny_runs, photos, tmp_path, name, capsys):
    code = cli.main(["colourise", str(photos / "wide.jpg"), str(photos / "tall.png"), "--model", name,
                     "--weights", str(tiny_runs[name]), "--out", str(tmp_path)])
    assert code == 0
    for stem, size in (("wide", (1001, 667)), ("tall", (67, 1001))):
        out = tmp_path / f"{stem}.{name}.png"
        assert Image.open(out).size == size
        assert np.abs(_luma(out) - _luma(photos / f"{stem}{'.jpg' if stem == 'wide' else '.png'}")).max() <= 1 / 255


def test_cvae_samples_named(tiny_runs, photos, tmp_path):
    code = cli.main(["colourise", str(photos / "tall.png"), "--model", "cvae", "--weights", str(tiny_runs["cvae"]),
                     "--samples", "3", "--temperature", "1.0", "--seed", "3", "--out", str(tmp_path)])
    assert code == 0
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [f"tall.cvae.{i}.png" for i in range(3)]


def test_bad_inputs_reported_and_others_still_written(tiny_runs, photos, tmp_path, make_large_png, capsys):
    (tmp_path / "in").mkdir()
    text = tmp_path / "in" / "notes.jpg"
    text.write_text("not an image")
    empty = tmp_path / "in" / "empty.png"
    empty.write_bytes(b"")
    jpeg = (photos / "wide.jpg").read_bytes()
    truncated = tmp_path / "in" / "cut.jpg"
    truncated.write_bytes(jpeg[: len(jpeg) // 2])
    bomb = make_large_png(20000, 20000, "bomb.png")
    out = tmp_path / "out"
    code = cli.main(["colourise", str(text), str(empty), str(truncated), str(bomb), str(photos / "tall.png"),
                     "--weights", str(tiny_runs["cnn"]), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "notes.jpg is not an image" in err
    assert "empty.png is empty (0 bytes)" in err
    assert "cut.jpg is truncated or corrupt" in err
    assert "too large to decode safely" in err and "400,000,000 pixels" in err
    assert sorted(p.name for p in out.iterdir()) == ["colourise-names.json", "tall.cnn.png"]  # nothing half-written


def test_missing_weights_message(tmp_path, capsys):
    code = cli.main(["colourise", "x.jpg", "--weights", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: weights '{tmp_path / 'nowhere'}': there is no run folder {tmp_path / 'nowhere'}"), err
    assert "pass a weights set name or the folder of a training run" in err
    assert not list((tmp_path / "out").glob("*.png"))  # nothing written


def test_evaluate_on_the_luma_matched_shape_set(tiny_runs, capsys):
    """`evaluate --luma-matched` scores the luma-matched Shape Set (what the shipped shapes sets
    were trained and measured on), not the plain one; the flag is refused for another dataset."""
    from colourise_core import evaluation, training
    from colourise_core.data import ShapeSetConfig, load_dataset

    base = ["evaluate", "--model", "cnn", "--weights", str(tiny_runs["cnn"]), "--dataset", "shapes", "--limit", "16"]
    assert cli.main(base + ["--luma-matched"]) == 0
    matched = json.loads(capsys.readouterr().out)
    data = load_dataset("shapes", split="test", resolution=32, limit=16, seed=0,
                        shapes_config=ShapeSetConfig(luma_matched=True))
    direct = evaluation.evaluate_model(training.load_run(tiny_runs["cnn"]), data)
    assert matched["baseline"]["uv_mse"] == pytest.approx(direct["baseline"]["uv_mse"], rel=1e-6)
    assert matched["uv_mse"] == pytest.approx(direct["uv_mse"], rel=1e-6)
    assert cli.main(base) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["baseline"]["uv_mse"] != pytest.approx(matched["baseline"]["uv_mse"], rel=1e-3)
    code = cli.main(["evaluate", "--model", "cnn", "--weights", str(tiny_runs["cnn"]), "--dataset", "cifar10",
                     "--luma-matched"])
    assert code == 2
    assert "--luma-matched is a Shape Set option (--dataset shapes), not for cifar10" in capsys.readouterr().err


def test_evaluate_prints_json_beside_baseline(tiny_runs, capsys):
    code = cli.main(["evaluate", "--model", "cnn", "--weights", str(tiny_runs["cnn"]), "--dataset", "shapes",
                     "--limit", "16"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"model", "weights", "dataset", "split", "uv_mse", "psnr", "colourfulness", "n",
                        "truth_colourfulness", "baseline", "colour"}
    assert (out["model"], out["weights"], out["dataset"], out["split"], out["n"]) == ("cnn", str(tiny_runs["cnn"]), "shapes", "test", 16)
    assert set(out["baseline"]) == {"uv_mse", "psnr", "colourfulness"}
    assert out["baseline"]["colourfulness"] == 0.0 and out["baseline"]["uv_mse"] > 0
    # the figures are the library's on the same 16 test images
    from colourise_core import evaluation, training
    from colourise_core.data import load_dataset

    data = load_dataset("shapes", split="test", resolution=32, limit=16, seed=0)
    direct = evaluation.evaluate_model(training.load_run(tiny_runs["cnn"]), data)
    assert out["uv_mse"] == pytest.approx(direct["uv_mse"], rel=1e-6)
    assert out["baseline"]["uv_mse"] == pytest.approx(direct["baseline"]["uv_mse"], rel=1e-6)
    # the pooled colour figures, from the predictions themselves: c = RGB - Y of the truth
    true = data.load(np.arange(16))
    pred = evaluation.predict_rgb(training.load_run(tiny_runs["cnn"]), true)[0]
    y = np.repeat(colour.rgb_to_y(true), 3, axis=-1).astype(np.float64)
    ct, cp = true - y, pred - y
    assert set(out["colour"]) == {"mse_over_grey", "energy_ratio", "rho2"}
    assert out["colour"]["mse_over_grey"] == pytest.approx(np.sum((pred - true) ** 2) / np.sum(ct ** 2), rel=1e-5)
    assert out["colour"]["energy_ratio"] == pytest.approx(np.sqrt(np.sum(cp ** 2) / np.sum(ct ** 2)), rel=1e-5)
    assert out["colour"]["rho2"] == pytest.approx(np.sum(cp * ct) ** 2 / (np.sum(cp ** 2) * np.sum(ct ** 2)), rel=1e-5)


def test_module_entry_point(tiny_runs, photos, tmp_path):
    done = subprocess.run([sys.executable, "-m", "colourise_core", "colourise", str(photos / "tall.png"), "--model", "cnn",
                           "--weights", str(tiny_runs["cnn"]), "--out", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert Image.open(tmp_path / "tall.cnn.png").size == (67, 1001)


def test_the_short_form_is_the_colourise_command(tiny_runs, photos, tmp_path, capsys):
    """`colourise IMAGE ...` (the usage's and the issues' form) is `colourise colourise IMAGE ...`."""
    options = ["--model", "cnn", "--weights", str(tiny_runs["cnn"])]
    assert cli.main([str(photos / "tall.png"), *options, "--out", str(tmp_path / "short")]) == 0
    assert cli.main(["colourise", str(photos / "tall.png"), *options, "--out", str(tmp_path / "long")]) == 0
    assert (tmp_path / "short" / "tall.cnn.png").read_bytes() == (tmp_path / "long" / "tall.cnn.png").read_bytes()
    scan = tmp_path / "scan"  # no extension, but a file: an image
    scan.write_bytes((photos / "tall.png").read_bytes())
    assert cli.main([str(scan), *options, "--out", str(tmp_path / "bare")]) == 0
    assert (tmp_path / "bare" / "scan.cnn.png").read_bytes() == (tmp_path / "long" / "tall.cnn.png").read_bytes()
    assert cli.parse_args(["old photos/", "--model", "cnn"]).images == ["old photos/"]  # a folder, by its slash
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:  # a mistyped command is still named as one, not taken for an image
        cli.main(["evalute", "--model", "cnn"])
    assert stop.value.code == 2 and "invalid choice: 'evalute'" in capsys.readouterr().err


def test_default_weights_work_offline(photos, tmp_path):
    """`colourise photo.jpg` with no --weights uses the shipped imagenette set, with the Hub unreachable."""
    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-m", "colourise_core", str(photos / "wide.jpg"),  # the short form
                           "--out", str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path / "wide.cnn.png"
    assert Image.open(out).size == (1001, 667)
    assert np.abs(_luma(out) - _luma(photos / "wide.jpg")).max() <= 1 / 255


def test_model_unet_and_all_without_weights_take_the_unet_from_the_general_set(photos, tmp_path, capfd):
    """The default set (imagenette) has no U-Net: `--model unet` and `--model all` take it from
    `general` (and say so), the same pixels as naming `--weights general`; named weights stay strict."""
    image = str(photos / "tall.png")
    assert cli.main(["colourise", image, "--model", "unet", "--out", str(tmp_path / "default")]) == 0
    assert "note: unet from weight set 'general' ('imagenette' has none" in capfd.readouterr().err
    assert cli.main(["colourise", image, "--model", "unet", "--weights", "general", "--out", str(tmp_path / "named")]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "default" / "tall.unet.png")),
                                  np.asarray(Image.open(tmp_path / "named" / "tall.unet.png")))
    assert cli.model_sources("all", None) == {"cnn": "imagenette", "cgan": "imagenette", "cvae": "imagenette",
                                              "unet": "general"}
    assert cli.model_sources("all", "imagenette") == dict.fromkeys(("cnn", "cgan", "cvae"), "imagenette")
    capfd.readouterr()
    assert cli.main(["colourise", image, "--model", "unet", "--weights", "imagenette", "--out", str(tmp_path / "x")]) == 2
    assert "weights set 'imagenette' has no 'unet' model; it has: cgan, cnn, cvae; sets with one: " in capfd.readouterr().err


def test_model_sources_without_any_unet_set_leave_it_out_of_all(tmp_path, monkeypatch):
    from app_fixtures import write_placeholder_sets

    write_placeholder_sets(tmp_path, {"imagenette": ("imagenette", ("cnn", "cvae")), "faces": ("faces", ("cgan",))})
    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(tmp_path))
    assert cli.model_sources("all", None) == {"cnn": "imagenette", "cgan": "faces", "cvae": "imagenette"}
    assert cli.model_sources("unet", None) == {"unet": "imagenette"}  # loading then names what is missing


def test_model_all_with_a_run_folder_colourises_with_the_model_it_holds(tiny_runs, photos, tmp_path, capsys):
    """A run folder holds one model: `--model all` writes that model's result only, the same pixels as naming it."""
    for model, out in (("all", tmp_path / "all"), ("cgan", tmp_path / "named")):
        assert cli.main(["colourise", str(photos / "tall.png"), "--model", model, "--weights", str(tiny_runs["cgan"]),
                         "--out", str(out)]) == 0
    assert sorted(p.name for p in (tmp_path / "all").glob("*.png")) == ["tall.cgan.png"]
    a = np.asarray(Image.open(tmp_path / "all" / "tall.cgan.png"))
    b = np.asarray(Image.open(tmp_path / "named" / "tall.cgan.png"))
    np.testing.assert_array_equal(a, b)


def test_render_size_changes_what_the_model_sees(tiny_runs, photos, tmp_path, capsys):
    """--render-size 64: the PNG is the library's colourisation at render size 64 (not the default)."""
    from colourise_core import inference, training

    image = photos / "wide.jpg"
    for flag, out in (([], tmp_path / "default"), (["--render-size", "64"], tmp_path / "r64")):
        assert cli.main(["colourise", str(image), "--model", "cnn", "--weights", str(tiny_runs["cnn"]),
                         "--out", str(out), *flag]) == 0
    model = training.load_run(tiny_runs["cnn"])
    assert inference.input_size(model, 667, 1001, render_size=64) == (40, 64)  # vs 32 x 32 by default
    got = np.asarray(Image.open(tmp_path / "r64" / "wide.cnn.png").convert("RGB"), np.int16)
    want = colour.to_uint8(inference.colourise(image, model, render_size=64)).astype(np.int16)
    default = np.asarray(Image.open(tmp_path / "default" / "wide.cnn.png").convert("RGB"), np.int16)
    assert np.abs(got - want).max() <= 1
    assert np.abs(got - default).max() > 2  # the flag really changed the result


def _trainable(model) -> list:
    import keras

    return [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]


def test_init_weights_fine_tunes_from_the_given_file(tiny_runs, tmp_path, capsys):
    """`train --init-weights W` starts from W: with a learning rate of 0 the run ends where W was.

    W is a run's model.weights.h5, which also holds that run's optimizer (its learning rate and
    moments): fine-tuning must use its own learning rate, not the file's.
    """
    from colourise_core import training

    start = tiny_runs["cnn"] / "model.weights.h5"
    args = ["train", "--model", "cnn", "--dataset", "shapes", "--resolution", "32", "--epochs", "1", "--limit", "32",
            "--batch-size", "16", "--val-limit", "16", "--learning-rate", "0", "--seed", "5"]
    assert cli.main(args + ["--init-weights", str(start), "--out", str(tmp_path / "tuned")]) == 0
    assert cli.main(args + ["--out", str(tmp_path / "fresh")]) == 0
    source = _trainable(training.load_run(tiny_runs["cnn"]))
    tuned = _trainable(training.load_run(tmp_path / "tuned"))
    fresh = _trainable(training.load_run(tmp_path / "fresh"))
    assert all(np.array_equal(a, b) for a, b in zip(tuned, source))
    assert not all(np.array_equal(a, b) for a, b in zip(fresh, source))  # without the flag: other weights
    config = json.loads((tmp_path / "tuned" / "train_config.json").read_text())
    assert config["init_weights"] == str(start)


def test_init_weights_of_another_model_is_refused(tiny_runs, tmp_path, capsys):
    code = cli.main(["train", "--model", "cnn", "--dataset", "shapes", "--resolution", "32", "--epochs", "1",
                     "--limit", "32", "--batch-size", "16", "--val-limit", "16",
                     "--init-weights", str(tiny_runs["cvae"] / "model.weights.h5"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "holds weights for cvae at 32 px, but the model to load is cnn at 32 px" in err, err


def test_fine_tune_takes_the_bin_prior_of_its_own_data(tmp_path, capsys):
    """A unet fine-tuned on other data rebalances for that data: the run's prior is the one its own
    training images give (`prepare`), not the starting file's (here a fresh model's uniform prior)."""
    import keras

    from colourise_core import models, training

    start = tmp_path / "start.weights.h5"
    fresh = models.build_model("unet", 32)
    models.save_weights_atomic(fresh, start)
    uniform = keras.ops.convert_to_numpy(fresh.prior)
    assert np.allclose(uniform, uniform[0])
    args = ["train", "--model", "unet", "--dataset", "shapes", "--resolution", "32", "--epochs", "1", "--limit", "32",
            "--batch-size", "16", "--val-limit", "16", "--learning-rate", "0", "--seed", "5",
            "--model-config", '{"hint_none": 0.25}']
    assert cli.main(args + ["--init-weights", str(start), "--out", str(tmp_path / "tuned")]) == 0
    assert cli.main(args + ["--out", str(tmp_path / "scratch")]) == 0
    tuned = keras.ops.convert_to_numpy(training.load_run(tmp_path / "tuned").prior)
    scratch = keras.ops.convert_to_numpy(training.load_run(tmp_path / "scratch").prior)
    np.testing.assert_allclose(tuned, scratch, rtol=1e-6)  # the same data: the same prior
    assert not np.allclose(tuned, uniform)  # not the starting file's


def test_train_into_a_folder_that_holds_a_run_keeps_it_unless_told(tmp_path, capsys):
    """A second `train` into the same --out (the default runs/MODEL-DATASET, say) does not wipe the
    first run's epochs: it is refused with what to do; --overwrite starts afresh, --resume continues."""
    out = tmp_path / "run"
    args = ["train", "--model", "cnn", "--dataset", "shapes", "--resolution", "32", "--limit", "32",
            "--batch-size", "16", "--val-limit", "16", "--out", str(out)]
    assert cli.main(args + ["--epochs", "2"]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in (out / "checkpoints").iterdir()}
    history = (out / "history.json").read_text()
    assert cli.main(args + ["--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{out} already holds 2 trained epoch(s); pass --resume to continue it, --overwrite to start afresh" in err
    assert {p.name: p.read_bytes() for p in (out / "checkpoints").iterdir()} == before
    assert (out / "history.json").read_text() == history
    assert cli.main(args + ["--epochs", "1", "--resume", "--overwrite"]) == 2
    assert "give one of them" in capsys.readouterr().err
    assert cli.main(args + ["--epochs", "3", "--resume"]) == 0
    assert len(json.loads((out / "history.json").read_text())) == 3
    assert cli.main(args + ["--epochs", "1", "--overwrite"]) == 0
    assert len(json.loads((out / "history.json").read_text())) == 1
