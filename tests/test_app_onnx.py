"""The app's runtime setting: Compare on ONNX Runtime gives Keras' pictures, names its device, and the
first page's imports never load TensorFlow (cold start)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from app_fixtures import colour_png, make_tiny_weights

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 180


def run_app(only=None):
    """The app's router, as `streamlit run app.py` runs it (as tests/test_app.py)."""
    import app

    app.main(only)


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    """The tiny weights folder (shared with test_app.py) and its default set exported to ONNX."""
    from colourise_core import onnx_export

    folder = make_tiny_weights(tmp_path_factory.getbasetemp() / "tiny_weights")
    out = tmp_path_factory.mktemp("onnx")
    onnx_export.export_set("imagenette", out=out, weights_dir=folder, log=lambda *_: None)
    return folder, out


@pytest.fixture(scope="module")
def with_unet(tiny_onnx, tmp_path_factory):
    """A copy of the tiny folder plus the shipped unet set `general`, all exported: Compare's fourth column."""
    from colourise_core import onnx_export, weights

    tiny, out = tiny_onnx
    folder = tmp_path_factory.mktemp("with_unet") / "weights"
    shutil.copytree(tiny, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    shipped = weights.read_manifest()["sets"]["general"]
    manifest["sets"]["general"] = {**shipped, "models": {"unet": shipped["models"]["unet"]}}
    (folder / "general").mkdir()
    shutil.copyfile(weights.resolve_weights_dir() / shipped["models"]["unet"]["file"], folder / "general" / "unet.weights.h5")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    onnx_export.export_set("general", out=out, weights_dir=folder, log=lambda *_: None)
    return folder, out


@pytest.fixture(autouse=True)
def app_env(monkeypatch, tmp_path, tiny_onnx):
    folder, out = tiny_onnx
    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("COLOURISE_ONNX_DIR", str(out))
    monkeypatch.setenv("COLOURISE_APP_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("COLOURISE_DATA_DIR", str(tmp_path / "no-datasets"))


def _results(at: AppTest, runtime: str) -> dict:
    at.sidebar.selectbox(key="sidebar_runtime").set_value(runtime).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    from app_support import paths, sessions

    memo = sessions._sessions[at.session_state[paths.SESSION_KEY]].store["compare"]  # the page's memo, newest last
    return [v for k, v in memo.items() if k[3] == runtime][-1]  # key (digest, set, version, runtime, ...)


def test_compare_on_onnx_runtime_matches_keras_and_says_so():
    at = AppTest.from_function(run_app, default_timeout=TIMEOUT).run()
    assert at.sidebar.selectbox(key="sidebar_runtime").value == "keras"  # the default
    at.radio(key="compare_source").set_value("Upload").run()
    at.file_uploader(key="compare_upload").set_value(("colour.png", colour_png((48, 64)), "image/png"))
    at.run()
    keras_results = _results(at, "keras")
    onnx_results = _results(at, "onnx")
    assert set(onnx_results) == {"cnn", "cgan", "cvae"}
    captions = [c for img in at.image for c in img.captions]
    assert {c.split(" · ")[0] for c in captions if " · " in c} >= {"CNN", "CGAN", "CVAE"}
    assert any("ONNX Runtime" in c.value and "CPU" in c.value for c in at.sidebar.caption)
    for model, r in onnx_results.items():
        assert r.rgb8.shape == (48, 64, 3)
        assert np.abs(r.rgb8.astype(int) - keras_results[model].rgb8).max() <= 1, model
        with Image.open(io.BytesIO(r.png)) as png:  # the download: encoded on the first click, kept
            np.testing.assert_array_equal(np.asarray(png), r.rgb8)
        assert r.png is r.png


def test_compare_runs_the_unet_on_onnx_runtime_too(with_unet, monkeypatch):
    """The fourth column (the unet from set `general` beside a dissertation set) on ONNX Runtime: Keras' colours."""
    folder, _ = with_unet
    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(folder))
    at = AppTest.from_function(run_app, default_timeout=TIMEOUT).run()
    at.radio(key="compare_source").set_value("Upload").run()
    at.file_uploader(key="compare_upload").set_value(("colour.png", colour_png((72, 100)), "image/png"))
    at.run()
    keras_results = _results(at, "keras")
    onnx_results = _results(at, "onnx")
    assert set(onnx_results) == set(keras_results) == {"cnn", "cgan", "cvae", "unet"}
    unet = onnx_results["unet"]
    assert unet.rgb8.shape == (72, 100, 3) and unet.seen == keras_results["unet"].seen == (64, 96)
    assert np.abs(unet.rgb8.astype(int) - keras_results["unet"].rgb8).max() <= 1
    assert unet.rgb8.astype(int).std(axis=-1).mean() > 1  # coloured, not grey
    at.select_slider(key="compare_vividness").set_value(0.25).run()  # the annealed mean's T reaches the ONNX decoding
    muted = _results(at, "onnx")["unet"].rgb8
    assert np.abs(muted.astype(int) - unet.rgb8).max() > 0


def test_first_page_with_onnx_never_imports_tensorflow(tiny_onnx, tmp_path):
    """A fresh process running app.py and Compare on ONNX Runtime, to the first results: no TensorFlow."""
    folder, out = tiny_onnx
    probe = tmp_path / "probe.py"  # a file: AppTest.from_function reads the function's source
    probe.write_text(f"""
import sys
from streamlit.testing.v1 import AppTest
def run_app():
    import app
    app.main()
at = AppTest.from_function(run_app, default_timeout={TIMEOUT}).run()
assert not at.exception, [e.value for e in at.exception]
shown = [c for img in at.image for c in img.captions if " · " in c]
print("SHOWN", sorted(c.split(" · ")[0] for c in shown))
print("IMPORTED", "tensorflow" in sys.modules, "keras" in sys.modules)
""")
    env = {**os.environ, "COLOURISE_WEIGHTS_DIR": str(folder), "COLOURISE_ONNX_DIR": str(out), "COLOURISE_RUNTIME": "onnx",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(probe)], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SHOWN ['CGAN', 'CNN', 'CVAE']" in proc.stdout
    assert "IMPORTED False False" in proc.stdout
