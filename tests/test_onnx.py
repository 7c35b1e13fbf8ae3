"""ONNX export (`weights export SET --format onnx`) and runtime (`--runtime onnx`): parity with Keras
for every family and shipped resolution, the export's files, clear messages, no TensorFlow import."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app_fixtures import smooth_photo
from colourise_core import cli, colour, inference, models, onnx_export, onnx_runtime, weights
from colourise_core.errors import ColouriseError, WeightsError

REPO = Path(__file__).resolve().parents[1]
SET = "tiny"


_photo = smooth_photo


@pytest.fixture(scope="module")
def tiny_set(tiny_runs, tmp_path_factory):
    """A weights folder with set "tiny" (the three tiny trained models), exported with the CLI verb.

    Returns (weights_dir, onnx_root).
    """
    root = tmp_path_factory.mktemp("onnx_set")
    folder, out = root / "weights", root / "onnx"
    entry = {"dataset": "shapes", "classes": None, "resolution": 32, "models": {}}
    for name, run in tiny_runs.items():
        (folder / SET).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run / "model.weights.h5", folder / SET / f"{name}.weights.h5")
        entry["models"][name] = {"file": f"{SET}/{name}.weights.h5", "sha256": weights.sha256_file(folder / SET / f"{name}.weights.h5"),
                                 "spec": json.loads((run / "spec.json").read_text()), "epochs": 1,
                                 "command": "tests/conftest.py tiny_runs", "metrics": {}}
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "hub": None, "sets": {SET: entry}}))
    rc = cli.main(["weights", "export", SET, "--format", "onnx", "--weights-dir", str(folder), "--out", str(out)])
    assert rc == 0
    return folder, out


@pytest.fixture(scope="module")
def onnx_models(tiny_set):
    folder, out = tiny_set
    return {m: onnx_runtime.load(m, SET, root=out, weights_dir=folder) for m in ("cnn", "cgan", "cvae")}


def test_export_writes_each_graph_and_its_spec(tiny_set):
    folder, out = tiny_set
    files = sorted(p.name for p in (out / SET).iterdir())
    assert files == ["cgan.onnx.json", "cgan.uv.onnx", "cnn.onnx.json", "cnn.uv.onnx", "cvae.cond_encoder.onnx",
                     "cvae.decoder.onnx", "cvae.onnx.json"]
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, graphs, decoding in [("cnn", ["uv"], "uv"), ("cgan", ["uv"], "uv"), ("cvae", ["cond_encoder", "decoder"], "latent")]:
        spec = json.loads((out / SET / f"{name}.onnx.json").read_text())
        assert sorted(spec["graphs"]) == graphs and spec["decoding"] == decoding
        assert spec["source"]["sha256"] == manifest["sets"][SET]["models"][name]["sha256"]
        assert spec["spec"] == manifest["sets"][SET]["models"][name]["spec"]
        assert 0 <= spec["parity_max_abs"] <= 1 / 255
        for graph in spec["graphs"].values():
            assert weights.sha256_file(out / SET / graph["file"]) == graph["sha256"]
    assert json.loads((out / SET / "cvae.onnx.json").read_text())["input"]["fixed_size"] is True
    assert json.loads((out / SET / "cnn.onnx.json").read_text())["input"] == {
        "resolution": 32, "fixed_size": False, "stride": 8, "default_render": None, "samples": False, "hint_side": 1,
        "temperature_default": 0.0}


@pytest.mark.parametrize("name", ["cnn", "cgan"])
@pytest.mark.parametrize("size", [(32, 32), (48, 64)])
def test_parity_uv_families(tiny_models, onnx_models, name, size):
    y = np.random.default_rng(1).uniform(0, 1, (2,) + size + (1,)).astype("float32")
    want = inference.predict_uv(tiny_models[name], y)
    got = inference.model_predict_uv(onnx_models[name], y)
    assert got.shape == want.shape == (1, 2) + size + (2,)
    assert np.abs(got - want).max() <= 1e-4


@pytest.mark.parametrize("samples,temperature,seed", [(1, 0.0, 0), (3, 0.0, 0), (3, 1.5, 4), (2, 2.0, 9)])
def test_parity_cvae_sampling(tiny_models, onnx_models, samples, temperature, seed):
    y = np.random.default_rng(2).uniform(0, 1, (2, 32, 32, 1)).astype("float32")
    want = inference.predict_uv(tiny_models["cvae"], y, samples, temperature, seed)
    got = onnx_models["cvae"].predict_uv(y, samples, temperature, seed)
    assert got.shape == want.shape == (samples, 2, 32, 32, 2)
    assert np.abs(got - want).max() <= 1e-4
    if temperature > 0:
        assert np.abs(got[0] - got[1]).max() > 1e-3  # the samples differ, as Keras' do


def test_parity_full_size_pixels(tiny_models, onnx_models):
    rgb = _photo(667, 1001)
    want = inference.colourise_many(rgb, tiny_models, samples={"cvae": 2}, temperature={"cvae": 1.0}, seed=3,
                                    render_size={"cnn": 128})
    got = inference.colourise_many(rgb, onnx_models, samples={"cvae": 2}, temperature={"cvae": 1.0}, seed=3,
                                   render_size={"cnn": 128})
    for name in want:
        assert got[name].seen == want[name].seen
        assert np.abs(got[name].rgb8.astype(int) - want[name].rgb8).max() <= 1, name


@pytest.mark.parametrize("name", ["cnn", "cgan", "cvae"])
@pytest.mark.parametrize("resolution", [64, 128])
def test_parity_at_the_shipped_resolutions(tmp_path, name, resolution):
    """The shipped sets are at 32 (the tiny models above), 64 and 128 px: the same layouts, random weights."""
    model = models.build_model(name, resolution, **({"latent_dim": 64} if name == "cvae" else {}))
    path = onnx_export.export_model(model, tmp_path, name)
    onnx = onnx_runtime.OnnxModel(path)
    y = np.random.default_rng(3).uniform(0, 1, (1, resolution, resolution, 1)).astype("float32")
    args = (2, 1.0, 5) if name == "cvae" else (1, 0.0, 0)
    want = inference.predict_uv(model, y, *args)
    assert np.abs(onnx.predict_uv(y, *args) - want).max() <= 1e-4
    assert onnx.input_size(600, 900, 256) == inference.input_size(model, 600, 900, 256)


def test_cli_export_prints_its_own_lines_only(tiny_set, tmp_path, capfd):
    """TensorFlow's C++ optimiser lines and tf2onnx's warnings are held back on success."""
    folder, _ = tiny_set
    capfd.readouterr()
    rc = cli.main(["weights", "export", SET, "--model", "cnn", "--weights-dir", str(folder), "--out", str(tmp_path)])
    out, err = capfd.readouterr()
    assert rc == 0
    assert out == f"{SET}/cnn: cnn.uv.onnx + cnn.onnx.json in {tmp_path / SET}\n"
    assert err == ""


def test_cli_export_shows_what_it_held_when_it_fails(monkeypatch, capfd):
    def failing_export(*args, **kwargs):
        os.write(2, b"native converter log line\n")
        raise ColouriseError("the ONNX graph 'uv' of cnn differs from Keras by 0.1 (> 1/255)")

    monkeypatch.setattr(onnx_export, "export_set", failing_export)
    rc = cli.main(["weights", "export", SET])
    err = capfd.readouterr().err
    assert rc == 2
    assert "native converter log line" in err and "differs from Keras by 0.1" in err
    assert err.index("native converter log line") < err.index("differs from Keras")


def test_export_refuses_what_the_runtime_cannot_decode():
    with pytest.raises(ColouriseError, match=r"no ONNX runtime decoding for inference graphs \['encoder', 'head'\]"):
        onnx_export.decoding({"encoder": None, "head": None})


def test_missing_onnxruntime_gives_a_clear_message(tiny_set, tmp_path, monkeypatch, capsys):
    folder, out = tiny_set
    Image.fromarray(_photo(20, 30)).save(tmp_path / "p.png")
    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("COLOURISE_ONNX_DIR", str(out))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    rc = cli.main(["colourise", str(tmp_path / "p.png"), "--runtime", "onnx", "--weights", SET, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "needs onnxruntime, which is not installed" in err and "pip install 'colourise[onnx]'" in err
    assert "--runtime keras" in err and "Traceback" not in err
    assert not list(tmp_path.glob("o/*.png"))  # nothing written
    assert not onnx_runtime.available()


def test_missing_or_stale_export_is_refused_with_the_command(tiny_set, tmp_path):
    folder, out = tiny_set
    with pytest.raises(WeightsError, match=r"no ONNX export of 'cnn' of weights set 'other'.*weights export other --format onnx.*COLOURISE_ONNX_DIR=DIR"):
        onnx_runtime.load("cnn", "other", root=out, weights_dir=folder)
    stale = tmp_path / "onnx"
    shutil.copytree(out, stale)
    spec = json.loads((stale / SET / "cnn.onnx.json").read_text())
    spec["source"]["sha256"] = "0" * 64
    (stale / SET / "cnn.onnx.json").write_text(json.dumps(spec))
    with pytest.raises(WeightsError, match="made from other 'cnn' weights than the manifest's"):
        onnx_runtime.load("cnn", SET, root=stale, weights_dir=folder)
    # What the benchmarks check before exporting again: current, stale, missing.
    assert onnx_runtime.export_current("cnn", SET, root=out, weights_dir=folder)
    assert not onnx_runtime.export_current("cnn", SET, root=stale, weights_dir=folder)
    assert not onnx_runtime.export_current("cnn", "other", root=out, weights_dir=folder)


def test_cli_onnx_runtime_never_imports_tensorflow_and_matches_keras(tiny_set, tmp_path):
    folder, out = tiny_set
    Image.fromarray(_photo(90, 120)).save(tmp_path / "p.png")
    env = {**os.environ, "COLOURISE_WEIGHTS_DIR": str(folder), "COLOURISE_ONNX_DIR": str(out), "PYTHONPATH": str(REPO)}
    probe = ("import sys; from colourise_core import cli; rc = cli.main(sys.argv[1:]); "
             "print('IMPORTED', 'tensorflow' in sys.modules, 'keras' in sys.modules); sys.exit(rc)")
    args = ["colourise", str(tmp_path / "p.png"), "--model", "all", "--weights", SET, "--verbose"]
    proc = subprocess.run([sys.executable, "-c", probe, *args, "--runtime", "onnx", "--out", str(tmp_path / "onnx_out")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "IMPORTED False False" in proc.stdout
    assert "runtime: ONNX Runtime" in proc.stderr and "CPU" in proc.stderr
    proc = subprocess.run([sys.executable, "-c", probe, *args, "--runtime", "keras", "--out", str(tmp_path / "keras_out")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "runtime: Keras" in proc.stderr
    for name in ("cnn", "cgan", "cvae"):
        a = np.asarray(Image.open(tmp_path / "onnx_out" / f"p.{name}.png"), dtype=int)
        b = np.asarray(Image.open(tmp_path / "keras_out" / f"p.{name}.png"), dtype=int)
        assert a.shape == (90, 120, 3) and np.abs(a - b).max() <= 1, name
    ref = colour.to_uint8(inference.colourise(tmp_path / "p.png", weights.load_pretrained("cnn", SET, weights_dir=folder)))
    assert np.abs(np.asarray(Image.open(tmp_path / "onnx_out" / "p.cnn.png"), dtype=int) - ref).max() <= 1


def test_family_names_without_keras_agree_with_the_registry():
    from colourise_core import family_names

    assert family_names.FAMILY_NAMES == models.MODEL_NAMES
    assert family_names.DISSERTATION_FAMILIES == models.DISSERTATION_MODELS
    for name in models.MODEL_NAMES:  # the Keras-free lists say what each family's interface says
        family = models.get_family(name)
        assert (name in family_names.SAMPLING_FAMILIES) == family.samples, name
        assert (name in family_names.FIXED_SIZE_FAMILIES) == family.fixed_size, name
        assert (name in family_names.HINT_FAMILIES) == family.takes_hints, name
