"""Peak memory of colourising a 24-megapixel photo (6000 x 4000) with each model.

For each model a fresh subprocess loads the model, colourises a small image once (so the
runtime's lazy allocations are made), then colourises the 24 MP JPEG end to end
(`inference.colourise_image` on the file, then `imageio.encode_png`). It reports the peak
resident set size of the whole process (`resource.getrusage(...).ru_maxrss`) and how much the
photo added to it. Target: peak < 2 GB.

First the CLI itself, `colourise colourise PHOTO --model all` (every model the set has), in its
own process: its peak RSS beside the same command on a 64 x 48 copy (the models and runtime
alone), measured in the same run. Target (issue 11): < 1.5 GB.

Another subprocess repeats the pipeline step by step (the calls `colourise_image` makes, in its
order, holding what it holds) under `tracemalloc`, which sees every numpy allocation (not
Pillow's own decode buffers), to show which step allocates the most. The full-size colour maths
runs in tiles of `inference.TILE_PIXELS` pixels, so its temporaries stay near 50 MB.

    python benchmarks/memory.py [--weights imagenette] [--models cnn cgan cvae]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
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
CLI_TARGET_BYTES = 1.5 * 1024**3  # issue 11 target 2: the CLI with --model all
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

    from colourise_core import imageio, inference

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

    loaded = step("imageio.load_rgb (decode, uint8 RGB kept)", lambda: imageio.load_rgb(photo))
    luma = step("LoadedImage.luma (float32, band by band)", functools.partial(loaded.luma, reference=True))
    alpha = loaded.alpha
    del loaded  # as colourise_image does
    out = step("inference.colourise_luma (model, UV resize, tiled RGB)", functools.partial(inference.colourise_luma, net, luma))
    step("imageio.encode_png", functools.partial(imageio.encode_png, out[0], alpha))
    print(json.dumps({"rows": rows, "pixels": int(luma.shape[0] * luma.shape[1])}))


def cli_peak(photo: Path, weight_set: str, out: Path) -> dict:
    """Peak RSS of the whole `colourise colourise PHOTO --model all` process (its own rusage)."""
    cmd = [sys.executable, "-m", "colourise_core", "colourise", str(photo), "--model", "all", "--weights", weight_set,
           "--out", str(out), "--overwrite"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    written = proc.stdout.read().decode().split()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()[-3000:]}")
    return {"peak": usage.ru_maxrss * 1024, "seconds": time.perf_counter() - start, "outputs": len(written)}


def run(args_list: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args_list], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args_list} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="imagenette")
    parser.add_argument("--models", nargs="+", default=None, help="model families (default: all)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--steps-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--photo", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.weights, args.photo)
    if args.steps_worker:
        return steps_worker(args.weights, args.photo)

    from colourise_core import hardware
    from colourise_core.models import MODEL_NAMES

    args.models = args.models or list(MODEL_NAMES)

    print(f"machine: {hardware.describe()['summary']}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo-24mp.jpg"
        make_photo(photo)
        print(f"photo: {SIZE[0]}x{SIZE[1]} ({SIZE[0] * SIZE[1] / 1e6:.0f} MP) JPEG, {photo.stat().st_size / MB:.1f} MB\n", flush=True)
        tiny = Path(tmp) / "tiny.jpg"
        from PIL import Image

        with Image.open(photo) as img:
            img.resize((64, 48)).save(tiny, quality=90)
        cli_ref = cli_peak(tiny, args.weights, Path(tmp) / "out-tiny")  # the same CLI, the models alone
        cli = cli_peak(photo, args.weights, Path(tmp) / "out")
        results = [run(["--worker", m, "--weights", args.weights, "--photo", str(photo)]) for m in args.models]
        steps = run(["--steps-worker", "--weights", args.weights, "--photo", str(photo)])

    print(f"CLI `colourise colourise PHOTO --model all --weights {args.weights}` ({cli['outputs']} outputs), peak RSS of "
          f"the process: {cli['peak'] / MB:.0f} MB in {cli['seconds']:.1f} s; the same command on a 64x48 copy (the "
          f"models alone, same run): {cli_ref['peak'] / MB:.0f} MB; the photo added {(cli['peak'] - cli_ref['peak']) / MB:.0f} MB. "
          f"Target < {CLI_TARGET_BYTES / MB:.0f} MB: {'MET' if cli['peak'] < CLI_TARGET_BYTES else 'NOT MET'}\n")

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
    header = f"{'step':<56} {'peak extra':>11} {'kept':>9} {'held after':>11}"
    print(header)
    print("-" * len(header))
    for row in steps["rows"]:
        print(f"{row['step']:<56} {row['peak_extra'] / MB:>8.0f} MB {row['kept'] / MB:>6.0f} MB {row['held_after'] / MB:>8.0f} MB")
    worst = max(steps["rows"], key=lambda r: r["held_after"] - r["kept"] + r["peak_extra"])
    print(f"\nlargest transient: {worst['step']} ({worst['peak_extra'] / MB:.0f} MB on top of "
          f"{(worst['held_after'] - worst['kept']) / MB:.0f} MB already held)")


if __name__ == "__main__":
    main()
