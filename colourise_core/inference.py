"""Colourise images of any size with a trained model, keeping the input's luma exactly.

Rule for sizes: a model runs at its own resolution on the downscaled Y; its UV is resized back
to the input's size and joined with the input's own full-resolution Y; out-of-gamut pixels get
their chroma scaled towards grey (never their luma changed). The CVAE has dense layers and
takes exactly R x R: the Y is stretched to a square. The CNN and the CGAN are fully
convolutional: by default they also see R x R, and with `render_size` the image keeps its
aspect ratio, its longer side scaled to `render_size` and both sides rounded to a multiple of
2 ** stages (like DeOldify's render factor: larger sees more detail, costs more time).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from colourise_core import colour, imageio

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


def _stride(model) -> int:
    """Input sides must be multiples of this: R for the CVAE, 2 ** stages = R / 4 otherwise."""
    if model.colourise_name == "cvae":
        return model.resolution
    return model.resolution // 4  # log2(R) - 2 stride-2 stages down to the 4x4 bottleneck


def input_size(model, height: int, width: int, render_size: int | None = None) -> tuple[int, int]:
    """The (h, w) a model sees for an input of (height, width); see the module docstring."""
    r = model.resolution
    if render_size is None or model.colourise_name == "cvae":
        return r, r
    m = _stride(model)
    scale = render_size / max(height, width)
    return tuple(max(m, int(round(side * scale / m)) * m) for side in (height, width))


def predict_uv(model, y: np.ndarray, samples: int = 1, temperature: float = 0.0, seed: int = 0) -> np.ndarray:
    """UV for a batch of luma at the model's input size.

    Args:
        y: (N, h, w, 1).
        samples: CVAE samples per image (other models: 1).
        temperature: CVAE latent standard-deviation scale; 0 gives the mean.
    Returns:
        (S, N, h, w, 2).
    """
    y = np.asarray(y, "float32")
    if model.colourise_name == "cvae" and (samples > 1 or temperature > 0):
        return model.sample_uv(y, n=samples, temperature=temperature, seed=seed)
    uv = np.asarray(model.predict_on_batch(y))  # compiled once per input size, not eager
    return np.repeat(uv[None], samples, axis=0) if samples > 1 else uv[None]


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
