"""The classic methods: Levin et al. 2004 (hints) and Welsh et al. 2002 (reference), exact where maths allows."""

from pathlib import Path

import numpy as np
import pytest

from colourise_core import classic, hints
from colourise_core.colour import rgb_to_y, rgb_to_yuv, to_uint8
from colourise_core.errors import HintsError, ImageError
from colourise_core.imageio import load_rgb

PARACHUTE = Path(__file__).resolve().parents[1] / "assets" / "samples" / "Colour - parachute in a blue sky (Imagenette val 6561).jpg"


def _smooth_photo(h=48, w=64, seed=0):
    """A photo-like image: smooth colour fields plus an edge, uint8-exact floats."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.5 + 0.4 * np.sin(3 * xx + rng.random()), 0.5 + 0.4 * np.cos(4 * yy), 0.3 + 0.5 * xx * yy], -1)
    img[:, w // 2:] = img[:, w // 2:][..., ::-1] * 0.6
    return to_uint8(img).astype(np.float32) / 255.0


def _every_pixel(img):
    u8 = to_uint8(img)
    h, w = u8.shape[:2]
    return hints.parse_hints({"points": [{"x": x, "y": y, "rgb": u8[y, x].tolist()} for y in range(h) for x in range(w)]},
                             w, h)


def test_levin_hint_at_every_pixel_returns_the_hints():
    img = _smooth_photo(20, 25)
    y = rgb_to_y(img)
    uv = classic.levin_uv(y, _every_pixel(img))
    np.testing.assert_allclose(uv, rgb_to_yuv(img)[..., 1:], atol=1e-6)
    rgb = classic.levin_colourise(y, _every_pixel(img))
    np.testing.assert_array_equal(to_uint8(rgb), to_uint8(img))


@pytest.mark.parametrize("shape, max_side", [((30, 40), 256), ((90, 120), 32)])
def test_levin_constant_luma_one_hint_colours_every_pixel(shape, max_side):
    colour = np.array([200, 30, 30])
    y = np.full(shape + (1,), rgb_to_y(colour / 255.0)[0], np.float32)
    h = hints.parse_hints({"points": [{"x": 7, "y": 5, "rgb": colour.tolist()}]}, shape[1], shape[0])
    rgb = classic.levin_colourise(y, h, max_side=max_side)
    assert rgb.shape == shape + (3,)
    np.testing.assert_allclose(rgb, np.broadcast_to(colour / 255.0, rgb.shape), atol=1e-5)


def test_levin_base_zero_is_plain_levin_and_every_pixel_hinted_returns_the_hints():
    img = _smooth_photo(20, 25)
    y = rgb_to_y(img)
    h = hints.random_true_hints(to_uint8(img), 6, seed=1)
    np.testing.assert_array_equal(classic.levin_uv(y, h, base_uv=np.zeros((20, 25, 2), np.float32)),
                                  classic.levin_uv(y, h))
    base = np.random.default_rng(0).uniform(-0.3, 0.3, (20, 25, 2)).astype(np.float32)
    uv = classic.levin_uv(y, _every_pixel(img), base_uv=base)  # residual at every pixel: the hints back
    np.testing.assert_allclose(uv, rgb_to_yuv(img)[..., 1:], atol=1e-6)


def test_levin_with_a_base_shifts_it_by_the_hints_residual():
    # Constant luma, one single-pixel hint: the residual (hint - base there) spreads unchanged to
    # every pixel, so the result is the base's own ramp moved to pass through the hint.
    colour = np.array([200, 30, 30])
    y = np.full((30, 40, 1), rgb_to_y(colour / 255.0)[0], np.float32)
    h = hints.parse_hints({"points": [{"x": 7, "y": 5, "rgb": colour.tolist()}]}, 40, 30)
    ramp = np.linspace(-0.1, 0.1, 40, dtype=np.float32)
    base = np.stack(np.broadcast_arrays(ramp[None, :], -ramp[None, :] * 0.5), -1).astype(np.float32)
    base = np.broadcast_to(base, (30, 40, 2)).copy()
    hint_uv = rgb_to_yuv(colour[None, None] / 255.0)[0, 0, 1:]
    uv = classic.levin_uv(y, h, base_uv=base)
    np.testing.assert_allclose(uv, base + (hint_uv - base[5, 7]), atol=1e-5)
    np.testing.assert_allclose(uv[5, 7], hint_uv, atol=1e-5)
    with pytest.raises(ValueError, match="base_uv must be"):
        classic.levin_uv(y, h, base_uv=base[:, :20])


def test_levin_keeps_the_luma_and_respects_an_edge():
    img = _smooth_photo(48, 64)
    y = np.zeros((48, 64, 1), np.float32)
    y[:, :32], y[:, 32:] = 0.3, 0.7  # two flat regions
    h = hints.parse_hints({"points": [{"x": 5, "y": 10, "rgb": [0, 0, 255]}, {"x": 60, "y": 40, "rgb": [255, 200, 0]}]},
                          64, 48)
    uv = classic.levin_uv(y, h)
    # each flat region takes its own hint's chroma: the luma edge all but stops the propagation
    # (weights across it are ~5e-4 of those within, so a few percent leak over the whole region)
    blue, yellow = hints.hint_uv((0, 0, 255)), hints.hint_uv((255, 200, 0))
    apart = np.linalg.norm(blue - yellow)
    assert np.linalg.norm(uv[:, :32] - blue, axis=-1).max() < 0.1 * apart
    assert np.linalg.norm(uv[:, 32:] - yellow, axis=-1).max() < 0.1 * apart
    y = rgb_to_y(img)
    rgb = classic.levin_colourise(y, hints.random_true_hints(img, 15, seed=2), max_side=24)
    assert np.abs(rgb_to_y(rgb) - y).max() < 1e-5
    assert np.abs(rgb_to_y(to_uint8(rgb) / 255.0) - y).max() <= 1 / 255


def test_levin_hints_beat_grey_on_a_photo():
    img = load_rgb(PARACHUTE).rgb
    y, true_uv = rgb_to_y(img), rgb_to_yuv(img)[..., 1:]
    err = {n: np.abs(classic.levin_uv(y, hints.random_true_hints(img, n, seed=0)) - true_uv).mean() for n in (5, 50)}
    assert err[50] < err[5] < np.abs(true_uv).mean()
    assert err[50] < 0.5 * np.abs(true_uv).mean()


def test_levin_needs_a_hint():
    with pytest.raises(HintsError, match="needs at least one hint"):
        classic.levin_uv(np.zeros((4, 4, 1)), hints.parse_hints({"points": []}, 4, 4))


def test_nested_dissection_is_a_permutation():
    for h, w in ((1, 1), (1, 9), (3, 7), (20, 31), (64, 48)):
        assert sorted(classic.nested_dissection(h, w).tolist()) == list(range(h * w))


def test_working_size():
    assert classic.working_size(866, 1155, 256) == (192, 256)
    assert classic.working_size(1000, 10, 256) == (256, 3)
    assert classic.working_size(20, 30, 256) == (20, 30)


def test_welsh_with_itself_as_reference_gives_its_colours_back():
    # Tolerance: mean |UV error| below 0.03 and a quarter of the all-grey baseline's (measured 0.019-0.021
    # over seeds on this photo against grey's 0.143); per-pixel matches on luma and texture alone
    # cannot be exact where one luma has several colours.
    img = load_rgb(PARACHUTE).rgb
    y, true_uv = rgb_to_y(img), rgb_to_yuv(img)[..., 1:]
    uv = classic.welsh_uv(y, img, seed=0)
    err, grey = np.abs(uv - true_uv).mean(), np.abs(true_uv).mean()
    assert err < 0.03 and err < grey / 4
    # an image whose colour is a function of its luma comes back exactly
    ramp = np.linspace(0, 1, 64)[None, :, None]
    img = np.concatenate([ramp, ramp ** 2, 1 - ramp], -1).repeat(20, 0).astype(np.float32)  # (20, 64, 3)
    img = np.repeat(img, 4, axis=1)  # flat 4-pixel runs: a zero-std neighbourhood to match
    rgb = classic.welsh_colourise(rgb_to_y(img), img)
    inner = np.abs(rgb - img)[2:-2, 8:-8]
    assert np.median(inner) < 1e-6 and inner.mean() < 0.01


def test_welsh_keeps_luma_and_rejects_grey_references():
    target = rgb_to_y(_smooth_photo(30, 40, seed=1))
    ref = _smooth_photo(50, 30, seed=2)
    rgb = classic.welsh_colourise(target, ref)
    assert np.abs(rgb_to_y(rgb) - target).max() < 1e-5
    assert np.abs(rgb_to_yuv(rgb)[..., 1:]).mean() > 0.02  # it did transfer colour
    grey = np.repeat(rgb_to_y(ref), 3, -1)
    with pytest.raises(ImageError, match="greyscale"):
        classic.welsh_uv(target, grey)
    with pytest.raises(ImageError, match="greyscale"):
        classic.welsh_uv(target, rgb_to_y(ref))


def test_jittered_sample_one_per_cell():
    ys, xs = classic.jittered_sample(100, 200, 200, seed=3)
    assert len(ys) == 200 and ys.min() >= 0 and ys.max() < 100 and xs.min() >= 0 and xs.max() < 200
    assert len(set(zip(ys.tolist(), xs.tolist()))) == 200
    ys, xs = classic.jittered_sample(3, 4, 200)
    assert sorted(zip(ys.tolist(), xs.tolist())) == [(i, j) for i in range(3) for j in range(4)]


def test_hints_curve_rises_from_grey():
    from colourise_core import guided, metrics

    img = load_rgb(PARACHUTE).rgb
    rows = guided.hints_curve(img, ns=(0, 1, 10, 100), seed=1)
    levin = {r["n"]: r for r in rows if r["method"] == "levin"}
    grey = metrics.psnr(np.repeat(rgb_to_y(img), 3, -1), img)
    assert levin[0]["psnr"] == pytest.approx(grey)  # no hints: the grey image
    assert levin[100]["psnr"] > levin[10]["psnr"] > levin[0]["psnr"]
    assert levin[100]["psnr"] > grey + 3
    assert [r["method"] for r in rows][-1] == "truth"
    # nested sets: the 10 hints are the first 10 of the 100
    h10, h100 = guided.true_hints_prefix(img, 10, 100, 1), guided.true_hints_prefix(img, 100, 100, 1)
    assert h10.points == h100.points[:10]
