"""The lesson's part 5 ("Add information and it becomes well-posed") under AppTest: the PSNR curve
against N true hints for Levin's method and the shipped hint-taking U-Net (set "general") is the
library's for the same points, and the picture shown changes as N grows."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")

from streamlit.testing.v1 import AppTest  # noqa: E402

from app_fixtures import DownloadRecorder, colour_png, run_app, set_app_env  # noqa: E402

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
TIMEOUT = 600


@pytest.fixture
def recorder(monkeypatch):
    return DownloadRecorder().install(monkeypatch)  # keeps the media files the page shows


def _open_with_upload(data: bytes) -> AppTest:
    at = AppTest.from_function(run_app, default_timeout=TIMEOUT, kwargs={"only": "ill_posed"}).run()
    at.radio(key="ill_source").set_value("Upload").run()
    at.file_uploader(key="ill_upload").set_value(("photo.png", data, "image/png"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _curve(at: AppTest) -> dict[str, tuple[list, list]]:
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    spec = next(s for s in charts if "More information" in json.dumps(s.get("layout", {})))
    return {t["name"]: (list(t["x"]), list(t["y"])) for t in spec["data"]}


def _caption(at: AppTest) -> str:
    return next(c for img in at.image for c in img.captions if c.startswith("Levin et al. 2004 with"))


def _shown(at: AppTest, recorder: DownloadRecorder) -> np.ndarray:
    """The pixels of part 5's picture, as the browser would receive them."""
    from PIL import Image

    img = next(img for img in at.image if any(c.startswith("Levin et al. 2004 with") for c in img.captions))
    name = img.proto.imgs[0].url.rsplit("/", 1)[-1]
    with Image.open(io.BytesIO(recorder.manager._storage.get_file(name).content)) as im:
        return np.asarray(im.convert("RGB"))


def test_part5_unet_curve_is_the_librarys_and_the_picture_changes_with_n(monkeypatch, tmp_path, recorder):
    if not (WEIGHTS / "general" / "unet.weights.h5").is_file():
        pytest.fail("the shipped U-Net weights (weights/general/unet.weights.h5) are missing")
    set_app_env(monkeypatch, tmp_path, WEIGHTS)
    from PIL import Image

    from app_support import ill_posed, views
    from colourise_core import guided, metrics
    from colourise_core.weights import load_pretrained

    data = colour_png((48, 64), seed=3)
    at = _open_with_upload(data)
    work = ill_posed.lesson_image(np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255.0)
    unet = load_pretrained("unet", "general", weights_dir=WEIGHTS)
    methods = {"levin": guided.levin_true_hints, "unet": guided.unet_true_hints(unet, "user")}
    rows = guided.hints_curve(work, ns=ill_posed.LESSON_NS, seed=0, methods=methods)
    curve = _curve(at)
    assert set(curve) == {"Levin et al. 2004", "U-Net with hints"}
    for label, name in (("Levin et al. 2004", "levin"), ("U-Net with hints", "unet")):
        xs, ys = curve[label]
        assert xs == list(ill_posed.LESSON_NS)
        want = [r["psnr"] for r in rows if r["method"] == name]
        np.testing.assert_allclose(ys, want, rtol=0, atol=1e-9)
    unet_ys = curve["U-Net with hints"][1]
    assert unet_ys[-1] > unet_ys[0] + 1.0  # 100 true colours bring the U-Net closer than none

    shown = {}
    for n in (10, 50):
        at.slider(key="ill_hints_n").set_value(n).run()
        assert not at.exception
        outs = {name: fn(work, n, 100, 0) for name, fn in methods.items()}
        caption = _caption(at)
        for label, name in (("Levin et al. 2004", "levin"), ("U-Net with hints", "unet")):
            assert f"{label} with {n} true colour(s): PSNR {metrics.psnr(outs[name], work):.2f} dB" in caption
        shown[n] = _shown(at, recorder)
        expected = views.labelled_grid([(f"Levin, N = {n}", outs["levin"]), (f"U-Net, N = {n}", outs["unet"]),
                                        ("original", work)], height=160)
        assert shown[n].shape == expected.shape
        assert np.abs(shown[n].astype(int) - expected.astype(int)).mean() < 2.0  # the picture is these colourings
    assert np.abs(shown[50].astype(int) - shown[10].astype(int)).mean() > 0.5  # it changes as N grows


def test_part5_without_unet_weights_draws_levin_and_says_why(monkeypatch, tmp_path):
    set_app_env(monkeypatch, tmp_path)  # an empty weights folder
    at = _open_with_upload(colour_png((48, 64), seed=3))
    assert set(_curve(at)) == {"Levin et al. 2004"}
    assert any("U-Net's weights are missing" in i.value and "only Levin" in i.value for i in at.info)
    assert "U-Net" not in _caption(at)
