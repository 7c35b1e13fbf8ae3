"""Colourise images of any size with a trained model, keeping the input's luma exactly.

Rule for sizes: a model runs at its own resolution on the downscaled Y; its UV is resized back
to the input's size and joined with the input's own full-resolution Y; out-of-gamut pixels get
their chroma scaled towards grey (never their luma changed). A fixed-size family (the CVAE has
dense layers) takes exactly R x R: the Y is stretched to a square. Fully convolutional families
by default also see R x R, and with `render_size` the image keeps its aspect ratio, its longer
side scaled to `render_size` and both sides rounded to a multiple of the family's stride (like
DeOldify's render factor: larger sees more detail, costs more time). Everything model-specific
goes through the model's family (`models.family_of`): the input size, the forward passes, how
the output becomes UV, samples and hints.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from colourise_core import colour, imageio, models

TILE_PIXELS = 1 << 20  # pixels per tile of the full-size colour maths (~50 MB of temporaries)


@dataclasses.dataclass(frozen=True)
class Colourisation:
    """The result of `colourise_image`.

    rgb: (H, W, 3) float32 in [0, 1], or (S, H, W, 3) for S CVAE samples.
    alpha: (H, W) float32 or None, copied from the input.
    luma: (H, W, 1) float32, the input's Y.
    seconds: wall time of the model part (resize, forward, merge).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    luma: np.ndarray
    seconds: float


def input_size(model, height: int, width: int, render_size: int | None = None) -> tuple[int, int]:
    """The (h, w) a model sees for an input of (height, width); see the module docstring."""
    return models.family_of(model).input_size(model, height, width, render_size)


def predict_uv(model, y: np.ndarray, samples: int = 1, temperature: float | None = None, seed: int = 0,
               hints=None) -> np.ndarray:
    """UV for a batch of luma at the model's input size.

    Args:
        y: (N, h, w, 1).
        samples: samples per image (a family that does not sample repeats its answer).
        temperature: the family's temperature (CVAE: latent std scale, 0 the mean; unet: the
            annealed-mean temperature, "vividness"); None: the family's default.
        seed: seeds the samples.
        hints: None, or (uv (N, h, w, 2), mask (N, h, w, 1)) at the input size; a family that
            takes none raises a ColouriseError.
    Returns:
        (S, N, h, w, 2).
    """
    return models.family_of(model).predict_uv(model, np.asarray(y, "float32"), samples=samples,
                                               temperature=temperature, seed=seed, hints=hints)


def colourise_luma(model, luma: np.ndarray, samples: int = 1, temperature: float = 0.0, seed: int = 0,
                   render_size: int | None = None) -> np.ndarray:
    """Colourise a full-resolution luma image.

    Args:
        luma: (H, W, 1) in [0, 1].
    Returns:
        (S, H, W, 3) float32 RGB whose luma is `luma`.
    """
    height, width = luma.shape[:2]
    h, w = input_size(model, height, width, render_size)
    y_small = imageio.resize_float(luma, (h, w)).reshape(1, h, w, 1)
    uv = predict_uv(model, y_small, samples, temperature, seed)[:, 0]  # (S, h, w, 2)
    out = np.empty((len(uv), height, width, 3), np.float32)
    rows = max(1, TILE_PIXELS // width)
    for i, uv_s in enumerate(uv):
        uv_full = imageio.resize_float(uv_s, (height, width))  # (H, W, 2)
        for r in range(0, height, rows):  # per row tile: the temporaries stay small
            out[i, r:r + rows] = colour.luma_chroma_to_rgb(luma[r:r + rows], uv_full[r:r + rows], compute_dtype=np.float32)
        del uv_full
    return out


def colourise_image(image, model, samples: int = 1, temperature: float = 0.0, seed: int = 0,
                    render_size: int | None = None) -> Colourisation:
    """Colourise an image (path, bytes, PIL image or array), keeping its luma and alpha.

    A colour input is turned to grey first (its Y); modes L, LA, RGB, RGBA, P, CMYK and 16-bit
    are read by `imageio.load_rgb`, with EXIF orientation applied.
    """
    loaded = image if isinstance(image, imageio.LoadedImage) else imageio.load_rgb(image)
    luma = colour.rgb_to_y(loaded.rgb, compute_dtype=np.float32)  # (H, W, 1)
    alpha = loaded.alpha
    del loaded  # a decoded photo's float RGB is not needed any more (288 MB at 24 MP)
    start = time.perf_counter()
    rgb = colourise_luma(model, luma, samples, temperature, seed, render_size)
    seconds = time.perf_counter() - start
    return Colourisation(rgb=rgb[0] if samples == 1 else rgb, alpha=alpha, luma=luma, seconds=seconds)


def colourise(image, model, samples: int = 1, temperature: float = 0.0, seed: int = 0,
              render_size: int | None = None) -> np.ndarray:
    """Colourise an image; RGB (H, W, 3) float32 at the input's size, or (S, H, W, 3) for samples > 1.

    Args:
        image: a path, bytes, a PIL image or an array.
        model: a model from `colourise_core.weights.load_pretrained` or `training.load_run`.
        samples: CVAE samples to draw.
        temperature: CVAE latent standard-deviation scale (0: the mean).
        seed: seeds the CVAE samples.
        render_size: the longer side the CNN/CGAN sees (None: the training resolution).
    """
    return colourise_image(image, model, samples, temperature, seed, render_size).rgb
