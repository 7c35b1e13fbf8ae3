"""Guided colourisation without a network: the classic methods behind one call, and their CLI.

`colourise IMAGE --model levin --hints hints.json` spreads the hints' colours (Levin et al. 2004);
`colourise IMAGE --model welsh --reference REF.jpg` transfers a reference photo's colours
(Welsh et al. 2002). Both keep the input's luma; a colour input is turned to grey first.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from colourise_core import classic, hints as hints_mod, imageio
from colourise_core.colour import rgb_to_y
from colourise_core.errors import ColouriseError, ImageError

METHODS = ("levin", "welsh")  # the classic methods' names on the CLI and in the app


def check_args(method: str, hints, reference) -> None:
    """Refuse a method without what it needs, or given what it would ignore.

    Args:
        method: a CLI model name (a classic method or a learned family).
        hints: the --hints value or None.
        reference: the --reference value or None.
    Raises:
        ColouriseError: naming the missing or unused argument.
    """
    if method == "levin" and hints is None:
        raise ColouriseError("--model levin needs --hints HINTS.json: Levin's method spreads the colours "
                             "of the hints it is given, and has none")
    if method == "welsh" and reference is None:
        raise ColouriseError("--model welsh needs --reference REF.jpg: a colour photo to take the colours from")
    if reference is not None and method != "welsh":
        raise ColouriseError(f"--reference is used only by --model welsh, not by --model {method}")
    if hints is not None and method == "welsh":
        raise ColouriseError("--hints is not used by --model welsh (use --model levin, or a model that takes hints)")


def load_reference(src, name: str | None = None) -> np.ndarray:
    """A reference photo's RGB (H, W, 3), decoded under the same limits as any input.

    Raises:
        ImageError: unreadable, too large, or greyscale (nothing to transfer).
    """
    image = imageio.load_rgb(src, name=name)
    label = f"the reference {image.name}"
    if image.was_grey:
        raise ImageError(f"{label} is greyscale: there is no colour to transfer; choose a colour photo")
    return classic.check_reference(image.rgb, label)


def colourise_guided(rgb: np.ndarray, method: str, hints=None, reference: np.ndarray | None = None,
                     seed: int = 0, hints_name: str | None = None) -> np.ndarray:
    """Colourise one image with a classic method.

    Args:
        rgb: (H, W, 3) or (H, W, 1) float image in [0, 1]; only its luma is used.
        method: "levin" (needs hints: a `Hints`, dict, JSON text or path) or "welsh" (needs
            `reference`, a colour RGB array).
        seed: Welsh's jitter seed.
        hints_name: what messages call the hints (e.g. "hints file h.json").
    Returns:
        (H, W, 3) float32 RGB whose luma is the input's.
    """
    rgb = np.asarray(rgb, np.float32)
    y = rgb if rgb.shape[-1] == 1 else rgb_to_y(rgb)  # (H, W, 1)
    if method == "levin":
        parsed = hints_mod.parse_hints(hints, y.shape[1], y.shape[0], name=hints_name)
        return classic.levin_colourise(y, parsed)
    if method == "welsh":
        return classic.welsh_colourise(y, classic.check_reference(reference), seed=seed)
    raise ColouriseError(f"unknown classic method {method!r}; choose one of {', '.join(METHODS)}")


def cmd_colourise(args) -> int:
    """`colourise IMAGE... --model levin|welsh`: each result saved as BASE.METHOD.png in --out.

    Output names, --overwrite / --skip-existing and the name map follow the learned models' path
    (colourise_core.outputs): an existing output is kept and reported unless told otherwise.

    Returns:
        0, or 1 when some image failed (its message printed, the others still done).
    """
    from colourise_core import outputs
    from colourise_core.cli import _prepare_out

    check_args(args.model, args.hints, args.reference)
    reference = load_reference(args.reference) if args.model == "welsh" else None
    hints = hints_mod.read_hints(args.hints) if args.hints is not None else None  # file errors: once
    hints_name = f"hints file {Path(args.hints).name}" if args.hints is not None else None
    overwrite, skip = getattr(args, "overwrite", False), getattr(args, "skip_existing", False)
    out = Path(args.out)
    _prepare_out(out)
    failures, written = 0, {}
    try:
        for path, base in zip(args.images, outputs.plan_names(args.images)):
            target = out / f"{base}.{args.model}.png"
            if target.exists() and not overwrite:
                if not skip:
                    print(f"error: not overwriting {target} (from {path}); pass --overwrite to replace, or "
                          "--skip-existing to keep it", file=sys.stderr)
                    failures += 1
                continue
            try:
                image = imageio.load_rgb(path)
                rgb = colourise_guided(image.rgb, args.model, hints=hints, reference=reference, seed=args.seed,
                                       hints_name=hints_name)
            except ColouriseError as e:
                print(f"error: {Path(path).name}: {e}", file=sys.stderr)
                failures += 1
                continue
            imageio.save_png_atomic(target, rgb, image.alpha, compress_level=1)
            written[target.name] = str(path)
            print(target)
    finally:
        if written:
            outputs.write_name_map(out, written)
    return 1 if failures else 0


# ----------------------------------------------------------------------------- the hints curve

CURVE_NS = (0, 1, 2, 5, 10, 20, 50, 100)  # numbers of true hints (ideepcolor, SIGGRAPH 2017 fig. 6)


def true_hints_prefix(rgb: np.ndarray, n: int, n_max: int, seed: int = 0) -> hints_mod.Hints:
    """The first n of n_max random true hints: the sets for growing n are nested, so a curve over
    n adds information point by point rather than redrawing it."""
    full = hints_mod.random_true_hints(rgb, n_max, seed=seed)
    return hints_mod.Hints(points=full.points[:n], width=full.width, height=full.height, radius=full.radius)


def levin_true_hints(rgb: np.ndarray, n: int, n_max: int = 100, seed: int = 0) -> np.ndarray:
    """Levin et al.'s colouring of rgb's luma from n of its own true colours (grey when n = 0).

    Returns:
        (H, W, 3) float32 RGB.
    """
    rgb = np.asarray(rgb, np.float32)
    y = rgb_to_y(rgb)
    if n == 0:
        return np.repeat(y, 3, axis=-1)
    return classic.levin_colourise(y, true_hints_prefix(rgb, n, max(n, n_max), seed))


def hints_curve(rgb: np.ndarray, ns=CURVE_NS, seed: int = 0, methods: dict | None = None) -> list[dict]:
    """PSNR and colourfulness against the number of random true hints, per method.

    Args:
        rgb: (H, W, 3) colour image in [0, 1] (the truth).
        ns: the numbers of hints (nested sets, one seed).
        methods: name -> fn(rgb, n, n_max, seed) -> RGB; default {"levin": levin_true_hints}
            (a learned family that takes hints adds its own).
    Returns:
        [{"method", "n", "psnr", "colourfulness"}, ...], colourfulness of the truth under "truth".
    """
    from colourise_core import metrics

    methods = methods or {"levin": levin_true_hints}
    n_max = max(ns)
    rows = []
    for name, fn in methods.items():
        for n in ns:
            out = fn(rgb, n, n_max, seed)
            rows.append({"method": name, "n": int(n), "psnr": metrics.psnr(out, rgb),
                         "colourfulness": metrics.colourfulness(out)})
    rows.append({"method": "truth", "n": None, "psnr": None, "colourfulness": metrics.colourfulness(rgb)})
    return rows


# ----------------------------------------------------------------------------- the unet on the curve

UNET_FORMS = {  # how the unet is given the n true hints (the same points as Levin's)
    "user": "each point a hint_side square of its pixel's true colour at the network's input: what "
            "`colourise(image, \"unet\", hints=...)`, the CLI and the app give it",
    "pixel": "each point its own pixel only at the network's input (the library's path before the "
             "square: how far a lone pixel moves the network)",
    "trained": "each point a square of 1..hint_side pixels (seeded) at the network's input carrying "
               "the mean true chroma over it: the hints of training (unet.simulate_hints, SIGGRAPH17 3.3)",
}


def true_patch_maps(rgb: np.ndarray, hints: hints_mod.Hints, size: tuple[int, int], max_side: int,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hint maps as the unet's training simulates them, at the points of `hints`.

    Each point's working pixel p (as `hints.rasterise` places it) gets a square of side
    s ~ U{1..max_side} (rows and columns from p - (s - 1) // 2, clipped) carrying the mean of the
    true chroma of `rgb` resized to `size` over that square.

    Args:
        rgb: (H, W, 3) the truth in [0, 1].
        size: (h, w) the network's input size.
    Returns:
        (uv (1, h, w, 2), mask (1, h, w, 1)) float32.
    """
    from colourise_core import imageio
    from colourise_core.colour import rgb_to_yuv

    h, w = size
    H, W = rgb.shape[:2]
    true_uv = rgb_to_yuv(imageio.resize_float(np.asarray(rgb, np.float32), (h, w)))[..., 1:]  # (h, w, 2)
    uv = np.zeros((h, w, 2), np.float32)
    mask = np.zeros((h, w, 1), np.float32)
    rng = np.random.default_rng(seed)
    for x, y, _, _ in hints.points:
        s = int(rng.integers(1, max_side + 1))
        px, py = min(int((x + 0.5) * w / W), w - 1), min(int((y + 0.5) * h / H), h - 1)
        r0, c0 = max(0, py - (s - 1) // 2), max(0, px - (s - 1) // 2)
        r1, c1 = min(h, py - (s - 1) // 2 + s), min(w, px - (s - 1) // 2 + s)
        uv[r0:r1, c0:c1] = true_uv[r0:r1, c0:c1].reshape(-1, 2).mean(axis=0)
        mask[r0:r1, c0:c1] = 1.0
    return uv[None], mask[None]


def unet_true_hints(model, form: str = "user"):
    """The unet as a `hints_curve` method: fn(rgb, n, n_max, seed) -> RGB (H, W, 3).

    The network sees the luma at its input size with the first n of n_max random true hints
    (`true_hints_prefix`, the same points Levin's method gets) in the form `form` (see
    UNET_FORMS); its chroma is resized back and joined with the full-size luma. n = 0: no hints.
    """
    from colourise_core import imageio, inference
    from colourise_core.colour import luma_chroma_to_rgb

    if form not in UNET_FORMS:
        raise ColouriseError(f"unknown unet hint form {form!r}; choose one of {', '.join(UNET_FORMS)}")

    def run(rgb: np.ndarray, n: int, n_max: int, seed: int) -> np.ndarray:
        rgb = np.asarray(rgb, np.float32)
        y = rgb_to_y(rgb).astype(np.float32)  # (H, W, 1)
        H, W = y.shape[:2]
        h, w = inference.input_size(model, H, W)
        maps = None
        if n:
            hints = true_hints_prefix(rgb, n, max(n, n_max), seed)
            if form == "trained":
                maps = true_patch_maps(rgb, hints, (h, w), inference.hint_side(model), seed)
            else:
                side = inference.hint_side(model) if form == "user" else 1
                maps = inference.hint_maps(hints, y, (h, w), side)
        y_small = imageio.resize_float(y, (h, w)).reshape(1, h, w, 1)
        uv = inference.predict_uv(model, y_small, 1, None, 0, maps)[0, 0]  # (h, w, 2)
        return luma_chroma_to_rgb(y, imageio.resize_float(uv, (H, W)), compute_dtype=np.float32)

    return run
