"""Chroma classes: quantised UV bins, soft encoding, class rebalancing, annealed-mean decoding.

The maths of "Colorful Image Colorization" (Zhang, Isola, Efros, ECCV 2016, section 2), moved
from CIE Lab's ab plane to the BT.601 UV plane this project works in:

- bins: a square grid over the UV plane, keeping the cells whose centre is the chroma of some
  in-gamut RGB colour (ECCV16 keeps the Q = 313 in-gamut ab cells of a 10-unit grid);
- soft encoding: a target UV becomes a distribution over its 5 nearest bin centres, weighted by
  a Gaussian of the distance (sigma 5 ab units in ECCV16);
- rebalancing: w(q) proportional to ((1 - lambda) p~(q) + lambda / Q)^-1, normalised so that
  E_p~[w] = 1, where p~ is the empirical bin prior smoothed by a Gaussian (equation 4);
- annealed mean: H_T(z) = E[softmax(log z / T)] over the bin centres (equation 5); T = 1 is
  the mean, T -> 0 the mode; ECCV16 used T = 0.38.

Scale: Lab's ab and BT.601 UV differ by about AB_TO_UV UV per ab unit (red, green and blue are
at |ab| ~ 104-134 and |UV| ~ 0.45-0.63), so 10 ab ~ 0.05 UV and 5 ab ~ 0.025 UV.
Numpy functions serve decoding, soft encoding (`BinGrid`, per batch beside the step) and the
statistics of the data; `sparse_cross_entropy`, `rebalance_weights_ops`, `decode_ops` and
`PropagatedPrior` (the unet's hints as a likelihood over the bins) are keras.ops (they run inside
the network or its training step).
"""

from __future__ import annotations

import numpy as np
from keras import layers, ops

from colourise_core import colour
# ECCV16 equation 5 in numpy; Keras-free, so the ONNX runtime uses the same implementation
from colourise_core.onnx_decoding import annealed_mean  # noqa: F401 - part of this module's API

AB_TO_UV = 0.0048  # UV per CIE ab unit, the mean ratio over the RGB primaries' chroma (see above)


def uv_bins(step: float) -> np.ndarray:
    """Centres of the in-gamut cells of a UV grid of spacing `step`, centred on grey (0, 0).

    A cell is kept when some point of it (an 11 x 11 grid of points over the cell, edges included)
    is the chroma of an RGB colour in [0, 1]^3: RGB = Y + UV @ CHROMA_TO_RGB is in the cube for
    some Y iff the spread of the three offsets is at most 1 (Y then shifts it into the cube).
    So the gamut's corners (pure red, green, blue...) fall in kept cells.

    Returns:
        (Q, 2) float32 centres, U-major order.
    """
    nu, nv = (int(np.ceil(m / step - 0.5)) for m in (colour.U_MAX, colour.V_MAX))
    u = np.arange(-nu, nu + 1) * step  # centres on multiples of step: grey is a bin centre
    v = np.arange(-nv, nv + 1) * step
    uu, vv = np.meshgrid(u, v, indexing="ij")
    uv = np.stack([uu.ravel(), vv.ravel()], axis=-1)  # (U V, 2)
    sub = np.linspace(-step / 2, step / 2, 11)
    ok = np.zeros(len(uv), bool)
    for du in sub:
        for dv in sub:
            offsets = (uv + (du, dv)) @ colour.CHROMA_TO_RGB  # (U V, 3)
            ok |= offsets.max(axis=1) - offsets.min(axis=1) <= 1.0 + 1e-9
    return uv[ok].astype(np.float32)


def nearest_bin(uv: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest bin centre of each UV. uv (..., 2) -> int64 (...)."""
    flat = np.asarray(uv, np.float32).reshape(-1, 2)
    out = np.empty(len(flat), np.int64)
    for s in range(0, len(flat), 65536):  # (chunk, Q) distances stay small
        d2 = ((flat[s:s + 65536, None, :] - centres[None]) ** 2).sum(-1)
        out[s:s + 65536] = d2.argmin(-1)
    return out.reshape(np.shape(uv)[:-1])


def smooth_prior(counts: np.ndarray, centres: np.ndarray, sigma: float) -> np.ndarray:
    """The empirical prior p~: bin counts normalised, then smoothed by a Gaussian over the bin
    centres (ECCV16 smooths with sigma 5 ab). Returns (Q,) float64 summing to 1."""
    p = np.asarray(counts, np.float64)
    p = p / p.sum()
    if sigma > 0:
        d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1).astype(np.float64)  # (Q, Q)
        kernel = np.exp(-d2 / (2 * sigma**2))
        kernel /= kernel.sum(axis=0, keepdims=True)  # each source bin spreads a unit of mass
        p = kernel @ p
    return p / p.sum()


def rebalance_weights(prior: np.ndarray, lam: float) -> np.ndarray:
    """ECCV16 equation 4: w ~ ((1 - lam) prior + lam / Q)^-1, scaled so sum(prior * w) = 1.

    A uniform prior gives w = 1 everywhere; lam = 1 turns rebalancing off (w = 1).
    Returns (Q,) float64.
    """
    p = np.asarray(prior, np.float64)
    w = 1.0 / ((1.0 - lam) * p + lam / len(p))
    return w / (p * w).sum()


def rebalance_weights_ops(prior, lam: float):
    """`rebalance_weights` in keras.ops (the prior is a model variable). (Q,) -> (Q,)."""
    q = ops.cast(ops.shape(prior)[0], prior.dtype)
    w = 1.0 / ((1.0 - lam) * prior + lam / q)
    return w / ops.sum(prior * w)


class BinGrid:
    """The kept bins of a UV grid with a lookup from grid cell to bin, for fast soft encoding.

    Attributes:
        step: grid spacing; centres: (Q, 2) float32; lut: int64 (U, V) grid cell -> bin or -1.
    """

    def __init__(self, step: float):
        self.step = float(step)
        self.centres = uv_bins(step)
        self.nu, self.nv = (int(np.ceil(m / step - 0.5)) for m in (colour.U_MAX, colour.V_MAX))
        self.lut = -np.ones((2 * self.nu + 1, 2 * self.nv + 1), np.int64)
        cells = np.rint(self.centres / step).astype(np.int64) + (self.nu, self.nv)
        self.lut[cells[:, 0], cells[:, 1]] = np.arange(len(self.centres))

    def candidates(self, uv: np.ndarray, reach: int = 2) -> np.ndarray:
        """Bins of the (2 reach + 1)^2 grid cells around each UV (-1 where none). (..., 2) -> (..., C)."""
        cell = np.rint(np.asarray(uv) / self.step).astype(np.int64)
        offs = np.arange(-reach, reach + 1)
        du, dv = np.meshgrid(offs, offs, indexing="ij")
        iu = cell[..., :1] + du.ravel() + self.nu  # (..., C) grid cells, maybe off the grid
        iv = cell[..., 1:] + dv.ravel() + self.nv
        inside = (iu >= 0) & (iu <= 2 * self.nu) & (iv >= 0) & (iv <= 2 * self.nv)
        return np.where(inside, self.lut[np.clip(iu, 0, 2 * self.nu), np.clip(iv, 0, 2 * self.nv)], -1)

    def soft_encode_sparse(self, uv: np.ndarray, sigma: float, k: int = 5):
        """Soft-encoded targets (ECCV16 2.1) as the k nearest bins and their Gaussian weights.

        The nearest bins are looked for among the bins of the 5 x 5 grid cells around each UV
        (the k = 5 nearest of a regular grid lie within its 3 x 3 cells; 5 x 5 covers cells that
        the gamut's edge removed).

        Args:
            uv: (..., 2) chroma.
        Returns:
            (index int32 (..., k) nearest first, weight float32 (..., k) summing to 1).
        """
        uv = np.asarray(uv, np.float32)
        cand = self.candidates(uv)  # (..., 25)
        d2 = ((uv[..., None, :] - self.centres[np.maximum(cand, 0)]) ** 2).sum(-1)  # (..., 25)
        d2 = np.where(cand < 0, np.inf, d2)
        order = np.argsort(d2, axis=-1, kind="stable")[..., :k]  # (..., k)
        idx = np.take_along_axis(cand, order, axis=-1)
        dk = np.take_along_axis(d2, order, axis=-1)
        g = np.exp(-(dk - dk[..., :1]) / (2.0 * sigma**2))
        return idx.astype(np.int32), (g / g.sum(-1, keepdims=True)).astype(np.float32)

    def soft_encode(self, uv: np.ndarray, sigma: float, k: int = 5) -> np.ndarray:
        """The dense form of `soft_encode_sparse`: (..., 2) -> (..., Q) float32."""
        idx, w = self.soft_encode_sparse(uv, sigma, k)
        out = np.zeros(idx.shape[:-1] + (len(self.centres),), np.float32)
        np.put_along_axis(out, idx.astype(np.int64), w, axis=-1)
        return out


def sparse_cross_entropy(logits, index, weight):
    """-sum_k weight_k log softmax(logits)[index_k]: cross-entropy against a soft target given
    by its k bins (keras.ops). logits (..., Q), index (..., k) int, weight (..., k) -> (...)."""
    log_p = ops.log_softmax(logits, axis=-1)
    return -ops.sum(weight * ops.take_along_axis(log_p, ops.cast(index, "int32"), axis=-1), axis=-1)


def decode_ops(logits, log_w, unrebalance, temperature, centres):
    """The unet's decoding in keras.ops, differentiable: the annealed mean (ECCV16 eq. 5) of the
    softmax with `unrebalance` x log w subtracted. logits (..., Q), log_w (Q,), centres (Q, 2)
    -> UV (..., 2); the twin of the numpy decoding (`annealed_mean` after `log_softmax_np`)."""
    log_p = ops.log_softmax(logits, axis=-1) - unrebalance * log_w
    f = ops.softmax(log_p / temperature, axis=-1)
    return ops.einsum("...q,qc->...c", f, centres)


CONFIDENCE_SCALE = 100.0  # the propagation's confidence = this x a 1 x 1 conv: Adam's ~1e-4 steps then reach
# the useful confidences (~1-10: a distribution within a bin or two of the propagated chroma) in hundreds of steps


class PropagatedPrior(layers.Layer):
    """Levin's propagated chroma p as a Gaussian likelihood over the bins, at a confidence c that
    the network sets per output pixel: logits - c * flag * |centre_q - p|^2 / (2 sigma^2), c =
    `CONFIDENCE_SCALE` x the confidence input.

    A product of experts (the network's distribution times the propagation's): c = 0 leaves the
    network's logits as they were (a widened network starts so); flag is 0 for images without
    hints. Inputs: logits (N, h, w, Q), propagated (N, h, w, 4) = (U, V, flag, closeness), c (N, h, w, 1).
    """

    def __init__(self, centres, sigma: float, **kwargs):
        super().__init__(**kwargs)
        self.centres = np.asarray(centres, "float32")  # (Q, 2)
        self.sigma = float(sigma)

    def call(self, logits, propagated, confidence):
        uv, flag = propagated[..., None, :2], propagated[..., 2:3]  # (N, h, w, 1, 2), (N, h, w, 1)
        d2 = ops.sum(ops.square(uv - ops.convert_to_tensor(self.centres)), axis=-1)  # (N, h, w, Q)
        return logits - CONFIDENCE_SCALE * confidence * flag * d2 / (2.0 * self.sigma ** 2)

    def get_config(self):
        return {**super().get_config(), "centres": self.centres.tolist(), "sigma": self.sigma}


def log_softmax_np(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))




def probabilities_to_log(p: np.ndarray) -> np.ndarray:
    """log p with log 0 = -inf and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(p, np.float64))
