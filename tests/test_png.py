"""The fast PNG encoder: standard files that Pillow and OpenCV decode to the exact pixels."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from colourise_core import imageio, png


def _image(h, w, c, seed=0):
    """Smooth gradients plus noise: compressible like a photo, with every byte value present."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * (c + 3) + yy * (2 * c + 1)) % 256 for c in range(c)], -1)
    return ((base + rng.integers(0, 6, (h, w, c))) % 256).astype(np.uint8)


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 7, 4), (5, 1, 3), (33, 17, 3), (300, 200, 4), (700, 800, 3)])
@pytest.mark.parametrize("threads", [None, 1, 3])
def test_round_trip_exact(shape, threads):
    img = _image(*shape)
    data = png.encode(img, threads=threads)
    with Image.open(io.BytesIO(data)) as decoded:
        assert decoded.mode == ("RGB" if shape[2] == 3 else "RGBA")
        np.testing.assert_array_equal(np.asarray(decoded), img)
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)  # a second decoder (libpng)
    back = back[..., [2, 1, 0]] if shape[2] == 3 else back[..., [2, 1, 0, 3]]
    np.testing.assert_array_equal(back.reshape(shape), img)


def test_levels_trade_size_for_speed_and_bad_input_is_refused():
    img = _image(256, 256, 3)
    sizes = [len(png.encode(img, level)) for level in (0, 1, 9)]
    assert sizes[0] > sizes[1] >= sizes[2]  # level 0 stores, 9 is the smallest
    assert sizes[0] > img.size  # stored: the raw scanlines plus headers
    with pytest.raises(ValueError, match="uint8"):
        png.encode(img.astype(np.float32))
    with pytest.raises(ValueError, match="compress_level"):
        png.encode(img, 10)


def test_up_filter_is_the_row_difference():
    img = _image(4, 5, 3)
    rows = png.up_filtered(img)
    assert rows.shape == (4, 16) and (rows[:, 0] == 2).all()
    np.testing.assert_array_equal(rows[0, 1:], img[0].reshape(-1))
    np.testing.assert_array_equal(rows[2, 1:], (img[2].astype(int) - img[1]).reshape(-1) % 256)


def test_encode_png_and_atomic_save_use_it(tmp_path):
    rgb = np.random.default_rng(1).uniform(0, 1, (40, 30, 3)).astype(np.float32)
    alpha = np.linspace(0, 1, 1200).reshape(40, 30)
    with Image.open(io.BytesIO(imageio.encode_png(rgb, alpha))) as decoded:
        got = np.asarray(decoded)
    np.testing.assert_array_equal(got[..., :3], np.rint(rgb * 255).astype(np.uint8))
    np.testing.assert_array_equal(got[..., 3], np.rint(alpha * 255).astype(np.uint8))
    path = imageio.save_png_atomic(tmp_path / "a.png", rgb, compress_level=1)
    assert path.read_bytes() == imageio.encode_png(rgb, None, 1)
