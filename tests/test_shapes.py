"""Shape Set generator: determinism, geometry, colours, luma matching, hue classification."""

import cv2
import numpy as np
import pytest

from colourise_core.colour import rgb_to_yuv
from colourise_core.data.shapes import (
    HUE_ANGLES,
    SHAPE_NAMES,
    ShapeSetConfig,
    classify_hue,
    generate_shapes,
    hue_accuracy,
)
from colourise_core.errors import DatasetError


def _yuv(rgb_uint8):
    return rgb_to_yuv(rgb_uint8 / 255.0)  # (..., 3)


def test_deterministic_and_independent_of_n():
    a_rgb, a_lab = generate_shapes(4, seed=7)
    b_rgb, b_lab = generate_shapes(4, seed=7)
    np.testing.assert_array_equal(a_rgb, b_rgb)
    np.testing.assert_array_equal(a_lab, b_lab)
    c_rgb, _ = generate_shapes(2, seed=7)  # image i depends on (seed, i) only
    np.testing.assert_array_equal(c_rgb, a_rgb[:2])
    d_rgb, _ = generate_shapes(4, seed=8)
    assert not np.array_equal(a_rgb, d_rgb)


def test_sizes_dtypes_and_black_background():
    rgb, labels = generate_shapes(6, ShapeSetConfig(size=40), seed=1)
    assert rgb.shape == (6, 40, 40, 3) and rgb.dtype == np.uint8
    assert labels.shape == (6, 40, 40) and labels.dtype == np.uint8
    assert set(np.unique(labels)) <= {0, 1, 2, 3}
    assert SHAPE_NAMES == ("background", "circle", "square", "triangle")
    assert (rgb[labels == 0] == 0).all()  # black: U = V = 0
    assert all((lab > 0).any() for lab in labels)  # every image has a shape


@pytest.mark.parametrize("luma_matched", [False, True])
def test_every_shape_pixel_has_its_shape_hue(luma_matched):
    rgb, labels = generate_shapes(30, ShapeSetConfig(luma_matched=luma_matched), seed=2)
    uv = _yuv(rgb)[..., 1:]
    shape = labels > 0
    np.testing.assert_array_equal(classify_hue(uv)[shape], labels[shape])
    assert hue_accuracy(uv, labels) == 1.0
    for kind in (1, 2, 3):  # several shades of each colour
        assert len(np.unique(rgb[labels == kind], axis=0)) >= 5


def test_luma_matched_shades_share_one_luma_range():
    config = ShapeSetConfig(luma_matched=True, luma_range=(0.35, 0.6))
    rgb, labels = generate_shapes(40, config, seed=3)
    y = _yuv(rgb)[..., 0]
    for kind in (1, 2, 3):
        yk = y[labels == kind]
        assert yk.min() >= 0.35 and yk.max() <= 0.6, SHAPE_NAMES[kind]
        assert yk.max() - yk.min() > 0.1  # spread over the range, not one luma per colour
    # Without matching, brightness gives the colour away: blue shades are much darker than green.
    rgb, labels = generate_shapes(40, ShapeSetConfig(), seed=3)
    y = _yuv(rgb)[..., 0]
    assert y[labels == 1].mean() + 0.2 < y[labels == 3].mean()


def test_shapes_have_distinct_widths_and_heights_and_spread_out():
    rgb, labels = generate_shapes(40, ShapeSetConfig(min_shapes=1, max_shapes=1), seed=4)
    widths = set()
    for lab in labels:
        ys, xs = np.nonzero(lab)
        if ys.min() == 0 or xs.min() == 0 or ys.max() == 63 or xs.max() == 63:
            continue  # clipped by an edge
        w, h = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
        assert w != h
        widths.add(w)
    assert len(widths) >= 8
    cover = (labels > 0).any(axis=0)  # shapes appear in every quadrant
    assert all(cover[r : r + 32, c : c + 32].any() for r in (0, 32) for c in (0, 32))


def test_shapes_do_not_overlap_or_touch():
    _, labels = generate_shapes(30, ShapeSetConfig(max_shapes=4), seed=5)
    kernel = np.ones((3, 3), np.uint8)
    for lab in labels:
        for kind in (1, 2, 3):
            grown = cv2.dilate((lab == kind).astype(np.uint8), kernel) > 0
            assert not (grown & (lab > 0) & (lab != kind)).any()


def test_classify_hue_on_exact_colours_and_shades():
    colours = np.array(
        [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0.2, 0.2, 0.7], [0.9, 0.5, 0.5], [0.1, 0.4, 0.1]],
        np.float32,
    )
    uv = rgb_to_yuv(colours)[:, 1:]
    np.testing.assert_array_equal(classify_hue(uv), [1, 2, 3, 1, 2, 3])
    np.testing.assert_allclose(np.arctan2(uv[:3, 1], uv[:3, 0]), HUE_ANGLES, atol=1e-6)


def test_hue_accuracy_counts_grey_predictions_as_wrong():
    rgb, labels = generate_shapes(3, seed=6)
    assert hue_accuracy(np.zeros(labels.shape + (2,)), labels) == 0.0
    with pytest.raises(DatasetError, match="no shape pixels"):
        hue_accuracy(np.zeros((1, 4, 4, 2)), np.zeros((1, 4, 4), np.uint8))
