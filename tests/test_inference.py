import numpy as np
import pytest
from PIL import Image

from colourise_core import colour, imageio, inference
from colourise_core.errors import ImageError


def _photo(h, w, seed=0):
    """A smooth colour image (H, W, 3) uint8."""
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    rgb = np.stack([np.sin(xx / (7 + 3 * c) + yy / (11 + c)) * 0.4 + 0.5 + rng.normal(0, 0.02, (h, w)) for c in range(3)], -1)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


@pytest.mark.parametrize("name", ["cnn", "cgan", "cvae"])
@pytest.mark.parametrize("shape", [(667, 1001), (1001, 67), (1, 1), (3, 10000)])
def test_output_size_and_luma(tiny_models, name, shape):
    rgb = _photo(*shape)
    out = inference.colourise(rgb, tiny_models[name])
    assert out.shape == shape + (3,)
    luma_in = colour.rgb_to_y(rgb / 255.0)
    luma_out = colour.rgb_to_y(colour.to_uint8(out) / 255.0)
    assert np.abs(luma_out - luma_in).max() <= 1 / 255


def test_render_size_keeps_aspect_and_multiple(tiny_models):
    model = tiny_models["cnn"]
    assert inference.input_size(model, 667, 1001) == (32, 32)
    h, w = inference.input_size(model, 667, 1001, render_size=256)
    assert w == 256 and h % 8 == 0 and abs(h / w - 667 / 1001) < 0.05
    assert inference.input_size(tiny_models["cvae"], 667, 1001, render_size=256) == (32, 32)  # dense: fixed
    out = inference.colourise(_photo(100, 60), model, render_size=64)
    assert out.shape == (100, 60, 3)


def test_cvae_samples_at_temperature(tiny_models):
    rgb = _photo(40, 50)
    samples = inference.colourise(rgb, tiny_models["cvae"], samples=3, temperature=2.0, seed=5)
    assert samples.shape == (3, 40, 50, 3)
    assert np.abs(samples[0] - samples[1]).max() > 0
    again = inference.colourise(rgb, tiny_models["cvae"], samples=3, temperature=2.0, seed=5)
    np.testing.assert_array_equal(samples, again)
    mean = inference.colourise(rgb, tiny_models["cvae"], samples=2, temperature=0.0)
    np.testing.assert_array_equal(mean[0], mean[1])


def test_alpha_kept_and_colour_input_turned_grey(tiny_models, tmp_path):
    rgba = np.dstack([_photo(30, 20), np.linspace(0, 255, 30 * 20).reshape(30, 20).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    result = inference.colourise_image(tmp_path / "a.png", tiny_models["cnn"])
    np.testing.assert_allclose(result.alpha, rgba[..., 3] / 255.0, atol=1e-6)
    # the model only sees luma: two colour images with the same luma give the same output
    grey = colour.rgb_to_y(rgba[..., :3] / 255.0).repeat(3, axis=-1)
    a = inference.colourise(rgba[..., :3].astype(np.float32) / 255.0, tiny_models["cnn"])
    b = inference.colourise(grey.astype(np.float32), tiny_models["cnn"])
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "I;16"])
def test_modes(tiny_models, tmp_path, mode):
    base = Image.fromarray(_photo(24, 36))
    if mode == "I;16":
        img = Image.fromarray((np.asarray(base.convert("L"), np.uint16) * 257).astype(np.uint16))
        path = tmp_path / "x.png"
    elif mode == "CMYK":
        img, path = base.convert("CMYK"), tmp_path / "x.jpg"
    else:
        img, path = base.convert(mode), tmp_path / "x.png"
    img.save(path)
    out = inference.colourise(path, tiny_models["cnn"])
    assert out.shape == (24, 36, 3) and np.isfinite(out).all()


def test_bad_image_message(tiny_models, tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("shopping list")
    with pytest.raises(ImageError, match="notes.jpg is not an image"):
        inference.colourise(path, tiny_models["cnn"])


def test_save_png_atomic_round_trip(tiny_models, tmp_path):
    result = inference.colourise_image(_photo(10, 12), tiny_models["cgan"])
    imageio.save_png_atomic(tmp_path / "o.png", result.rgb)
    assert Image.open(tmp_path / "o.png").size == (12, 10)


@pytest.mark.parametrize("name", ["cnn", "cvae"])
def test_tiles_give_the_same_pixels(tiny_models, monkeypatch, name):
    rgb = _photo(45, 31)
    whole = inference.colourise(rgb, tiny_models[name], samples=2, temperature=1.0, seed=3)
    monkeypatch.setattr(inference, "TILE_PIXELS", 31 * 4 + 5)  # 4 rows per tile, the last one short
    tiled = inference.colourise(rgb, tiny_models[name], samples=2, temperature=1.0, seed=3)
    np.testing.assert_array_equal(tiled, whole)
