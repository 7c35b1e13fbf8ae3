import numpy as np
import pytest

from colourise_core import colour


def test_forward_matrix_is_bt601():
    np.testing.assert_allclose(colour.rgb_to_yuv(np.array([1.0, 1.0, 1.0])), [1.0, 0.0, 0.0], atol=1e-7)
    red = colour.rgb_to_yuv(np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(red, [0.299, -0.147108, 0.614777], atol=1e-6)
    assert colour.U_MAX == pytest.approx(0.436, abs=1e-3) and colour.V_MAX == pytest.approx(0.615, abs=1e-3)


def test_round_trip_exact():
    rgb = np.random.default_rng(0).random((50, 40, 3))
    back = colour.yuv_to_rgb(colour.rgb_to_yuv(rgb), clip=False)
    assert np.abs(back - rgb).max() < 1e-6


def test_grey_has_zero_chroma_and_y_is_luma():
    grey = np.full((2, 2, 3), 0.3)
    yuv = colour.rgb_to_yuv(grey)
    np.testing.assert_allclose(yuv[..., 1:], 0.0, atol=1e-7)
    np.testing.assert_allclose(colour.rgb_to_y(grey)[..., 0], 0.3, atol=1e-7)


def test_merge_clips_chroma_to_range():
    yuv = colour.merge_y_uv(np.zeros((1, 1, 1)), np.array([[[1.0, -1.0]]]))
    np.testing.assert_allclose(yuv[0, 0], [0.0, colour.U_MAX, -colour.V_MAX], atol=1e-7)


def test_fit_chroma_to_gamut_keeps_luma_and_hue():
    rng = np.random.default_rng(1)
    yuv = np.concatenate([rng.random((1000, 1)), rng.uniform(-0.6, 0.6, (1000, 2))], axis=1)
    fitted = colour.fit_chroma_to_gamut(yuv)
    rgb = colour.yuv_to_rgb(fitted, clip=False)
    assert rgb.min() > -1e-6 and rgb.max() < 1 + 1e-6
    np.testing.assert_allclose(fitted[:, 0], yuv[:, 0], atol=1e-7)
    # chroma only shrinks along its own direction: the hue angle is unchanged where chroma remains
    keep = np.linalg.norm(fitted[:, 1:], axis=1) > 1e-3
    angle = lambda a: np.arctan2(a[:, 2], a[:, 1])  # noqa: E731
    np.testing.assert_allclose(angle(fitted[keep]), angle(yuv[keep]), atol=1e-5)


def test_in_gamut_pixel_unchanged():
    yuv = colour.rgb_to_yuv(np.array([[0.2, 0.5, 0.7]]))
    np.testing.assert_allclose(colour.fit_chroma_to_gamut(yuv), yuv, atol=1e-7)


def test_to_uint8_rounds():
    assert colour.to_uint8(np.array([0.5 / 255, 1.49 / 255, 1.0, 1.2])).tolist() == [0, 1, 255, 255]


def test_to_uint8_in_chunks_matches_one_pass(monkeypatch):
    monkeypatch.setattr(colour, "_CHUNK", 7)  # chunk edges fall inside pixels
    values = np.random.default_rng(0).uniform(-0.1, 1.1, (5, 11, 3))
    expected = np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(colour.to_uint8(values), expected)
    assert colour.to_uint8(np.float32(0.5)).shape == ()


def test_luma_chroma_to_rgb_hand_computed():
    # Grey: no chroma.
    np.testing.assert_allclose(colour.luma_chroma_to_rgb(np.array([0.5]), np.zeros(2)), [0.5] * 3, atol=1e-7)
    # An in-gamut colour comes back as it was.
    red = colour.rgb_to_yuv(np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(colour.luma_chroma_to_rgb(red[:1], red[1:]), [1.0, 0.0, 0.0], atol=1e-6)
    # (0.6, 0.4, 0.4) with 4x its chroma leaves the cube through R = 1: the chroma scale is
    # s = (1 - Y) / k_R with k_R = 4 * (0.6 - Y), so R = 1 and G = B = Y - s * 4 * (Y - 0.4).
    yuv = colour.rgb_to_yuv(np.array([0.6, 0.4, 0.4]), compute_dtype=np.float64).astype(np.float64)
    y = 0.299 * 0.6 + 0.587 * 0.4 + 0.114 * 0.4
    s = (1 - y) / (4 * (0.6 - y))
    expected = [1.0, y - s * 4 * (y - 0.4), y - s * 4 * (y - 0.4)]
    np.testing.assert_allclose(colour.luma_chroma_to_rgb(yuv[:1], 4 * yuv[1:]), expected, atol=1e-6)


def test_luma_chroma_to_rgb_is_merge_fit_convert():
    rng = np.random.default_rng(2)
    y, uv = rng.random((300, 1)), rng.uniform(-0.8, 0.8, (300, 2))  # some chroma beyond its range
    slow = colour.yuv_to_rgb(colour.fit_chroma_to_gamut(colour.merge_y_uv(y, uv)))
    for dtype in (np.float64, np.float32):
        fast = colour.luma_chroma_to_rgb(y, uv, compute_dtype=dtype)
        assert fast.dtype == np.float32 and fast.min() >= 0 and fast.max() <= 1
        np.testing.assert_allclose(fast, slow, atol=1e-6)
        np.testing.assert_allclose(colour.rgb_to_y(fast), y, atol=1e-6)  # the luma is kept
    # y broadcasts over leading sample axes: (S, N, 2) chroma with (N, 1) luma
    both = colour.luma_chroma_to_rgb(y, np.stack([uv, -uv]))
    np.testing.assert_allclose(both[1], colour.luma_chroma_to_rgb(y, -uv), atol=1e-7)
