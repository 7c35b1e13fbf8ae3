"""Peak memory of colourising a 24-megapixel photo (6000 x 4000) with each model.

For each model a fresh subprocess loads the model, colourises a small image once (so the
runtime's lazy allocations are made), then colourises the 24 MP JPEG end to end
(`inference.colourise_image` on the file, then `imageio.encode_png`). It reports the peak
resident set size of the whole process (`resource.getrusage(...).ru_maxrss`) and how much the
photo added to it. Target: peak < 2 GB.

Another subprocess repeats the pipeline step by step (the calls `colourise_image` makes, in its
order, holding what it holds) under `tracemalloc`, which sees every numpy allocation (not
Pillow's own decode buffers), to show which step allocates the most. A last pair of subprocesses tries the fix proposed in the
report (`lean_colourise`: keep the decoded image as uint8, then convert, merge, fit to the gamut
and convert to uint8 in row tiles, with the library's own functions and dtypes), measuring its peak and checking that its PNG is
pixel-identical to the library's.

    python benchmarks/memory.py [--weights imagenette] [--models cnn cgan cvae]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PHOTO = REPO / "assets" / "samples" / "Audrey Hepburn.jpg"
SIZE = (6000, 4000)  # width, height: 24 MP
TARGET_BYTES = 2 * 1024**3
MB = 1024**2


def make_photo(path: Path) -> None:
    """The sample photograph enlarged to 6000 x 4000, a quality-90 JPEG."""
    from PIL import Image

    with Image.open(PHOTO) as img:
        img.convert("RGB").resize(SIZE, Image.BICUBIC).save(path, format="JPEG", quality=90)


def rss_now() -> int:
    """Current resident set size in bytes (/proc/self/status VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load(model: str, weight_set: str):
    from colourise_core import models, weights
    from colourise_core.errors import WeightsError

    try:
        return weights.load_pretrained(model, weight_set), f"set {weight_set!r}"
    except WeightsError:
        return models.build_model(model, 128), "random weights, 128 px"


def worker(model: str, weight_set: str, photo: str) -> None:
    import numpy as np

    from colourise_core import imageio, inference

    net, what = load(model, weight_set)
    small = (np.random.default_rng(0).random((64, 48, 3)) * 255).astype("uint8")
    imageio.encode_png(inference.colourise_image(small, net).rgb)  # warm-up
    before_peak, before_rss = peak_rss(), rss_now()
    start = time.perf_counter()
    result = inference.colourise_image(photo, net)
    png = imageio.encode_png(result.rgb, result.alpha)
    seconds = time.perf_counter() - start
    print(json.dumps({"model": model, "weights": what, "peak": peak_rss(), "before_peak": before_peak,
                      "before_rss": before_rss, "seconds": seconds, "png_bytes": len(png),
                      "shape": list(result.rgb.shape)}))


def steps_worker(weight_set: str, photo: str) -> None:
    """Peak numpy memory of each step of colourise_image + encode_png (the CNN), with its dtypes."""
    import tracemalloc

    import numpy as np

    from colourise_core import colour, imageio, inference

    net, _ = load("cnn", weight_set)
    imageio.encode_png(inference.colourise_image(np.zeros((32, 32, 3), "uint8"), net).rgb)  # warm-up
    tracemalloc.start()
    rows = []

    def step(name, fn):
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn()
        current, peak = tracemalloc.get_traced_memory()
        rows.append({"step": name, "peak_extra": peak - base, "kept": current - base, "held_after": current})
        return out

    loaded = step("imageio.load_rgb (decode, float32 RGB)", lambda: imageio.load_rgb(photo))
    luma = step("colour.rgb_to_y (float32)", lambda: colour.rgb_to_y(loaded.rgb, compute_dtype=np.float32))
    h, w = inference.input_size(net, *luma.shape[:2])
    y_small = step("imageio.resize_float (Y to model size)", lambda: imageio.resize_float(luma, (h, w)).reshape(1, h, w, 1))
    uv = step("inference.predict_uv (model)", lambda: inference.predict_uv(net, y_small)[:, 0])
    uv_full = step("imageio.resize_float (UV to full size)", lambda: imageio.resize_float(uv[0], luma.shape[:2]))
    yuv = step("colour.merge_y_uv", lambda: colour.merge_y_uv(luma, uv_full))
    fitted = step("colour.fit_chroma_to_gamut (float32)", lambda: colour.fit_chroma_to_gamut(yuv, compute_dtype=np.float32))
    rgb = step("colour.yuv_to_rgb (float32)", lambda: colour.yuv_to_rgb(fitted, compute_dtype=np.float32))
    stacked = step("np.stack (colourise_luma's result)", lambda: np.stack([rgb]))
    step("imageio.encode_png", lambda: imageio.encode_png(stacked[0], loaded.alpha))
    print(json.dumps({"rows": rows, "pixels": int(luma.shape[0] * luma.shape[1])}))


TILE_ROWS = 128  # rows per tile of the lean pipeline: 128 x 6000 px keep the temporaries near 100 MB


def lean_colourise(photo, net) -> bytes:
    """The proposed low-memory pipeline: the library's own functions, applied per row tile.

    Same results as `inference.colourise_image` + `imageio.encode_png` for an RGB input without
    alpha (each step is per pixel, except the two resizes, which still see the whole image).
    """
    import numpy as np

    from colourise_core import colour, imageio, inference

    with imageio.open_image(photo) as img:
        rgb8 = np.asarray(img.convert("RGB"))  # uint8 (H, W, 3): a quarter of float32
    height, width = rgb8.shape[:2]
    luma = np.empty((height, width, 1), np.float32)
    for r in range(0, height, TILE_ROWS):
        luma[r:r + TILE_ROWS] = colour.rgb_to_y(rgb8[r:r + TILE_ROWS] / np.float32(255.0), compute_dtype=np.float32)
    del rgb8
    h, w = inference.input_size(net, height, width)
    uv = inference.predict_uv(net, imageio.resize_float(luma, (h, w)).reshape(1, h, w, 1))[0, 0]
    uv_full = imageio.resize_float(uv, (height, width))  # (H, W, 2) float32
    out = np.empty((height, width, 3), np.uint8)
    for r in range(0, height, TILE_ROWS):
        yuv = colour.fit_chroma_to_gamut(colour.merge_y_uv(luma[r:r + TILE_ROWS], uv_full[r:r + TILE_ROWS]),
                                         compute_dtype=np.float32)
        out[r:r + TILE_ROWS] = colour.to_uint8(colour.yuv_to_rgb(yuv, compute_dtype=np.float32))
    return imageio.encode_png(out)


def lean_worker(weight_set: str, photo: str) -> None:
    net, _ = load("cnn", weight_set)
    import numpy as np

    from colourise_core import imageio

    lean_colourise(imageio.encode_png(np.zeros((32, 32, 3), "uint8")), net)  # warm-up
    before_rss = rss_now()
    start = time.perf_counter()
    png = lean_colourise(photo, net)
    print(json.dumps({"peak": peak_rss(), "before_rss": before_rss, "seconds": time.perf_counter() - start,
                      "png_bytes": len(png)}))


def check_worker(weight_set: str, photo: str) -> None:
    """Max |library - lean| over the decoded PNGs of a smaller photo (uint8 levels)."""
    import io

    import numpy as np
    from PIL import Image

    from colourise_core import imageio, inference

    net, _ = load("cnn", weight_set)
    result = inference.colourise_image(photo, net)
    a = np.asarray(Image.open(io.BytesIO(imageio.encode_png(result.rgb, result.alpha))), np.int16)
    b = np.asarray(Image.open(io.BytesIO(lean_colourise(photo, net))), np.int16)
    diff = np.abs(a - b).max(axis=-1)  # (H, W)
    print(json.dumps({"max_level_diff": int(diff.max()), "pixels_differing": int((diff > 0).sum()), "shape": list(a.shape)}))


def run(args_list: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args_list], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args_list} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="imagenette")
    parser.add_argument("--models", nargs="+", default=["cnn", "cgan", "cvae"])
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--steps-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lean-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--check-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--photo", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.weights, args.photo)
    if args.steps_worker:
        return steps_worker(args.weights, args.photo)
    if args.lean_worker:
        return lean_worker(args.weights, args.photo)
    if args.check_worker:
        return check_worker(args.weights, args.photo)

    from colourise_core.reproduce import hardware_info

    print(f"machine: {hardware_info()['summary']}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo-24mp.jpg"
        make_photo(photo)
        print(f"photo: {SIZE[0]}x{SIZE[1]} ({SIZE[0] * SIZE[1] / 1e6:.0f} MP) JPEG, {photo.stat().st_size / MB:.1f} MB\n", flush=True)
        results = [run(["--worker", m, "--weights", args.weights, "--photo", str(photo)]) for m in args.models]
        steps = run(["--steps-worker", "--weights", args.weights, "--photo", str(photo)])
        lean = run(["--lean-worker", "--weights", args.weights, "--photo", str(photo)])
        small = Path(tmp) / "photo-2mp.jpg"
        from PIL import Image

        with Image.open(photo) as img:
            img.resize((1732, 1155)).save(small, quality=90)
        check = run(["--check-worker", "--weights", args.weights, "--photo", str(small)])

    header = f"{'model':<6} {'peak RSS':>10} {'RSS before photo':>17} {'added by photo':>15} {'time':>7}  target < 2 GB"
    print(header)
    print("-" * len(header))
    for r in results:
        ok = r["peak"] < TARGET_BYTES
        print(f"{r['model']:<6} {r['peak'] / MB:>7.0f} MB {r['before_rss'] / MB:>14.0f} MB {(r['peak'] - r['before_rss']) / MB:>12.0f} MB "
              f"{r['seconds']:>6.1f}s  {'MET' if ok else 'NOT MET'}")
    print(f"(models: {results[0]['weights']})\n")
    px = steps["pixels"]
    print(f"numpy memory per step (tracemalloc, CNN; one float32 plane of the photo = {px * 4 / MB:.0f} MB):")
    header = f"{'step':<42} {'peak extra':>11} {'kept':>9} {'held after':>11}"
    print(header)
    print("-" * len(header))
    for row in steps["rows"]:
        print(f"{row['step']:<42} {row['peak_extra'] / MB:>8.0f} MB {row['kept'] / MB:>6.0f} MB {row['held_after'] / MB:>8.0f} MB")
    worst = max(steps["rows"], key=lambda r: r["held_after"] - r["kept"] + r["peak_extra"])
    print(f"\nlargest transient: {worst['step']} ({worst['peak_extra'] / MB:.0f} MB on top of "
          f"{(worst['held_after'] - worst['kept']) / MB:.0f} MB already held)")
    ok = lean["peak"] < TARGET_BYTES
    print(f"\nproposed fix (lean_colourise, CNN: uint8 decode, per-{TILE_ROWS}-row tiles): peak RSS "
          f"{lean['peak'] / MB:.0f} MB ({(lean['peak'] - lean['before_rss']) / MB:.0f} MB added by the photo), "
          f"{lean['seconds']:.1f}s - target {'MET' if ok else 'NOT MET'}.")
    pixels = check["shape"][0] * check["shape"][1]
    same = "identical to" if check["pixels_differing"] == 0 else (
        f"{check['pixels_differing']} of {pixels:,} pixels differ (at most {check['max_level_diff']} level) from")
    print(f"Its PNG is {same} the library's on a {check['shape'][1]}x{check['shape'][0]} photo.")


if __name__ == "__main__":
    main()
