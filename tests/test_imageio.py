"""Tests of colourise_core.imageio on real files built with Pillow and numpy."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image, ImageFile

from colourise_core import imageio
from colourise_core.errors import ImageError
from colourise_core.imageio import (
    LoadedImage,
    encode_png,
    load_rgb,
    open_image,
    resize_float,
    save_png_atomic,
)


def _save(img: Image.Image, path, **kwargs):
    img.save(path, **kwargs)
    return path


def _mode_of(path) -> str:
    with Image.open(path) as img:
        return img.mode


def _open_fds() -> set[str]:
    """Paths this process holds open (Linux)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return found


# ----------------------------------------------------------------------------- bad inputs


def test_empty_file_is_refused(bad_image_files):
    with pytest.raises(ImageError, match=r"empty\.png is empty \(0 bytes\)"):
        load_rgb(bad_image_files["empty"])


def test_empty_upload_is_refused():
    with pytest.raises(ImageError, match=r"the uploaded data is empty \(0 bytes\)"):
        open_image(b"")


def test_text_file_renamed_jpg_is_not_an_image(bad_image_files):
    with pytest.raises(ImageError, match=r"notes\.jpg is not an image Pillow can read \("):
        open_image(bad_image_files["text_as_jpg"])


def test_text_upload_names_the_uploaded_data():
    with pytest.raises(ImageError, match=r"the uploaded data is not an image Pillow can read"):
        open_image(io.BytesIO(b"hello"))


def test_truncated_jpeg_is_refused(bad_image_files):
    with pytest.raises(ImageError, match=r"cut\.jpg is truncated or corrupt: .*truncated"):
        load_rgb(bad_image_files["truncated_jpeg"])


def test_missing_file(bad_image_files):
    with pytest.raises(ImageError, match=r"nowhere\.png was not found"):
        open_image(bad_image_files["missing"])


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="is a folder"):
        open_image(tmp_path)


def test_huge_header_is_refused_before_decoding(make_large_png, monkeypatch):
    # 12000 x 10000 = 120 M pixels: over MAX_PIXELS, under Pillow's own error threshold.
    path = make_large_png(12000, 10000, "poster.png")
    assert path.stat().st_size < 200_000

    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageError) as caught:
        open_image(path)
    message = str(caught.value)
    assert "poster.png is too large" in message
    assert "120,000,000 pixels (12000 x 10000)" in message
    assert "limit of 100,000,000 pixels" in message


def test_pillow_bomb_error_is_an_image_error(make_large_png):
    # 20000 x 20000 = 400 M pixels: Pillow itself refuses it while reading the header.
    path = make_large_png(20000, 20000, "bomb.png")
    with pytest.raises(ImageError, match=r"bomb\.png is too large.*400,000,000 pixels.*limit"):
        load_rgb(path)


def test_max_pixels_is_configurable(tmp_path, monkeypatch):
    path = _save(Image.new("RGB", (20, 10)), tmp_path / "small.png")
    monkeypatch.setattr(imageio, "MAX_PIXELS", 199)
    with pytest.raises(ImageError, match=r"200 pixels \(20 x 10\), over the limit of 199"):
        open_image(path)
    monkeypatch.setattr(imageio, "MAX_PIXELS", 200)
    assert open_image(path).size == (20, 10)


def test_bad_arrays_are_refused():
    with pytest.raises(ImageError, match="shape"):
        load_rgb(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ImageError, match=r"\[0, 255\]"):
        load_rgb(np.linspace(0.0, 255.0, 48).reshape(4, 4, 3))
    with pytest.raises(ImageError, match="NaN"):
        load_rgb(np.full((4, 4), np.nan))


# ----------------------------------------------------------------------------- sources


def test_sources_agree(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = _save(Image.fromarray(pixels), tmp_path / "photo.png")
    data = path.read_bytes()
    expected = pixels.astype(np.float32) / 255.0
    for src in (path, str(path), data, io.BytesIO(data), Image.open(path), pixels):
        loaded = load_rgb(src)
        np.testing.assert_array_equal(loaded.rgb, expected)
    assert load_rgb(path).name == "photo.png"
    assert load_rgb(data).name == "the uploaded data"
    assert load_rgb(data, name="mine.png").name == "mine.png"


def test_no_file_stays_open(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    img = open_image(path)
    assert str(path) not in _open_fds()
    assert img.size == (4, 4)


@pytest.mark.parametrize(
    "array, mode",
    [
        (np.full((3, 2), 128, np.uint8), "L"),
        (np.full((3, 2, 1), 128, np.uint8), "L"),
        (np.full((3, 2, 3), 128, np.uint8), "RGB"),
        (np.full((3, 2, 4), 128, np.uint8), "RGBA"),
        (np.full((3, 2), 32896, np.uint16), "I;16"),
        (np.full((3, 2), 128 / 255, np.float32), "F"),
    ],
)
def test_arrays(array, mode):
    loaded = load_rgb(array)
    assert loaded.rgb.shape == (3, 2, 3) and loaded.rgb.dtype == np.float32
    np.testing.assert_allclose(loaded.rgb, 128 / 255, atol=1e-7)
    assert loaded.mode == mode and loaded.was_grey
    assert (loaded.alpha is not None) == (mode == "RGBA")
    assert open_image(array).size == (2, 3)


def test_uint16_colour_array_keeps_precision():
    array = np.zeros((1, 2, 3), np.uint16)
    array[0, 1] = (1000, 1001, 65535)
    loaded = load_rgb(array)
    np.testing.assert_allclose(loaded.rgb[0, 1], np.array([1000, 1001, 65535]) / 65535, rtol=1e-6)
    assert not loaded.was_grey


# ----------------------------------------------------------------------------- modes


@pytest.mark.parametrize("size", [(1, 1), (3, 10000), (10000, 3)])
def test_tiny_and_extreme_sizes(tmp_path, size):
    pixels = np.random.default_rng(2).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path = _save(Image.fromarray(pixels), tmp_path / "odd.png")
    loaded = load_rgb(path)
    assert loaded.rgb.shape == (size[1], size[0], 3)
    np.testing.assert_array_equal(loaded.rgb, pixels / np.float32(255))


def test_16bit_png_keeps_precision(tmp_path):
    values = np.array([[0, 1000, 1001], [32768, 65534, 65535]], np.uint16)
    path = _save(Image.fromarray(values), tmp_path / "scan16.png")
    loaded = load_rgb(path)
    assert loaded.mode == "I;16" and loaded.was_grey and loaded.alpha is None
    np.testing.assert_allclose(loaded.rgb[..., 0], values / 65535.0, rtol=1e-6, atol=0)
    assert loaded.rgb[0, 1, 0] < loaded.rgb[0, 2, 0]  # 1 part in 65535 survives
    np.testing.assert_array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])


@pytest.mark.parametrize("mode", ["I;16B", "I"])
def test_other_16bit_modes(mode):
    values = np.array([[0, 1001, 65535]], np.uint16)
    img = Image.fromarray(values.astype(">u2" if mode == "I;16B" else np.int32))
    assert img.mode == mode
    np.testing.assert_allclose(load_rgb(img).rgb[..., 1], values / 65535.0, rtol=1e-6)


def test_float_mode_is_clipped():
    img = Image.fromarray(np.array([[-0.5, 0.25, 2.0]], np.float32))
    np.testing.assert_array_equal(load_rgb(img).rgb[0, :, 0], [0.0, 0.25, 1.0])


def test_cmyk_jpeg(tmp_path):
    path = _save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), tmp_path / "print.jpg")
    loaded = load_rgb(path)
    assert loaded.mode == "CMYK" and not loaded.was_grey
    np.testing.assert_allclose(loaded.rgb.mean(axis=(0, 1)), [1.0, 0.0, 0.0], atol=0.03)


def test_palette_png_transparency_becomes_alpha(tmp_path):
    img = Image.new("P", (4, 2), 1)
    img.putpalette([0, 0, 0, 255, 0, 0])
    img.putpixel((0, 0), 0)
    path = _save(img, tmp_path / "sticker.png", transparency=0)
    loaded = load_rgb(path)
    assert loaded.mode == "P"
    expected = np.ones((2, 4), np.float32)
    expected[0, 0] = 0.0
    np.testing.assert_array_equal(loaded.alpha, expected)
    np.testing.assert_array_equal(loaded.rgb[1, 1], [1.0, 0.0, 0.0])


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (6, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    loaded = load_rgb(path)
    assert loaded.rgb.shape == (4, 6, 3)
    np.testing.assert_array_equal(loaded.rgb[0, 0], [1.0, 0.0, 0.0])


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high
    pixels[:, :20] = (255, 0, 0)  # left half red
    pixels[:, 20:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = _save(Image.fromarray(pixels), tmp_path / "phone.jpg", exif=exif, quality=95)
    loaded = load_rgb(path)
    assert loaded.rgb.shape == (40, 20, 3)  # width and height swapped
    np.testing.assert_allclose(loaded.rgb[5, 10], [1.0, 0.0, 0.0], atol=0.05)  # left -> top
    np.testing.assert_allclose(loaded.rgb[35, 10], [0.0, 0.0, 1.0], atol=0.05)


@pytest.mark.parametrize("mode, colour", [("LA", (100, 50)), ("RGBA", (10, 20, 30, 50))])
def test_alpha_is_kept(tmp_path, mode, colour):
    path = _save(Image.new(mode, (3, 2), colour), tmp_path / f"{mode}.png")
    loaded = load_rgb(path)
    assert loaded.mode == mode and loaded.was_grey == (mode == "LA")
    np.testing.assert_array_equal(loaded.alpha, np.full((2, 3), 50 / np.float32(255)))
    expected = np.array(colour[:-1] * (3 if mode == "LA" else 1), np.float32) / 255
    np.testing.assert_array_equal(loaded.rgb[0, 0], expected)


@pytest.mark.parametrize("mode", ["1", "L", "YCbCr", "LAB", "HSV"])
def test_other_modes_convert(mode):
    loaded = load_rgb(Image.new("RGB", (3, 2), (200, 80, 40)).convert(mode))
    assert loaded.rgb.shape == (2, 3, 3) and loaded.mode == mode
    assert 0.0 <= loaded.rgb.min() and loaded.rgb.max() <= 1.0
    assert loaded.was_grey == (mode in ("1", "L"))


def test_grey_rgb_counts_as_grey():
    assert load_rgb(np.full((2, 2, 3), 77, np.uint8)).was_grey
    assert isinstance(load_rgb(np.zeros((1, 1), np.uint8)), LoadedImage)


# ----------------------------------------------------------------------------- writing


def test_save_png_atomic_round_trip(tmp_path):
    rgb = np.random.default_rng(3).random((5, 4, 3)).astype(np.float32)
    alpha = np.linspace(0, 1, 20, dtype=np.float32).reshape(5, 4)
    path = save_png_atomic(tmp_path / "out" / "deep" / "result.png", rgb, alpha)
    assert path.exists() and sorted(p.name for p in path.parent.iterdir()) == ["result.png"]
    loaded = load_rgb(path)
    np.testing.assert_allclose(loaded.rgb, rgb, atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(loaded.alpha, alpha, atol=0.5 / 255 + 1e-6)
    assert _mode_of(path) == "RGBA"
    save_png_atomic(path, (rgb * 255).astype(np.uint8))
    assert _mode_of(path) == "RGB"


def test_save_png_atomic_keeps_target_when_encoding_fails(tmp_path, monkeypatch):
    target = tmp_path / "result.png"
    target.write_bytes(b"previous result")

    def failing_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half")  # some bytes reach the temporary file first
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_png_atomic(target, np.zeros((2, 2, 3), np.float32))
    monkeypatch.undo()
    with pytest.raises(ValueError, match="NaN"):
        save_png_atomic(target, np.full((2, 2, 3), np.nan, np.float32))
    assert target.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["result.png"]


def test_encode_png():
    data = encode_png(np.zeros((3, 2, 3), np.uint8), np.full((3, 2), 1.0))
    assert data.startswith(b"\x89PNG")
    img = Image.open(io.BytesIO(data))
    assert img.mode == "RGBA" and img.size == (2, 3)
    with pytest.raises(ValueError, match="shape"):
        encode_png(np.zeros((3, 2), np.uint8))


# ----------------------------------------------------------------------------- resizing


@pytest.mark.parametrize("shape", [(6, 8), (6, 8, 1), (6, 8, 2), (6, 8, 3)])
def test_resize_keeps_channels(shape):
    arr = np.random.default_rng(4).random(shape)
    small, big = resize_float(arr, (3, 4)), resize_float(arr, (12, 16))
    assert small.shape == (3, 4) + shape[2:] and big.shape == (12, 16) + shape[2:]
    assert small.dtype == big.dtype == np.float32
    assert arr.min() - 1e-6 <= big.min() and big.max() <= arr.max() + 1e-6  # cubic clipped


def test_resize_shrink_is_a_box_average():
    arr = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_allclose(resize_float(arr, (2, 2)), [[2.5, 4.5], [10.5, 12.5]])


def test_resize_extreme_aspect_ratio():
    arr = np.random.default_rng(5).random((10000, 3, 3)).astype(np.float32)
    square = resize_float(arr, (32, 32))
    back = resize_float(square, (10000, 3))
    assert square.shape == (32, 32, 3) and back.shape == (10000, 3, 3)
    assert np.all(np.isfinite(back)) and 0.0 <= back.min() and back.max() <= 1.0
    np.testing.assert_allclose(square.mean(), arr.mean(), atol=0.01)
    constant = np.full((10000, 3, 1), 0.25, np.float32)
    np.testing.assert_allclose(resize_float(constant, (32, 32)), 0.25, atol=1e-6)


# ----------------------------------------------------------------------------- compact pixels (issue 11)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_8bit_photos_keep_their_uint8_pixels(tmp_path, fmt):
    """An 8-bit photo is kept as its decoded bytes (a quarter of float32), and `rgb` is exactly the
    float the library always used: float32(v) / 255."""
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    path = tmp_path / f"p.{fmt.lower()}"
    Image.fromarray(arr).save(path, fmt)
    with Image.open(path) as img:
        want = np.asarray(img.convert("RGB"))
    loaded = load_rgb(path)
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.nbytes == 37 * 53 * 3
    assert loaded.shape == (37, 53, 3)
    np.testing.assert_array_equal(loaded.pixels, want)
    assert loaded.rgb.dtype == np.float32
    np.testing.assert_array_equal(loaded.rgb, want.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(loaded.rgb8, want)


def test_uint8_arrays_are_kept_as_a_copy_and_16bit_stays_float():
    arr = np.full((4, 5, 3), 200, np.uint8)
    loaded = load_rgb(arr)
    arr[:] = 0  # the caller's array stays theirs
    assert loaded.pixels.dtype == np.uint8 and int(loaded.pixels.min()) == 200
    grey16 = Image.fromarray(np.array([[0, 1, 65535]], np.uint16))
    deep = load_rgb(grey16)
    assert deep.pixels.dtype == np.float32 and deep.rgb is deep.pixels  # precision over 8 bits kept
    np.testing.assert_allclose(deep.rgb[0, :, 0], [0.0, 1 / 65535, 1.0], rtol=1e-6)


def test_luma_band_by_band_equals_the_whole_image(monkeypatch):
    from colourise_core import colour, photo

    rgb8 = np.random.default_rng(1).integers(0, 256, (61, 47, 3), dtype=np.uint8)
    loaded = load_rgb(rgb8)
    monkeypatch.setattr(photo, "BAND_PIXELS", 47 * 5 + 3)  # 5 rows a band, the last one short
    np.testing.assert_array_equal(loaded.luma(reference=True), colour.rgb_to_y(loaded.rgb, compute_dtype=np.float32))
    np.testing.assert_allclose(loaded.luma(), colour.luma_of(loaded.rgb), atol=1e-6)
    assert sum(len(band) for _, band in loaded.bands(47 * 5)) == 61


def test_resized_shrinks_uint8_without_a_float_copy():
    rgb8 = np.random.default_rng(2).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    small = load_rgb(rgb8).resized((20, 30))
    assert small.pixels.dtype == np.uint8 and small.shape == (20, 30, 3)
    box = rgb8.reshape(20, 2, 30, 2, 3).mean(axis=(1, 3))  # an exact 2x2 box average
    assert np.abs(small.pixels.astype(float) - box).max() <= 0.5 + 1e-9
