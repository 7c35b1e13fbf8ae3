"""Hints: parsing and validation (each bad input named), exact rasterisation, JSON round trip."""

import json

import numpy as np
import pytest

from colourise_core import hints
from colourise_core.colour import rgb_to_yuv
from colourise_core.errors import HintsError


def _uv(rgb):
    return rgb_to_yuv(np.asarray(rgb, np.float64) / 255.0)[1:]


def test_parse_dict_text_bytes_and_file(tmp_path):
    obj = {"points": [{"x": 3, "y": 1, "rgb": [200, 30, 30]}, {"x": 0, "y": 0, "rgb": [0, 0, 255], "radius": 2}],
           "radius": 1}
    path = tmp_path / "h.json"
    path.write_text(json.dumps(obj))
    for src in (obj, json.dumps(obj), json.dumps(obj).encode(), path, str(path)):
        h = hints.parse_hints(src, 4, 2)
        assert h.points == ((3, 1, (200, 30, 30), 1), (0, 0, (0, 0, 255), 2))
        assert (h.width, h.height, h.radius) == (4, 2, 1)


def test_default_radius_is_zero():
    h = hints.parse_hints({"points": [{"x": 0, "y": 0, "rgb": [1, 2, 3]}]}, 1, 1)
    assert h.points[0][3] == 0


@pytest.mark.parametrize("src, words", [
    ("{not json", "not JSON"),
    (b"\xff\xfe\x00", "not JSON"),
    ("", "not JSON"),
    ("[1, 2]", "JSON object"),
    ('{"pts": []}', 'no "points"'),
    ('{"points": 3}', "must be a list"),
    ('{"points": [5]}', "point 1 must be an object"),
    ('{"points": [{"x": 1, "y": 1}]}', 'point 1 has no "rgb"'),
    ('{"points": [{"x": 1.5, "y": 1, "rgb": [1, 2, 3]}]}', "x must be a whole number"),
    ('{"points": [{"x": 1, "y": "2", "rgb": [1, 2, 3]}]}', "y must be a whole number"),
    ('{"points": [{"x": true, "y": 1, "rgb": [1, 2, 3]}]}', "x must be a whole number of pixels, got true"),
    ('{"points": [{"x": 1, "y": NaN, "rgb": [1, 2, 3]}]}', "y must be a whole number of pixels, got NaN"),
    ('{"points": [{"x": -1, "y": 1, "rgb": [1, 2, 3]}]}', "x = -1 is negative"),
    ('{"points": [{"x": 1, "y": -4, "rgb": [1, 2, 3]}]}', "y = -4 is negative"),
    ('{"points": [{"x": 1, "y": 1, "rgb": [1, 2, 3]}, {"x": 10, "y": 1, "rgb": [1, 2, 3]}]}',
     "point 2 (x=10, y=1) is outside the 10x5 image"),
    ('{"points": [{"x": 1, "y": 5, "rgb": [1, 2, 3]}]}', "outside the 10x5 image"),
    ('{"points": [{"x": 1, "y": 1, "rgb": [1, 256, 3]}]}', "has 256, outside 0-255"),
    ('{"points": [{"x": 1, "y": 1, "rgb": [1, -1, 3]}]}', "has -1, outside 0-255"),
    ('{"points": [{"x": 1, "y": 1, "rgb": [1, 2]}]}', "three numbers"),
    ('{"points": [{"x": 1, "y": 1, "rgb": "red"}]}', "three numbers"),
    ('{"points": [{"x": 1, "y": 1, "rgb": [1, 2.5, 3]}]}', "whole numbers 0-255"),
    ('{"points": [], "radius": -2}', "radius -2 is outside"),
    ('{"points": [], "radius": 2.5}', "radius must be a whole number"),
    ('{"points": [], "radius": 1e9}', "radius 1000000000 is outside 0..4096"),
    ('{"points": [{"x": 1, "y": 1, "rgb": [1, 256.0, 3]}]}', "has 256.0, outside 0-255"),
    ('{"points": [{"x": 1, "y": 1, "rgb": [1, 2, 3], "radius": 99999}]}', "point 1: radius 99999 is outside"),
])
def test_bad_hints_name_the_problem(src, words):
    with pytest.raises(HintsError) as e:
        hints.parse_hints(src, 10, 5)
    assert words in str(e.value)


def test_whole_numbers_written_as_floats_are_accepted():
    """2.0 is the whole number 2, as some tools write JSON numbers: the same hints as 2."""
    a = hints.parse_hints('{"points": [{"x": 2.0, "y": 1, "rgb": [200.0, 30, 30], "radius": 3.0}], "radius": 1.0}', 10, 5)
    b = hints.parse_hints('{"points": [{"x": 2, "y": 1, "rgb": [200, 30, 30], "radius": 3}], "radius": 1}', 10, 5)
    assert a == b and a.points == ((2, 1, (200, 30, 30), 3),)
    assert all(type(v) is int for v in (a.points[0][0], a.points[0][1], *a.points[0][2], a.points[0][3], a.radius))


def test_too_many_points():
    obj = {"points": [{"x": 0, "y": 0, "rgb": [0, 0, 0]}] * 1001}
    with pytest.raises(HintsError, match="1,001 points; at most 1,000"):
        hints.parse_hints(obj, 2, 2)
    assert len(hints.parse_hints({"points": obj["points"][:1000]}, 2, 2)) == 1000


def test_missing_and_oversized_files(tmp_path):
    with pytest.raises(HintsError, match="hints file nope.json not found"):
        hints.parse_hints(tmp_path / "nope.json", 2, 2)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (hints.MAX_FILE_BYTES + 1))
    with pytest.raises(HintsError, match="big.json is 1,048,577 bytes"):
        hints.parse_hints(big, 2, 2)
    bad = tmp_path / "bad.json"
    bad.write_text('{"points": [}')
    with pytest.raises(HintsError, match="hints file bad.json is not JSON: .* line 1 column 13"):
        hints.parse_hints(bad, 2, 2)


def test_to_json_round_trip():
    h = hints.parse_hints({"points": [{"x": 1, "y": 2, "rgb": [9, 8, 7]}, {"x": 0, "y": 4, "rgb": [255, 0, 0], "radius": 5}],
                           "radius": 2}, 3, 5)
    text = hints.to_json(h)
    assert json.loads(text) == {"points": [{"x": 1, "y": 2, "rgb": [9, 8, 7]},
                                           {"x": 0, "y": 4, "rgb": [255, 0, 0], "radius": 5}], "radius": 2}
    assert hints.parse_hints(text, 3, 5) == h
    # re-validation against another image size
    with pytest.raises(HintsError, match="outside the 3x4 image"):
        hints.parse_hints(h, 3, 4)


def test_rasterise_full_size_single_pixels():
    h = hints.parse_hints({"points": [{"x": 2, "y": 1, "rgb": [200, 30, 30]}, {"x": 0, "y": 3, "rgb": [0, 0, 255]}]}, 5, 4)
    uv, mask = hints.rasterise(h, np.zeros((4, 5, 1), np.float32))
    assert uv.shape == (4, 5, 2) and mask.shape == (4, 5, 1)
    assert uv.dtype == np.float32 and mask.dtype == np.float32
    expected = np.zeros((4, 5, 1))
    expected[1, 2] = expected[3, 0] = 1
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_allclose(uv[1, 2], _uv([200, 30, 30]), atol=1e-7)
    np.testing.assert_allclose(uv[3, 0], _uv([0, 0, 255]), atol=1e-7)
    assert np.count_nonzero(uv.any(-1)) == 2
    # The hint's luma is ignored: a dark and a light red of the same chroma give the same UV
    grey = hints.parse_hints({"points": [{"x": 0, "y": 0, "rgb": [77, 77, 77]}]}, 1, 1)
    np.testing.assert_allclose(hints.rasterise(grey, np.ones((1, 1, 1)))[0], 0, atol=1e-7)


def test_rasterise_scales_points_and_radius():
    # 100x80 image rasterised at 10x8 (h, w = 8, 10): scale 0.1 on both axes
    h = hints.parse_hints({"points": [{"x": 55, "y": 34, "rgb": [0, 255, 0]}]}, 100, 80)
    uv, mask = hints.rasterise(h, np.zeros((80, 100)), size=(8, 10))
    assert np.argwhere(mask[..., 0]).tolist() == [[3, 5]]  # floor(34.5 * .1) = 3, floor(55.5 * .1) = 5
    # radius 20 px -> 2 working px around centre (5.55, 3.45): pixel centres within 2
    h = hints.parse_hints({"points": [{"x": 55, "y": 34, "rgb": [0, 255, 0]}], "radius": 20}, 100, 80)
    _, mask = hints.rasterise(h, np.zeros((80, 100)), size=(8, 10))
    yy, xx = np.mgrid[0:8, 0:10]
    expected = (xx + 0.5 - 5.55) ** 2 + (yy + 0.5 - 3.45) ** 2 <= 4.0
    np.testing.assert_array_equal(mask[..., 0] > 0, expected)
    assert expected.sum() == 11  # counted by hand: rows 2..5 hold 1, 3, 4, 3 pixels


def test_rasterise_tiny_radius_still_one_pixel_and_later_points_win():
    h = hints.parse_hints({"points": [{"x": 999, "y": 999, "rgb": [255, 0, 0], "radius": 1},
                                      {"x": 998, "y": 998, "rgb": [0, 0, 255]}]}, 1000, 1000)
    uv, mask = hints.rasterise(h, np.zeros((1000, 1000, 1)), size=(4, 4))
    assert np.argwhere(mask[..., 0]).tolist() == [[3, 3]]
    np.testing.assert_allclose(uv[3, 3], _uv([0, 0, 255]), atol=1e-7)


def test_random_true_hints_carry_true_colours():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (6, 7, 3)).astype(np.uint8)
    h = hints.random_true_hints(img, 10, seed=3)
    assert len(h) == 10 and len({(x, y) for x, y, _, _ in h.points}) == 10
    for x, y, rgb, r in h.points:
        assert rgb == tuple(img[y, x]) and r == 0
    assert hints.random_true_hints(img, 10, seed=3) == h
    assert hints.random_true_hints(img.astype(np.float32) / 255, 10, seed=3) == h
    assert len(hints.random_true_hints(img, 500)) == 42
    assert hints.parse_hints(hints.to_json(h), 7, 6) == h


def test_rasterise_min_side_covers_a_square_around_the_point():
    h = hints.parse_hints({"points": [{"x": 10, "y": 6, "rgb": [200, 30, 30]}, {"x": 0, "y": 0, "rgb": [0, 0, 255]}]}, 20, 16)
    uv, mask = hints.rasterise(h, np.zeros((16, 20)), min_side=5)
    expected = np.zeros((16, 20), bool)
    expected[4:9, 8:13] = True  # rows/cols p - 2 .. p + 2 around (x=10, y=6)
    expected[0:3, 0:3] = True  # clipped at the corner: p - 2 < 0
    np.testing.assert_array_equal(mask[..., 0] > 0, expected)
    np.testing.assert_allclose(uv[4:9, 8:13], np.broadcast_to(_uv([200, 30, 30]), (5, 5, 2)), atol=1e-7)
    np.testing.assert_allclose(uv[0:3, 0:3], np.broadcast_to(_uv([0, 0, 255]), (3, 3, 2)), atol=1e-7)
    # an even side starts (side - 1) // 2 before the point; 1 is the point's own pixel
    _, m4 = hints.rasterise(h, np.zeros((16, 20)), min_side=4)
    assert np.argwhere(m4[5:10, 8:14, 0]).min(0).tolist() == [0, 1] and m4[..., 0][5:9, 9:13].all()
    assert m4[..., 0].sum() == 16 + 9
    np.testing.assert_array_equal(hints.rasterise(h, np.zeros((16, 20)), min_side=1)[1], hints.rasterise(h, np.zeros((16, 20)))[1])
    with pytest.raises(ValueError, match="min_side"):
        hints.rasterise(h, np.zeros((16, 20)), min_side=0)
