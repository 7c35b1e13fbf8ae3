"""evaluation: every model is scored as a user's photo would be colourised (its own input size)."""

import keras
import numpy as np
import pytest

from colourise_core import colour, evaluation, inference, metrics, models

TINY = dict(widths=(8, 16, 16, 32, 32), dilations=(1, 2), decoder_widths=(32, 32))


def _images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """(n, size, size, 3) smooth colour images in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = [np.stack([0.5 + 0.4 * np.sin(6 * a * xx + b), 0.5 + 0.4 * np.cos(5 * c * yy), 0.3 + 0.5 * xx * yy], -1)
           for a, b, c in rng.uniform(0.2, 1.0, (n, 3))]
    return np.asarray(out, np.float32)


class _Images:
    def __init__(self, rgb):
        self.rgb = rgb

    def __len__(self):
        return len(self.rgb)

    def load(self, idx):
        return self.rgb[np.asarray(idx)]


@pytest.fixture(scope="module")
def unet():
    keras.utils.set_random_seed(3)
    model = models.build_model("unet", 32, **TINY)
    model.set_decoding(0.38, 0.0)
    # Large random weights: colours that vary across the image (an untrained net paints one colour).
    rng = np.random.default_rng(0)
    for v in model.trainable_weights:
        v.assign(rng.normal(0.0, 0.3, v.shape).astype(v.dtype))
    return model


def test_a_unet_on_larger_images_runs_at_its_own_input_size(unet):
    """A unet trained at 32 px scoring 48 px images sees them at 32 px, as `colourise` would show
    it a user's 48 px photo: the same colours as `inference.colourise_luma`, the images' luma kept."""
    rgb = _images(3, 48)
    pred = evaluation.predict_rgb(unet, rgb)[0]  # (3, 48, 48, 3)
    assert pred.shape == rgb.shape
    for p, t in zip(pred, rgb):
        user = inference.colourise_luma(unet, colour.rgb_to_y(t).astype(np.float32))[0]
        np.testing.assert_allclose(p, user, atol=1e-6)
    np.testing.assert_allclose(colour.rgb_to_y(pred), colour.rgb_to_y(rgb), atol=1.0 / 255)
    # Not the network run at 48 px directly (what the families report did before).
    y = colour.rgb_to_y(rgb)
    direct = colour.luma_chroma_to_rgb(y, inference.predict_uv(unet, y)[0])
    assert np.abs(direct - pred).max() > 1e-3


def test_at_the_models_resolution_nothing_is_resized(unet):
    rgb = _images(2, 32, seed=1)
    y = colour.rgb_to_y(rgb)
    expected = colour.luma_chroma_to_rgb(y, inference.predict_uv(unet, y)[0])
    np.testing.assert_array_equal(evaluation.predict_rgb(unet, rgb)[0], expected)


def test_evaluate_model_scores_those_predictions(unet):
    rgb = _images(5, 48, seed=2)
    scores = evaluation.evaluate_model(unet, _Images(rgb), batch_size=2)
    pred = np.concatenate([evaluation.predict_rgb(unet, rgb[i:i + 2])[0] for i in range(0, 5, 2)])
    mses = [metrics.uv_mse(pred[i:i + 2], rgb[i:i + 2]) * len(rgb[i:i + 2]) for i in range(0, 5, 2)]
    assert scores["n"] == 5
    assert scores["uv_mse"] == pytest.approx(sum(mses) / 5, rel=1e-6)
    assert scores["baseline"]["uv_mse"] == pytest.approx(
        sum(metrics.uv_mse(metrics.grey_baseline(rgb[i:i + 2]), rgb[i:i + 2]) * len(rgb[i:i + 2]) for i in range(0, 5, 2)) / 5)
