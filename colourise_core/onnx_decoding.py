"""The numpy steps around exported graphs: each family's `predict_uv` without Keras or TensorFlow.

`onnx_runtime.OnnxModel` runs an export's graphs and calls one of `DECODERS` (named in its spec
by `onnx_export.decoding`). Each mirrors its Keras family's `predict_uv` step for step, with the
same noise for the same seed, so the ONNX and Keras pictures agree within 1/255
(tests/test_onnx.py, tests/test_onnx_families.py):

    uv        one graph y (N, h, w, 1) -> uv (N, h, w, 2) (CNN, CGAN).
    latent    the CVAE (dissertation 3.11): cond_encoder y -> (mu, logvar) (N, L); samples
              z = mu + T exp(logvar / 2) eps, eps ~ N(0, 1) from default_rng(seed) with shape
              (S, N, L) (T = 0: z = mu, drawn once); decoder (z, y) -> YUV (N, R, R, 3), UV kept.
    mixture   the MDN CVAE (models/mdn.py): cond_encoder y -> mixture (logits (N, K), means and
              logvars (N, K, L)); `sample_latent` picks each sample's component by its weight
              (or the caller's) and draws within it; then the decoder as `latent`.
    chroma    the unet (models/unet.py, ECCV16's decoding): the graph takes x = [Y - 1/2, hint
              UV * mask, mask] (N, h, w, 4) (with its `propagate` option 4 more channels,
              `unet_inputs.pack`) and gives logits (N, h/4, w/4, Q); log-softmax minus
              the stored fraction of log w (rebalancing partly undone), the annealed mean at T
              (`annealed_mean`), then a bilinear resize to (h, w) with OpenCV.

The numpy functions `models.chroma` and `models.mdn` use (`annealed_mean`, `mixture_weights`,
`choose_components`, `sample_latent`) live here, once: this module imports neither Keras nor
TensorFlow, and those modules import them from here.
"""

from __future__ import annotations

import cv2
import numpy as np

from colourise_core import unet_inputs
from colourise_core.errors import ColouriseError


# ---- the unet's chroma decoding (twin of models.chroma.log_softmax_np / annealed_mean) ------------
def log_softmax(z: np.ndarray) -> np.ndarray:
    """log softmax over the last axis (float64 in, float64 out)."""
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def annealed_mean(log_p: np.ndarray, centres: np.ndarray, temperature: float) -> np.ndarray:
    """ECCV16 equation 5: sum_q softmax(log_p / T)_q centre_q; T <= 1e-6 gives the mode.

    Args:
        log_p: (..., Q) log-probabilities; centres: (Q, 2) bin centres; temperature: T.
    Returns:
        (..., 2) float32 UV.
    """
    log_p = np.asarray(log_p, np.float64)
    if temperature <= 1e-6:
        return centres[np.argmax(log_p, axis=-1)].astype(np.float32)
    with np.errstate(invalid="ignore"):
        z = log_p / temperature
        z = z - np.max(z, axis=-1, keepdims=True)
    f = np.exp(z)
    f /= f.sum(axis=-1, keepdims=True)
    return (f @ np.asarray(centres, np.float64)).astype(np.float32)


def decode_logits(logits: np.ndarray, params: dict, temperature: float) -> np.ndarray:
    """Logits (N, h, w, Q) -> UV (N, h, w, 2): the unet family's `decode_logits`.

    Args:
        params: the export's decoding parameters: "centres" (Q, 2) and "log_offset" (Q,) (the
            stored fraction of log w, subtracted from the log-softmax).
    """
    log_p = log_softmax(np.asarray(logits, np.float64)) - params["log_offset"]
    return annealed_mean(log_p, params["centres"], temperature)


def pack_hints(y: np.ndarray, hints=None, propagate: bool = False) -> np.ndarray:
    """The unet graph's input: y (N, h, w, 1) and optional (uv, mask) -> [Y - 1/2, uv * mask, mask]
    (with `propagate`, then the hints' propagation: `unet_inputs.pack`, as the Keras family packs it)."""
    x = unet_inputs.pack(y, hints, propagate_hints=propagate)
    x[..., :1] -= 0.5
    return x


# ---- the MDN's sampling (twin of models.mdn.mixture_weights / choose_components / sample_latent) --
def mixture_weights(logits: np.ndarray) -> np.ndarray:
    """Softmax of the mixture logits (N, K): each image's component weights, float32."""
    logits = np.asarray(logits, np.float64)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def choose_components(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Component index for each uniform draw u in [0, 1): inverse CDF of the weights.

    Args:
        weights: (N, K) rows summing to 1; u: (S, N).
    Returns:
        (S, N) int: the first k with u < cumsum(weights)_k.
    """
    cdf = np.cumsum(weights, axis=-1)  # (N, K)
    k = (u[..., None] >= cdf[None]).sum(axis=-1)
    return np.minimum(k, weights.shape[-1] - 1)


def sample_latent(logits, means, logvars, n: int, temperature: float, seed: int, component: int | None = None) -> np.ndarray:
    """Draw n latent codes per image from the mixture (the MDN CVAE's, `models.mdn` re-exports it).

    The normal noise is drawn first, with the same generator call as the dissertation's CVAE
    (`default_rng(seed).standard_normal((n, N, L))`), then the component choices; so a
    one-component mixture gives exactly the single-Gaussian CVAE's samples for the same seed.

    Args:
        logits: (N, K); means, logvars: (N, K, L).
        n: samples per image; temperature: scales each component's std (0: its mean).
        seed: numpy seed; component: None chooses by weight, k uses component k.
    Returns:
        (n, N, L) float32.
    """
    means, logvars = np.asarray(means, "float32"), np.asarray(logvars, "float32")
    count, k_total = means.shape[0], means.shape[1]
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((n, count, means.shape[-1])).astype("float32")  # noise first, as mdn.py
    if component is None:
        ks = choose_components(mixture_weights(logits), rng.random((n, count)))  # (n, N)
    else:
        if not 0 <= int(component) < k_total:
            raise ValueError(f"component {component} out of range: this mixture has components 0..{k_total - 1}")
        ks = np.full((n, count), int(component))
    rows = np.arange(count)[None, :]
    mu, logvar = means[rows, ks], logvars[rows, ks]  # (n, N, L)
    return mu + temperature * np.exp(0.5 * logvar) * eps


# ---- the decoders -------------------------------------------------------------------------------
def _repeat(uv: np.ndarray, samples: int) -> np.ndarray:
    """(N, h, w, 2) -> (S, N, h, w, 2): a model that does not sample repeats its answer."""
    return np.repeat(uv[None], samples, axis=0) if samples > 1 else uv[None]


def _no_component(component) -> None:
    if component not in (None, 0):
        raise ValueError(f"component {component}: this model has no mixture (component 0 only)")


def _uv(model, y, samples, temperature, seed, hints=None, component=None):
    _no_component(component)
    return _repeat(model.run("uv", [y])[0], samples)


def _decode_latent(model, y, z):
    """The decoder's UV for latents z (n, N, L) and luma y (N, R, R, 1): (n, N, R, R, 2)."""
    n = len(z)
    y_rep = np.broadcast_to(y[None], (n,) + y.shape).reshape((-1,) + y.shape[1:])
    yuv = model.run("decoder", [z.reshape((-1, z.shape[-1])).astype("float32"), np.ascontiguousarray(y_rep)])[0]
    return yuv[..., 1:].reshape((n,) + y.shape[:-1] + (2,))


def _latent(model, y, samples, temperature, seed, hints=None, component=None):
    _no_component(component)
    temperature = temperature or 0.0
    mu, logvar = model.run("cond_encoder", [y])  # (N, L) each
    n = samples if temperature > 0 else 1
    if temperature > 0:
        eps = np.random.default_rng(seed).standard_normal((n,) + mu.shape).astype("float32")
        z = mu[None] + temperature * np.exp(0.5 * logvar)[None] * eps  # (n, N, L)
    else:
        z = mu[None]
    uv = _decode_latent(model, y, z)
    return np.repeat(uv, samples, axis=0) if n == 1 and samples > 1 else uv


def _mixture(model, y, samples, temperature, seed, hints=None, component=None):
    t = temperature or 0.0
    logits, means, logvars = model.run("cond_encoder", [y])  # (N, K), (N, K, L) x 2
    n = samples if (t > 0 or (component is None and means.shape[1] > 1)) else 1  # else all alike
    uv = _decode_latent(model, y, sample_latent(logits, means, logvars, n, t, seed, component))
    return np.repeat(uv, samples, axis=0) if n < samples else uv


def _chroma(model, y, samples, temperature, seed, hints=None, component=None):
    _no_component(component)
    propagate = bool((model.spec.get("config") or {}).get("propagate", False))  # the unet's `propagate` option
    logits = model.run("logits", [pack_hints(y, hints, propagate)])[0]  # (N, h/4, w/4, Q)
    small = decode_logits(logits, model.decoding_params, temperature)  # (N, h/4, w/4, 2)
    h, w = y.shape[1:3]
    uv = np.stack([cv2.resize(s, (w, h), interpolation=cv2.INTER_LINEAR) for s in small])  # (N, h, w, 2)
    return _repeat(uv, samples)


DECODERS = {"uv": _uv, "latent": _latent, "mixture": _mixture, "chroma": _chroma}
TAKES_HINTS = {"chroma"}  # decodings whose graphs take user hints


def check_hints(decoding: str, hints, name: str) -> None:
    """A ColouriseError when hints are given to a model whose graphs take none (as Family.check_hints)."""
    if hints is not None and decoding not in TAKES_HINTS:
        raise ColouriseError(f"the {name} model takes no hints; use a model that does (unet)")
