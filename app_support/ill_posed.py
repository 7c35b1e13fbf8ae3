"""Figures of the "Why is it ill-posed?" lesson, built on colourise_core.colour.

Every recolouring keeps the luma Y exactly and changes only the chroma (U, V); chroma that would
leave the RGB cube is scaled towards grey with `colour.fit_chroma_to_gamut`, which keeps Y.
"""

from __future__ import annotations

import numpy as np

from colourise_core import colour


def _from_yuv(yuv: np.ndarray) -> np.ndarray:
    return colour.yuv_to_rgb(colour.fit_chroma_to_gamut(yuv))


def rotate_chroma(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """The image with its (U, V) turned by `degrees` around grey (a hue rotation), same luma."""
    yuv = colour.rgb_to_yuv(rgb).astype(np.float64)
    t = np.deg2rad(degrees)
    u, v = yuv[..., 1], yuv[..., 2]
    yuv[..., 1], yuv[..., 2] = u * np.cos(t) - v * np.sin(t), u * np.sin(t) + v * np.cos(t)
    return _from_yuv(yuv)


def swap_uv(rgb: np.ndarray) -> np.ndarray:
    """The image with U and V exchanged (blue-yellow <-> red-cyan), same luma."""
    yuv = colour.rgb_to_yuv(rgb)
    return _from_yuv(yuv[..., [0, 2, 1]])


def scale_chroma(rgb: np.ndarray, factor: float) -> np.ndarray:
    """The image with its chroma scaled (0: grey, 1: unchanged), same luma."""
    yuv = colour.rgb_to_yuv(rgb).astype(np.float64)
    yuv[..., 1:] *= factor
    return _from_yuv(yuv)


def max_luma_difference(images: list[np.ndarray]) -> float:
    """The largest |Y_i - Y_0| over pixels and images (0-1 scale)."""
    y0 = colour.rgb_to_y(images[0])
    return float(max(np.abs(colour.rgb_to_y(im) - y0).max() for im in images[1:]))


def uv_plane(y: float, n_u: int = 219, n_v: int = 309) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The colours of one luma over a (U, V) grid.

    Returns:
        rgb float32 (n_v, n_u, 3) with V growing upwards (row 0 is +V_MAX), out-of-gamut points
        hatched grey; in_gamut bool (n_v, n_u); u (n_u,); v (n_v,) (top to bottom).
    """
    u = np.linspace(-colour.U_MAX, colour.U_MAX, n_u)
    v = np.linspace(colour.V_MAX, -colour.V_MAX, n_v)
    uu, vv = np.meshgrid(u, v)
    yuv = np.stack([np.full_like(uu, y), uu, vv], axis=-1)
    raw = colour.yuv_to_rgb(yuv, clip=False)
    in_gamut = np.all((raw >= -1e-6) & (raw <= 1 + 1e-6), axis=-1)
    rgb = np.clip(raw, 0, 1)
    rows, cols = np.indices(in_gamut.shape)
    hatch = np.where(((rows + cols) // 4) % 2 == 0, 0.55, 0.75)[..., None]
    rgb = np.where(in_gamut[..., None], rgb, hatch).astype(np.float32)
    return rgb, in_gamut, u, v


def swatch(y: float, u: float, v: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """One colour (Y, U, V): its RGB, its grey, and whether it is inside the RGB cube.

    A colour outside the cube is shown with its chroma scaled towards grey until it fits
    (`fit_chroma_to_gamut`), so the swatch keeps the luma Y and its grey is exact.
    """
    yuv = np.array([y, u, v], np.float64)
    raw = colour.yuv_to_rgb(yuv, clip=False)
    inside = bool(np.all((raw >= -1e-6) & (raw <= 1 + 1e-6)))
    rgb = colour.yuv_to_rgb(colour.fit_chroma_to_gamut(yuv))
    return rgb.astype(np.float32), np.full(3, y, np.float32), inside


# ------------------------------------------------------------------ part 5: hints make it well-posed

LESSON_SIDE = 160  # part 5 works on a copy with this longer side (~25k px): a fast curve
LESSON_NS = tuple(sorted(set(range(0, 101, 5)) | {1, 2}))  # the curve's numbers of true hints
LESSON_SEED = 0  # the random points (nested sets: a larger N keeps the smaller N's points)


def lesson_image(rgb: np.ndarray) -> np.ndarray:
    """Part 5's working copy of a picked colour image: longer side LESSON_SIDE."""
    from colourise_core import imageio

    h, w = rgb.shape[:2]
    s = LESSON_SIDE / max(h, w)
    return imageio.resize_float(rgb, (max(1, round(h * s)), max(1, round(w * s))))


def hint_methods(unet=None) -> dict:
    """name -> fn(rgb, n, n_max, seed): Levin et al. 2004, and the hint-taking U-Net when loaded (its
    points as the library gives them to it: `guided.unet_true_hints(unet, "user")`)."""
    from colourise_core import guided

    methods = {"levin": guided.levin_true_hints}
    if unet is not None:
        methods["unet"] = guided.unet_true_hints(unet, "user")
    return methods


def hints_curves(rgb: np.ndarray, unet=None, ns=LESSON_NS, seed: int = LESSON_SEED) -> dict[str, dict]:
    """PSNR and colourfulness against N true hints per method on `rgb` (the lesson's copy).

    Returns:
        {method: {"n": [...], "psnr": [...], "colourfulness": [...]}}, "levin" first.
    """
    from colourise_core import guided

    rows = guided.hints_curve(rgb, ns=ns, seed=seed, methods=hint_methods(unet))
    out: dict[str, dict] = {}
    for r in rows:
        if r["method"] != "truth":
            d = out.setdefault(r["method"], {"n": [], "psnr": [], "colourfulness": []})
            for k in d:
                d[k].append(r[k])
    return out


def hinted(rgb: np.ndarray, n: int, unet=None, seed: int = LESSON_SEED) -> dict[str, np.ndarray]:
    """Each method's colouring of `rgb`'s luma from its first n true hints (the curve's points)."""
    n_max = max(LESSON_NS)
    return {name: fn(rgb, n, max(n, n_max), seed) for name, fn in hint_methods(unet).items()}
