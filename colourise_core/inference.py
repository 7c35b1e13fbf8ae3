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

Two full-size paths share those rules. `colourise_image` is the reference: float32 RGB, as the
library's maths is written. `colourise_many` (`colourise_each`, one model at a time) is the lean path for display and files: the photo is
decoded once and its luma computed once for any number of models; each model's UV is resized
with OpenCV and merged, gamut-fitted and rounded to uint8 RGB in one cache-sized pass
(`colour.chroma_to_rgb8`), the same pixels within 1/255.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Iterator

import cv2
import numpy as np

from colourise_core import colour, imageio

# colourise_core.models (Keras, TensorFlow) is imported by the Keras path only, not at import time:
# the ONNX runtime's models (onnx_runtime.OnnxModel) run without it.

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
    from colourise_core import models

    return models.family_of(model).input_size(model, height, width, render_size)


def predict_uv(model, y: np.ndarray, samples: int = 1, temperature: float | None = None, seed: int = 0,
               hints=None, component: int | None = None) -> np.ndarray:
    """UV for a batch of luma at the model's input size.

    Args:
        y: (N, h, w, 1).
        samples: samples per image (a family that does not sample repeats its answer).
        temperature: the family's temperature (CVAE: latent std scale, 0 the mean; unet: the
            annealed-mean temperature, "vividness"); None: the family's default.
        seed: seeds the samples.
        hints: None, or (uv (N, h, w, 2), mask (N, h, w, 1)) at the input size; a family that
            takes none raises a ColouriseError.
        component: a mixture's component to sample (the MDN CVAE); None: chosen by weight.
    Returns:
        (S, N, h, w, 2).
    """
    from colourise_core import models

    extra = {} if component is None else {"component": component}
    return models.family_of(model).predict_uv(model, np.asarray(y, "float32"), samples=samples,
                                               temperature=temperature, seed=seed, hints=hints, **extra)


def hint_maps(hints, luma: np.ndarray, size: tuple[int, int], min_side: int = 1):
    """User hints (a hints file, JSON text, dict or `hints.Hints`) for a full-size luma (H, W, 1),
    rasterised at a model's input size: (uv (1, h, w, 2), mask (1, h, w, 1)); None for None.
    `min_side`: the square each point covers at least (`hint_side`)."""
    if hints is None:
        return None
    from colourise_core import hints as hints_mod

    parsed = hints_mod.parse_hints(hints, luma.shape[1], luma.shape[0])
    uv, mask = hints_mod.rasterise(parsed, luma, size=size, min_side=min_side)
    return uv[None], mask[None]


def hint_side(model) -> int:
    """The square (pixels at the network's input) a user's point covers for this model.

    A family trained on simulated hint squares records their largest side in its config as
    `hint_patch` (the unet: 1..5 pixels, SIGGRAPH17 3.3); a point is painted that large, since the
    network barely heeds a lone pixel. Read from the spec, so a Keras model and its ONNX export
    (which carries the same spec, without Keras) rasterise the same hints alike. 1 otherwise.
    """
    own = _graph_runtime(model)
    spec = own.spec if own else getattr(model, "spec", None) or {}
    return max(1, int((spec.get("config") or {}).get("hint_patch", 1)))


def colourise_luma(model, luma: np.ndarray, samples: int = 1, temperature: float | None = None, seed: int = 0,
                   render_size: int | None = None, hints=None, component: int | None = None) -> np.ndarray:
    """Colourise a full-resolution luma image.

    Args:
        luma: (H, W, 1) in [0, 1].
        hints: user colour hints in the image's pixels (see `colourise_core.hints`), for a model
            that takes them; a model that takes none raises a ColouriseError.
    Returns:
        (S, H, W, 3) float32 RGB whose luma is `luma`.
    """
    height, width = luma.shape[:2]
    h, w = input_size(model, height, width, render_size)
    if hints is not None:
        from colourise_core import models

        models.family_of(model).check_hints(hints)
    y_small = imageio.resize_float(luma, (h, w)).reshape(1, h, w, 1)
    maps = hint_maps(hints, luma, (h, w), hint_side(model)) if hints is not None else None
    uv = predict_uv(model, y_small, samples, temperature, seed, maps,
                    component=component)[:, 0]  # (S, h, w, 2)
    out = np.empty((len(uv), height, width, 3), np.float32)
    rows = max(1, TILE_PIXELS // width)
    for i, uv_s in enumerate(uv):
        uv_full = imageio.resize_float(uv_s, (height, width))  # (H, W, 2)
        for r in range(0, height, rows):  # per row tile: the temporaries stay small
            out[i, r:r + rows] = colour.luma_chroma_to_rgb(luma[r:r + rows], uv_full[r:r + rows], compute_dtype=np.float32)
        del uv_full
    return out


def colourise_image(image, model, samples: int = 1, temperature: float | None = None, seed: int = 0,
                    render_size: int | None = None, hints=None, component: int | None = None) -> Colourisation:
    """Colourise an image (path, bytes, PIL image or array), keeping its luma and alpha.

    A colour input is turned to grey first (its Y); modes L, LA, RGB, RGBA, P, CMYK and 16-bit
    are read by `imageio.load_rgb`, with EXIF orientation applied.
    """
    loaded = image if isinstance(image, imageio.LoadedImage) else imageio.load_rgb(image)
    luma = loaded.luma(reference=True)  # (H, W, 1), band by band: no full-size float RGB
    alpha = loaded.alpha
    del loaded
    start = time.perf_counter()
    rgb = colourise_luma(model, luma, samples, temperature, seed, render_size, hints, component=component)
    seconds = time.perf_counter() - start
    return Colourisation(rgb=rgb[0] if samples == 1 else rgb, alpha=alpha, luma=luma, seconds=seconds)


def colourise(image, model, samples: int = 1, temperature: float | None = None, seed: int = 0,
              render_size: int | None = None, hints=None) -> np.ndarray:
    """Colourise an image; RGB (H, W, 3) float32 at the input's size, or (S, H, W, 3) for samples > 1.

    Args:
        image: a path, bytes, a PIL image or an array.
        model: a model from `colourise_core.weights.load_pretrained` or `training.load_run`.
        samples: CVAE samples to draw.
        temperature: the model's temperature: CVAE latent standard-deviation scale (0: the mean);
            unet annealed-mean temperature, "vividness" (1: the muted mean, towards 0: the vivid
            mode); None: the model's default (unet: the one chosen on validation, stored with it).
        seed: seeds the CVAE samples.
        render_size: the longer side a fully convolutional model sees (None: the training resolution).
        hints: colour hints (a hints JSON file, its text, a dict or `hints.Hints`; see
            `colourise_core.hints`) for a model that takes them (unet).
    """
    return colourise_image(image, model, samples, temperature, seed, render_size, hints).rgb


# ----------------------------------------------------------------------------- lean path


@dataclasses.dataclass(frozen=True, eq=False)
class Rendering:
    """One model's display-ready result from `colourise_many`.

    rgb8: (H, W, 3) uint8, or (S, H, W, 3) for S samples.
    alpha: (H, W) float32 or None, copied from the input.
    luma: (H, W, 1) float32, the input's Y (one array shared by every model of the call).
    seconds: wall time of this model's part (its input resize, forward, full-size steps).
    seen: the (h, w) the model saw.
    steps: seconds per step, this model's ("forward", ...) and the shared ones ("decode", "luma").
    """

    rgb8: np.ndarray
    alpha: np.ndarray | None
    luma: np.ndarray
    seconds: float
    seen: tuple[int, int]
    steps: dict

    @functools.cached_property
    def rgb(self) -> np.ndarray:
        """float32 RGB in [0, 1] (for metrics and float consumers), computed once on demand."""
        return self.rgb8.astype(np.float32) * np.float32(1.0 / 255.0)


def upsample_uv(uv: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A model's UV at full size, clipped to the chroma range: (h, w, 2) -> planes U, V (H, W).

    The pixels of `imageio.resize_float(uv, size)` followed by `colour.merge_y_uv`'s clip: when
    both sides grow (the usual case) each plane is one multi-threaded bicubic `cv2.resize`,
    clipped in place once to the input's range intersected with [-U_MAX, U_MAX] / [-V_MAX, V_MAX].
    """
    height, width = int(size[0]), int(size[1])
    uv = np.ascontiguousarray(uv, np.float32)
    if uv.shape[0] > height or uv.shape[1] > width:  # a side shrinks: the reference's two-pass rule
        full = imageio.resize_float(uv, (height, width))
        return (np.clip(full[..., 0], -colour.U_MAX, colour.U_MAX),
                np.clip(full[..., 1], -colour.V_MAX, colour.V_MAX))
    planes = []
    for c, bound in enumerate((colour.U_MAX, colour.V_MAX)):
        plane = np.ascontiguousarray(uv[..., c])  # (h, w)
        low, high = max(float(plane.min()), -bound), min(float(plane.max()), bound)
        if plane.shape != (height, width):
            plane = cv2.resize(plane, (width, height), interpolation=cv2.INTER_CUBIC)
        else:
            plane = plane.copy()
        np.clip(plane, low, high, out=plane)  # no ringing outside the input's range, nor the gamut's
        planes.append(plane)
    return planes[0], planes[1]


def _per_model(value, name: str, default):
    """`value` itself, or its entry for `name` when it is a dict (e.g. samples for the CVAE only)."""
    return value.get(name, default) if isinstance(value, dict) else value


def _graph_runtime(model):
    """The model itself when it runs its own graphs (an `onnx_runtime.OnnxModel`), else None."""
    return model if getattr(model, "runs_own_graphs", False) else None


def model_input_size(model, height: int, width: int, render_size: int | None = None) -> tuple[int, int]:
    """`input_size` for a Keras model or a model that runs its own graphs (ONNX)."""
    own = _graph_runtime(model)
    return own.input_size(height, width, render_size) if own else input_size(model, height, width, render_size)


def model_predict_uv(model, y: np.ndarray, samples: int = 1, temperature: float | None = None, seed: int = 0,
                     hints=None) -> np.ndarray:
    """`predict_uv` for a Keras model or a model that runs its own graphs (ONNX): (S, N, h, w, 2)."""
    own = _graph_runtime(model)
    if own:
        return own.predict_uv(y, samples=samples, temperature=temperature, seed=seed, hints=hints)
    return predict_uv(model, y, samples, temperature, seed, hints)


def render_uv(luma: np.ndarray, uv: np.ndarray, steps: dict | None = None) -> np.ndarray:
    """Full-size uint8 RGB of a luma and one model's UV samples.

    Args:
        luma: (H, W, 1) float32 in [0, 1].
        uv: (S, h, w, 2) UV at the model's input size.
        steps: a dict that gets the seconds of "uv resize" and "rgb8" added.
    Returns:
        (S, H, W, 3) uint8.
    """
    height, width = luma.shape[:2]
    out = np.empty((len(uv), height, width, 3), np.uint8)
    steps = {} if steps is None else steps
    for i, uv_s in enumerate(uv):
        start = time.perf_counter()
        u, v = upsample_uv(uv_s, (height, width))
        mid = time.perf_counter()
        colour.chroma_to_rgb8(luma, u, v, out=out[i])
        end = time.perf_counter()
        steps["uv resize"] = steps.get("uv resize", 0.0) + mid - start
        steps["rgb8"] = steps.get("rgb8", 0.0) + end - mid
    return out


def colourise_many(image, models: dict, samples: int | dict = 1, temperature: float | None | dict = None, seed: int = 0,
                   render_size: int | None | dict = None, hints=None) -> dict[str, Rendering]:
    """{name: Rendering} of every model: `colourise_each` collected (see there)."""
    return dict(colourise_each(image, models, samples, temperature, seed, render_size, hints))


def colourise_each(image, models: dict, samples: int | dict = 1, temperature: float | None | dict = None, seed: int = 0,
                   render_size: int | None | dict = None, hints=None) -> Iterator[tuple[str, Rendering]]:
    """Colourise one image with several models, display-ready: every model-independent step once.

    The image is decoded once and its luma computed once; models that see the same input size
    share the downscaled Y; each model then costs its forward pass, one UV resize and one fused
    pass to uint8 RGB (see `render_uv`). The pixels equal `colourise_image`'s rounded to uint8
    within one level; the luma of the result is the input's within 1/255.

    Args:
        image: a path, bytes, a PIL image, an array or an `imageio.LoadedImage`.
        models: {name: model}, each a Keras model (`weights.load_pretrained`) or an
            `onnx_runtime.OnnxModel`.
        samples, temperature, render_size, hints: one value for all, or a dict by name (missing
            names get 1, None (the model's default), None and None).
        seed: seeds the samples.
    Yields:
        (name, Rendering), in the order of `models`, one model at a time: a caller that writes
        each result and drops it holds one model's full-size result at a time (the CLI).
    """
    start = time.perf_counter()
    loaded = image if isinstance(image, imageio.LoadedImage) else imageio.load_rgb(image)
    decoded = time.perf_counter()
    luma = loaded.luma()  # (H, W, 1), band by band from the (uint8) pixels
    shared = {"decode": decoded - start, "luma": time.perf_counter() - decoded}
    alpha = loaded.alpha
    del loaded
    height, width = luma.shape[:2]
    smalls: dict[tuple[int, int], np.ndarray] = {}  # the Y each input size needs, made once
    for name, model in models.items():
        begin = time.perf_counter()
        steps = dict(shared)
        h, w = model_input_size(model, height, width, _per_model(render_size, name, None))
        if (h, w) not in smalls:
            smalls[(h, w)] = imageio.resize_float(luma, (h, w)).reshape(1, h, w, 1)
        t = time.perf_counter()
        steps["y resize"] = t - begin
        given = _per_model(hints, name, None)
        maps = hint_maps(given, luma, (h, w), hint_side(model)) if given is not None else None
        uv = model_predict_uv(model, smalls[(h, w)], _per_model(samples, name, 1),
                              _per_model(temperature, name, None), seed, maps)[:, 0]  # (S, h, w, 2)
        steps["forward"] = time.perf_counter() - t
        rgb8 = render_uv(luma, uv, steps)
        yield name, Rendering(rgb8=rgb8[0] if len(rgb8) == 1 else rgb8, alpha=alpha, luma=luma,
                              seconds=time.perf_counter() - begin, seen=(h, w), steps=steps)
        del rgb8, uv
