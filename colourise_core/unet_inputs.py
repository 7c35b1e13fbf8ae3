"""The unet's input tensor: simulated hints for training, the packed input, hint propagation.

Numpy and SciPy only (no Keras): the ONNX runtime (`onnx_decoding`) packs its input here too.

SIGGRAPH17 (Zhang et al. 2017, 3.3) gives the network the sparse hints themselves (a UV map and a
mask). With `UNetConfig.propagate` the network also gets Levin et al.'s propagation of those hints
(SIGGRAPH 2004, `classic.levin_solve`), solved on the network's own output grid (H/4 x W/4): a
dense first guess that follows the luma's edges, which the network keeps, corrects or overrides
with what it knows of the scene. Solved at that grid Levin's method loses nothing against its
usual working size (10 true hints on 100 Imagenette val photos: 27.46 dB at 24 px, 27.47 dB at
256 px) and costs about a millisecond, so training can solve it for every simulated hint set.

Input layout, x (N, H, W, C):
    0 Y, 1-2 hint UV (0 where none), 3 hint mask;
    with propagate: 4-5 the propagated UV (constant over each 4 x 4 block, 0 when the image has no
    hint), 6 1.0 where the image has any hint (so a propagated 0 is told apart from no hints),
    7 closeness to the nearest hint, exp(-d / CLOSENESS_CELLS) for d grid cells (1 on a hint, 0
    without hints): the propagation is surest near its hints, and the network weighs it so.
"""

from __future__ import annotations

import cv2
import numpy as np

OUTPUT_STRIDE = 4  # the unet's output grid: 1/4 of its input
HINT_CHANNELS = 3  # hint U, V, mask
PROPAGATED_CHANNELS = 4  # propagated U, V, any-hint flag, closeness to the nearest hint
CLOSENESS_CELLS = 3.0  # closeness falls by 1/e every this many grid cells (12 input pixels)


def input_channels(propagate: bool) -> int:
    """Channels of x: Y, the hints and, with `propagate`, their propagation."""
    return 1 + HINT_CHANNELS + (PROPAGATED_CHANNELS if propagate else 0)


def simulate_hints(uv: np.ndarray, rng: np.random.Generator, config):
    """Hints as a user might give them, from the true chroma (SIGGRAPH17 3.3).

    Per image: none with probability `hint_none`, else Geometric(`hint_p`) hints (at most
    `hint_max`); each a square of 1..`hint_patch` pixels at a random place, given the mean UV of
    the true image over that square.

    Args:
        uv: (N, H, W, 2) true chroma.
        rng: the run's hint generator.
        config: a UNetConfig (hint_none, hint_p, hint_max, hint_patch).
    Returns:
        (hint_uv (N, H, W, 2), mask (N, H, W, 1)) float32.
    """
    n, h, w, _ = uv.shape
    hint = np.zeros((n, h, w, 2), np.float32)
    mask = np.zeros((n, h, w, 1), np.float32)
    for i in range(n):
        if rng.random() < config.hint_none:
            continue
        for _ in range(min(int(rng.geometric(config.hint_p)), config.hint_max)):
            s = int(rng.integers(1, config.hint_patch + 1))
            r, c = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
            hint[i, r:r + s, c:c + s] = uv[i, r:r + s, c:c + s].reshape(-1, 2).mean(axis=0)
            mask[i, r:r + s, c:c + s] = 1.0
    return hint, mask


def block_mean(a: np.ndarray, k: int) -> np.ndarray:
    """Mean over k x k blocks (the loss's average pooling onto the output grid): (..., H, W, C) ->
    (..., H/k, W/k, C); rows and columns past a multiple of k are dropped."""
    *lead, h, w, c = a.shape
    a = a[..., : h // k * k, : w // k * k, :]
    return a.reshape(*lead, h // k, k, w // k, k, c).mean(axis=(-4, -2))


def _blocks(a: np.ndarray, k: int) -> np.ndarray:
    """(H, W, C) -> (H/k, W/k, k*k, C): the k x k blocks' pixels."""
    h, w, c = a.shape
    return a[: h // k * k, : w // k * k].reshape(h // k, k, w // k, k, c).transpose(0, 2, 1, 3, 4).reshape(h // k, w // k, k * k, c)


def closeness(hinted: np.ndarray) -> np.ndarray:
    """exp(-d / CLOSENESS_CELLS), d the Euclidean distance (cells) to the nearest hinted cell.

    Args:
        hinted: (h, w) bool, at least one True.
    Returns:
        float32 (h, w), 1 on the hinted cells.
    """
    d = cv2.distanceTransform((~hinted).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.exp(-d / CLOSENESS_CELLS).astype(np.float32)


def propagate(y: np.ndarray, hint_uv: np.ndarray, mask: np.ndarray, k: int = OUTPUT_STRIDE) -> np.ndarray:
    """Levin et al.'s propagation of one image's hints, solved on the k-times smaller grid.

    A grid cell is hinted when any of its pixels is; its hint is the mean hint UV over those pixels.

    Args:
        y: (H, W, 1) luma in [0, 1], H and W multiples of k.
        hint_uv: (H, W, 2) hint chroma.
        mask: (H, W, 1) 1 where a hint is; at least one pixel set.
    Returns:
        float32 (H/k, W/k, 2) chroma.
    """
    from colourise_core import classic  # here, not at import: SciPy costs ~0.5 s a cold start needs only with hints

    y_small = block_mean(np.asarray(y, np.float32), k)  # (h, w, 1) area average
    m = _blocks(np.asarray(mask, np.float32), k)  # (h, w, k*k, 1)
    weight = m.sum(axis=2)  # (h, w, 1)
    hint_small = (_blocks(np.asarray(hint_uv, np.float32), k) * m).sum(axis=2) / np.maximum(weight, 1.0)
    return classic.levin_solve(y_small, hint_small, weight > 0)


def pack(y, hints=None, propagate_hints: bool = False) -> np.ndarray:
    """(y (N, H, W, 1), optional (hint_uv, mask)) -> x (N, H, W, C), C = `input_channels`.

    With `propagate_hints`, each hinted image's propagation (`propagate`) fills channels 4-7;
    H and W must then be multiples of `OUTPUT_STRIDE` (the unet's inputs are multiples of 16).
    """
    y = np.asarray(y, np.float32)
    n, h, w, _ = y.shape
    x = np.zeros((n, h, w, input_channels(propagate_hints)), np.float32)
    x[..., :1] = y
    if hints is None:
        return x
    hint_uv, mask = (np.asarray(a, np.float32) for a in hints)
    x[..., 1:3] = hint_uv * mask
    x[..., 3:4] = mask
    if propagate_hints:
        if h % OUTPUT_STRIDE or w % OUTPUT_STRIDE:
            raise ValueError(f"propagated hints need sides that are multiples of {OUTPUT_STRIDE}, got {h}x{w}")
        k = OUTPUT_STRIDE
        for i in range(n):
            if not mask[i].any():
                continue
            small = propagate(y[i], hint_uv[i], mask[i], k)  # (h/k, w/k, 2)
            near = closeness(_blocks(mask[i], k).max(axis=2)[..., 0] > 0)  # (h/k, w/k)
            x[i, ..., 4:6] = np.repeat(np.repeat(small, k, axis=0), k, axis=1)  # constant per k x k block
            x[i, ..., 6] = 1.0
            x[i, ..., 7] = np.repeat(np.repeat(near, k, axis=0), k, axis=1)
    return x


def widen_kernel(old: np.ndarray, new_shape: tuple) -> np.ndarray:
    """A conv kernel (kh, kw, C_in, C_out) given zeros for new trailing input channels: the
    widened layer computes exactly what the old one did while the new inputs stay unused, so a
    fine-tune starts from the old network's outputs."""
    if old.shape == tuple(new_shape):
        return old
    if old.shape[:2] != tuple(new_shape[:2]) or old.shape[3:] != tuple(new_shape[3:]) or old.shape[2] > new_shape[2]:
        raise ValueError(f"cannot widen a kernel of shape {old.shape} to {tuple(new_shape)}")
    out = np.zeros(new_shape, old.dtype)
    out[:, :, : old.shape[2]] = old
    return out
