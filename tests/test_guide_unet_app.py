"""The "Guide the colours" page with the shipped hint-taking U-Net (weights/ set "general"), under AppTest.

The U-Net result beside Levin's must follow the hints; without the weights the page says so and
still shows Levin's. (The rest of the page: tests/test_guide_app.py.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")

from test_guide_app import hints_json, result_caption, start, upload, upload_photo  # noqa: E402

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


@pytest.fixture
def app_env(monkeypatch, tmp_path):
    monkeypatch.setenv("COLOURISE_APP_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("COLOURISE_DATA_DIR", str(tmp_path / "no-datasets"))


@pytest.fixture
def with_unet(app_env, monkeypatch):
    if not (WEIGHTS / "general" / "unet.weights.h5").is_file():
        pytest.fail("the shipped U-Net weights (weights/general/unet.weights.h5) are missing")
    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(WEIGHTS))


def unet_caption(at) -> str:
    return next(c for img in at.image for c in img.captions if c.startswith("U-Net with the hints"))


def uv_at(rgb: np.ndarray, x: int, y: int, scale: float) -> np.ndarray:
    from colourise_core.colour import rgb_to_yuv

    return rgb_to_yuv(rgb[int((y + 0.5) * scale), int((x + 0.5) * scale)].astype(np.float64))[1:]


def test_unet_result_follows_the_hints_beside_levin(with_unet):
    from colourise_core import hints as hints_mod

    at = upload_photo(start())  # 64 x 48, shown 440 x 330
    assert unet_caption(at).startswith("U-Net with the hints · 0 hint(s) · PSNR")
    before = np.array(at.session_state["guide_unet_result"])
    assert before.shape == (330, 440, 3)
    scale = 440 / 64
    # a blue hint on the yellowish gradient (true colour there about (194, 196, 61)), and a magenta one
    hints = [(48, 36, [40, 90, 220]), (10, 5, [200, 40, 200])]
    upload(at, "guide_hints_upload", "h.json", hints_json(hints, 3), "application/json")
    assert unet_caption(at).startswith("U-Net with the hints · 2 hint(s)")
    assert result_caption(at).startswith("Levin et al. 2004 · 2 hint(s)")  # still beside it
    after = np.array(at.session_state["guide_unet_result"])
    for x, y, rgb in hints:
        target = hints_mod.hint_uv(tuple(rgb))
        d0 = np.linalg.norm(uv_at(before, x, y, scale) - target)
        d1 = np.linalg.norm(uv_at(after, x, y, scale) - target)
        # measured: 0.211 -> 0.147 (blue) and 0.387 -> 0.245 (magenta); the hint's full chroma does not
        # fit the RGB cube at these pixels' luma, so it cannot be reached exactly
        assert d1 < 0.8 * d0, (x, y, d0, d1)
    # the luma is the photo's: the U-Net only gives chroma
    from colourise_core.colour import rgb_to_y

    assert np.abs(rgb_to_y(after.astype(np.float64)) - rgb_to_y(before.astype(np.float64))).max() <= 1 / 255 + 1e-6


def test_without_unet_weights_the_page_says_so_and_shows_levin(app_env, monkeypatch, tmp_path):
    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    at = upload_photo(start())
    assert any("The U-Net's weights are missing" in i.value for i in at.info)
    assert not any(c.startswith("U-Net") for img in at.image for c in img.captions)
    assert result_caption(at).startswith("Levin et al. 2004 · 0 hint(s)")
    assert at.session_state["guide_unet_result"] is None


def test_colour_choice_from_what_the_unet_finds_likely(with_unet):
    import io

    from PIL import Image

    from app_fixtures import colour_png
    from app_support import guide

    at = upload_photo(start())
    upload(at, "guide_hints_upload", "h.json", hints_json([(48, 36, [40, 90, 220]), (10, 40, [0, 0, 0])]),
           "application/json")
    assert at.session_state["guide_state"]["selected"] == 1  # the last hint loaded
    at.radio(key="guide_colour_way").set_value("What the U-Net finds likely here").run()
    assert not at.exception, [e.value for e in at.exception]
    likely = at.session_state["guide_likely"]
    probs = [p for p, _ in likely]
    assert 2 <= len(likely) <= 6 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-9
    photo = np.asarray(Image.open(io.BytesIO(colour_png((48, 64), 0))).convert("RGB"), np.float64) / 255
    y_pixel = guide.grey_luma(photo)[40, 10, 0]
    for _, rgb in likely:  # each swatch has the pixel's own brightness
        assert abs(guide.grey_luma(np.array(rgb, np.float64) / 255)[0] - y_pixel) <= 1 / 255
    swatches = [c for img in at.image for c in img.captions if c.endswith("%")]
    assert swatches == [f"{p:.0%}" for p in probs]
    levin_before = result_caption(at)
    _, top = likely[0]
    at.button(key=f"guide_likely_1_0_{guide.rgb_to_hex(top)}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["guide_state"]["points"][1]["rgb"] == list(top)
    assert result_caption(at) != levin_before  # the hint's new colour coloured the result


def test_likely_colours_follow_a_nearby_hint(with_unet):
    """The distribution is the U-Net's given the other hints: a red hint next to the pixel of a flat
    grey photo makes red there more likely."""
    from app_support import guide
    from colourise_core import hints as hints_mod
    from colourise_core.colour import rgb_to_yuv
    from colourise_core.weights import load_pretrained

    net = load_pretrained("unet", "general")
    y_full = np.full((48, 64, 1), 0.5, np.float32)
    red = [220, 60, 30]
    target = hints_mod.hint_uv(tuple(red))

    def redness(points):
        likely = guide.unet_likely(net, y_full, points, 2, 30, 20, top=20)
        # the probability of the likely colours on the hint's side of grey (chroma towards its chroma)
        return sum(p for p, rgb in likely if rgb_to_yuv(np.array(rgb) / 255.0)[1:] @ target > 0)

    alone, helped = redness([]), redness([{"x": 31, "y": 20, "rgb": red}])
    assert alone < 0.2 and helped > 0.8, (alone, helped)  # measured: 0.017 alone, 0.972 with the red hint


def test_reference_mode_shows_the_unet_beside_welsh(with_unet):
    from app_fixtures import colour_png
    from colourise_core.colour import rgb_to_yuv

    at = upload_photo(start())
    at.radio(key="guide_mode").set_value("A reference photo").run()
    upload(at, "guide_reference", "ref.png", colour_png((40, 50), seed=3))
    captions = [c for img in at.image for c in img.captions]
    assert any(c.startswith("Welsh et al. 2002") for c in captions)
    assert any(c.startswith("U-Net, automatic (no hints) · PSNR") for c in captions), captions
    unet = np.array(at.session_state["guide_unet_result"], np.float64)
    assert unet.shape[:2] == (48, 64)  # reference mode shows the photo at its size up to DISPLAY_SIDE
    assert np.abs(rgb_to_yuv(unet)[..., 1:]).mean() > 0.01  # coloured, not the grey photo
