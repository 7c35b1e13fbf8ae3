"""The "Guide the colours" page under AppTest: hints from a file, the result, and every bad input.

The page needs no weights (the classic methods), so the app runs with an empty weights folder.
Clicks on the photo (a custom component) are tested in a real browser (tests/test_app_e2e.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest   # noqa: E402

from app_fixtures import colour_png, run_app, set_app_env  # noqa: E402

TIMEOUT = 120


@pytest.fixture(autouse=True)
def app_env(monkeypatch, tmp_path):
    set_app_env(monkeypatch, tmp_path)




def start() -> AppTest:
    at = AppTest.from_function(run_app, default_timeout=TIMEOUT, kwargs={"only": "guide"}).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(t.value == "Guide the colours" for t in at.title)
    return at


def upload(at: AppTest, key: str, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    at.file_uploader(key=key).set_value((name, data, mime))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload_photo(at: AppTest, name: str = "photo.png", size=(48, 64), seed=0) -> AppTest:
    at.radio(key="guide_source").set_value("Upload").run()
    return upload(at, "guide_upload", name, colour_png(size, seed))


def hints_json(points, radius=0) -> bytes:
    return json.dumps({"points": [{"x": x, "y": y, "rgb": rgb} for x, y, rgb in points], "radius": radius}).encode()


def result_caption(at: AppTest) -> str:
    return next(c for img in at.image for c in img.captions if c.startswith("Levin et al. 2004"))


def state(at: AppTest) -> dict:
    return at.session_state["guide_state"]


def test_hints_file_colours_the_photo_and_downloads_the_hints():
    at = upload_photo(start())
    assert result_caption(at).startswith("Levin et al. 2004 · 0 hint(s) · PSNR")
    grey_psnr = float(result_caption(at).split("PSNR ")[1].split(" dB")[0])
    # true colours at four points of the 64x48 photo (the red block spans x 16-31, y 12-23)
    from PIL import Image
    import io

    truth = np.asarray(Image.open(io.BytesIO(colour_png((48, 64), 0))).convert("RGB"))
    pts = [(x, y, truth[y, x].tolist()) for x, y in ((20, 15), (5, 40), (60, 5), (50, 40))]
    upload(at, "guide_hints_upload", "mine.json", hints_json(pts, 2), "application/json")
    assert any("Loaded 4 hint(s) from mine.json" in s.value for s in at.success)
    assert [(p["x"], p["y"]) for p in state(at)["points"]] == [(20, 15), (5, 40), (60, 5), (50, 40)]
    caption = result_caption(at)
    assert caption.startswith("Levin et al. 2004 · 4 hint(s)")
    assert float(caption.split("PSNR ")[1].split(" dB")[0]) > grey_psnr + 1  # the hints added real information (measured +1.2 dB)
    assert at.slider(key="guide_radius").value == 2
    data = at.get("download_button")
    assert len(data) == 2
    # undo returns to no hints; the hints download is the JSON of the current points
    at.button(key="guide_undo").click().run()
    assert state(at)["points"] == []
    assert result_caption(at).startswith("Levin et al. 2004 · 0 hint(s)")


def test_colour_picker_sets_the_hint_at_the_pixel_luma():
    from colourise_core.colour import rgb_to_y

    at = upload_photo(start())
    upload(at, "guide_hints_upload", "one.json", hints_json([(10, 40, [0, 0, 0])]), "application/json")
    before = result_caption(at)
    at.radio(key="guide_colour_way").set_value("Colour picker").run()
    assert any("the result keeps it exactly" in c.value for c in at.caption)  # the sentence on brightness
    at.color_picker(key="guide_picker_0_#000000").set_value("#ff0000").run()
    assert not at.exception, [e.value for e in at.exception]
    rgb = state(at)["points"][0]["rgb"]
    from PIL import Image
    import io

    photo = np.asarray(Image.open(io.BytesIO(colour_png((48, 64), 0))).convert("RGB"), np.float64) / 255
    y_pixel = rgb_to_y(photo)[40, 10, 0]
    assert abs(rgb_to_y(np.array(rgb) / 255.0)[0] - y_pixel) <= 1 / 255  # brightness: the pixel's own
    assert rgb[0] > rgb[1] and rgb[0] > rgb[2]  # hue: red
    assert any("Picked #ff0000; at this pixel's brightness it is" in c.value for c in at.caption)
    assert result_caption(at) != before  # the result was recoloured
    at.button(key="guide_undo").click().run()
    assert state(at)["points"][0]["rgb"] == [0, 0, 0]


@pytest.mark.parametrize("data, message", [
    (b"{not json", "mine.json: the hints are not JSON"),
    (hints_json([(64, 10, [1, 2, 3])]), "point 1 (x=64, y=10) is outside the 64x48 image"),
    (hints_json([(3, 10, [1, 300, 3])]), "has 300, outside 0-255"),
    (hints_json([(-1, 10, [1, 2, 3])]), "x = -1 is negative"),
    (json.dumps({"points": [{"x": 0, "y": 0, "rgb": [0, 0, 0]}] * 1001}).encode(), "1,001 points; at most 1,000"),
])
def test_bad_hints_files_are_explained_and_the_hints_kept(data, message):
    at = upload_photo(start())
    upload(at, "guide_hints_upload", "good.json", hints_json([(1, 1, [200, 0, 0])]), "application/json")
    assert len(state(at)["points"]) == 1
    upload(at, "guide_hints_upload", "mine.json", data, "application/json")
    errors = [e.value for e in at.error]
    assert any(message in e and "The hints on the photo are unchanged" in e for e in errors), errors
    assert len(state(at)["points"]) == 1


def test_replacing_the_photo_clears_the_hints_with_a_notice():
    at = upload_photo(start())
    upload(at, "guide_hints_upload", "h.json", hints_json([(10, 10, [0, 0, 255]), (40, 30, [255, 0, 0])]),
           "application/json")
    assert len(state(at)["points"]) == 2
    upload(at, "guide_upload", "other.png", colour_png((30, 20), seed=5))
    assert any("The photo changed, so its 2 hint(s) were cleared" in i.value for i in at.info)
    assert state(at)["points"] == []
    assert result_caption(at).startswith("Levin et al. 2004 · 0 hint(s)")
    # a bad photo upload: the library's message, no exception
    upload(at, "guide_upload", "notes.png", b"holiday notes, not a photo")
    assert any("notes.png" in e.value for e in at.error)


def test_reference_mode_transfers_and_rejects_bad_references(make_large_png):
    at = upload_photo(start())
    at.radio(key="guide_mode").set_value("A reference photo").run()
    assert any("Upload a colour photo of a similar scene" in i.value for i in at.info)
    grey = __import__("io").BytesIO()
    from PIL import Image

    Image.fromarray(np.full((20, 30), 120, np.uint8)).save(grey, format="PNG")
    upload(at, "guide_reference", "grey.png", grey.getvalue())
    assert any("The reference grey.png is greyscale: there is no colour to transfer" in e.value for e in at.error)
    upload(at, "guide_reference", "huge.png", make_large_png(20000, 20000, "huge.png").read_bytes())
    assert any("huge.png" in e.value and "pixels" in e.value for e in at.error)
    upload(at, "guide_reference", "ref.png", colour_png((40, 50), seed=3))
    caption = next(c for img in at.image for c in img.captions if c.startswith("Welsh et al. 2002"))
    assert "PSNR" in caption


# ------------------------------------------------------------------ the page's helpers (app_support/guide.py)


def test_click_to_pixel_maps_the_displayed_copy_to_photo_pixels():
    from app_support.guide import click_to_pixel

    click = {"x": 255, "y": 10, "width": 512, "height": 384, "unix_time": 1}
    assert click_to_pixel(click, 1000, 750) == (498, 19)  # 255 * 1000/512 = 498.05, 10 * 750/384 = 19.5
    assert click_to_pixel({"x": 600, "y": -3, "width": 512, "height": 384}, 1000, 750) == (999, 0)  # clipped
    assert click_to_pixel(None, 10, 10) is None and click_to_pixel({"x": None}, 10, 10) is None


def test_projected_colour_keeps_the_pixel_luma_and_the_hue():
    from app_support.guide import project_to_luma
    from colourise_core.colour import rgb_to_y, rgb_to_yuv

    for rgb in ((200, 40, 40), (40, 90, 220), (255, 255, 0)):
        for y in (0.2, 0.5, 0.8):
            out = np.array(project_to_luma(rgb, y)) / 255.0
            assert abs(rgb_to_y(out)[0] - y) <= 1 / 255
            uv_in, uv_out = rgb_to_yuv(np.array(rgb) / 255.0)[1:], rgb_to_yuv(out)[1:]
            cos = uv_in @ uv_out / np.linalg.norm(uv_in) / np.linalg.norm(uv_out)
            assert cos > 0.99  # same hue direction; only scaled towards grey where it must be


def test_downloaded_png_has_the_hint_colours_at_the_hints():
    import io

    from PIL import Image

    from app_support import guide
    from colourise_core.colour import rgb_to_y

    colours = [(200, 40, 40), (40, 90, 220)]
    y_full = np.zeros((60, 80, 1), np.float32)
    y_full[:, :40], y_full[:, 40:] = rgb_to_y(np.array(colours[0]) / 255)[0], rgb_to_y(np.array(colours[1]) / 255)[0]
    points = [{"x": 10, "y": 30, "rgb": list(colours[0])}, {"x": 70, "y": 30, "rgb": list(colours[1])}]
    png = guide.png_of(guide.levin_result(y_full, points, radius=0))
    out = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert out.shape == (60, 80, 3)
    assert np.abs(out[30, 10] - colours[0]).max() <= 1 and np.abs(out[30, 70] - colours[1]).max() <= 1
    assert np.abs(out[5:55, 2:36] - colours[0]).max() <= 12 and np.abs(out[5:55, 44:78] - colours[1]).max() <= 12
    small = guide.levin_result(y_full, points, radius=0, size=(30, 40))  # the display copy: the same colouring
    assert np.abs(small[15, 5] * 255 - colours[0]).max() <= 2 and np.abs(small[15, 35] * 255 - colours[1]).max() <= 2
    grey = guide.levin_result(y_full, [], radius=0)
    assert np.array_equal(grey, np.repeat(y_full, 3, -1))


def test_lesson_part_five_psnr_grows_with_true_hints():
    at = AppTest.from_function(run_app, default_timeout=TIMEOUT, kwargs={"only": "ill_posed"}).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(h.value == "5. Add information and it becomes well-posed" for h in at.header)

    def shown():
        c = next(c for img in at.image for c in img.captions if c.startswith("Levin et al. 2004 with"))
        return float(c.split("PSNR ")[1].split(" dB")[0])

    at10 = shown()
    at.slider(key="ill_hints_n").set_value(0).run()
    at0 = shown()
    at.slider(key="ill_hints_n").set_value(100).run()
    assert not at.exception
    assert shown() > at10 > at0
