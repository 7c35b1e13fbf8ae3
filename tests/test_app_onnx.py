"""The app's runtime setting: Compare on ONNX Runtime gives Keras' pictures, names its device, and the
first page's imports never load TensorFlow (cold start)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.runtime import pages_manager
from streamlit.testing.v1 import AppTest

from app_fixtures import colour_png, make_tiny_weights

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TIMEOUT = 180


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    """The tiny weights folder (shared with test_app.py) and its default set exported to ONNX."""
    from colourise_core import onnx_export

    folder = make_tiny_weights(tmp_path_factory.getbasetemp() / "tiny_weights")
    out = tmp_path_factory.mktemp("onnx")
    onnx_export.export_set("imagenette", out=out, weights_dir=folder, log=lambda *_: None)
    return folder, out


@pytest.fixture(autouse=True)
def app_env(monkeypatch, tmp_path, tiny_onnx):
    folder, out = tiny_onnx
    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("COLOURISE_ONNX_DIR", str(out))
    monkeypatch.setenv("COLOURISE_APP_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("COLOURISE_DATA_DIR", str(tmp_path / "no-datasets"))
    real_init = pages_manager.PagesManager.__init__

    def init(self, *args, **kwargs):  # as tests/test_app.py: a server that served its first request
        real_init(self, *args, **kwargs)
        pages_manager.PagesManager.uses_pages_directory = False

    monkeypatch.setattr(pages_manager.PagesManager, "__init__", init)


def _results(at: AppTest, runtime: str) -> dict:
    at.sidebar.selectbox(key="sidebar_runtime").set_value(runtime).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    memo = at.session_state["_memo_compare"]  # most recent last; key (digest, set, version, runtime, ...)
    return [v for k, v in memo.items() if k[3] == runtime][-1]


def test_compare_on_onnx_runtime_matches_keras_and_says_so():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
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


def test_first_page_with_onnx_never_imports_tensorflow(tiny_onnx):
    """A fresh process running app.py and Compare on ONNX Runtime, to the first results: no TensorFlow."""
    folder, out = tiny_onnx
    probe = f"""
import sys
from streamlit.runtime import pages_manager
from streamlit.testing.v1 import AppTest
real = pages_manager.PagesManager.__init__
def init(self, *a, **k):
    real(self, *a, **k)
    pages_manager.PagesManager.uses_pages_directory = False
pages_manager.PagesManager.__init__ = init
at = AppTest.from_file({APP!r}, default_timeout={TIMEOUT}).run()
assert not at.exception, [e.value for e in at.exception]
shown = [c for img in at.image for c in img.captions if " · " in c]
print("SHOWN", sorted(c.split(" · ")[0] for c in shown))
print("IMPORTED", "tensorflow" in sys.modules, "keras" in sys.modules)
"""
    env = {**os.environ, "COLOURISE_WEIGHTS_DIR": str(folder), "COLOURISE_ONNX_DIR": str(out), "COLOURISE_RUNTIME": "onnx",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SHOWN ['CGAN', 'CNN', 'CVAE']" in proc.stdout
    assert "IMPORTED False False" in proc.stdout
