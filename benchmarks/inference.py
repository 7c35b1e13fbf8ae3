"""Inference benchmark: each model, and all three together, end to end on a 256x256 and a 1 MP photo.

End to end = the encoded JPEG's bytes in, the encoded PNG result out: `inference.colourise_image`
(decode, luma, resize, forward, merge, gamut fit) then `imageio.encode_png`. "All three" decodes
the JPEG once and colourises and encodes it with CNN, CGAN and CVAE (what the app's Compare page
does). Warm: the median of --repeat calls after the first; cold: the first call of each model in
a fresh process (model loaded, never called before), measured in a subprocess per image size.

Beside it, in the same run: one forward pass of Zhang et al.'s ECCV 2016 network at 256x256
(random weights, `benchmarks/eccv16.py`), warm median and first call.
Target: the three models together, end to end, <= 1/4 of one ECCV16 forward pass (warm).

Last, a breakdown of one model's end-to-end time at 1 MP by step (the calls `colourise_image`
makes, in its order and with its dtypes; checked to reproduce its result).

    python benchmarks/inference.py [--weights imagenette] [--repeat 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from colourise_core.models import MODEL_NAMES  # noqa: E402 - after the path set-up

PHOTO = REPO / "assets" / "samples" / "Audrey Hepburn.jpg"
SIZES = {"256x256": (256, 256), "1 MP (1155x866)": (866, 1155)}  # name -> (h, w)
MODELS = MODEL_NAMES


def jpeg_bytes(height: int, width: int) -> bytes:
    """The sample photograph resized (stretched) to width x height, as a quality-90 JPEG."""
    from PIL import Image

    with Image.open(PHOTO) as img:
        img = img.convert("RGB").resize((width, height), Image.LANCZOS)
        buffer = io.BytesIO()
        img.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def load_models(weight_set: str):
    """The set's three shipped models, or random-weights models of the same architecture."""
    from colourise_core import models, weights
    from colourise_core.errors import WeightsError

    try:
        return {m: weights.load_pretrained(m, weight_set) for m in MODELS}, f"shipped weights, set {weight_set!r}"
    except WeightsError as e:
        nets = {m: models.build_model(m, 128) for m in MODELS}
        return nets, f"RANDOM weights at 128 px (set {weight_set!r} unavailable: {str(e)[:80]}...)"


def end_to_end(jpeg: bytes, nets: dict) -> float:
    """Seconds from the JPEG's bytes to every model's encoded PNG (decoded once)."""
    from colourise_core import imageio, inference

    start = time.perf_counter()
    loaded = imageio.load_rgb(jpeg, name="photo.jpg")
    for net in nets.values():
        result = inference.colourise_image(loaded, net)
        imageio.encode_png(result.rgb, result.alpha)
    return time.perf_counter() - start


def breakdown(jpeg: bytes, net, repeat: int) -> list[tuple[str, float]]:
    """Median seconds of each step of colourise_image + encode_png."""
    import numpy as np

    from colourise_core import colour, imageio, inference

    def once() -> dict:
        # The calls colourise_image + colourise_luma make (same dtypes), in their order.
        t, s = {}, time.perf_counter()

        def mark(name):
            nonlocal s
            now = time.perf_counter()
            t[name] = now - s
            s = now

        loaded = imageio.load_rgb(jpeg)
        mark("imageio.load_rgb (JPEG decode -> float32)")
        luma = colour.rgb_to_y(loaded.rgb, compute_dtype=np.float32)
        mark("colour.rgb_to_y (float32)")
        h, w = inference.input_size(net, *luma.shape[:2])
        y = imageio.resize_float(luma, (h, w)).reshape(1, h, w, 1)
        mark("imageio.resize_float (Y to model size)")
        uv = inference.predict_uv(net, y)[0, 0]
        mark("model forward (predict_uv)")
        uv_full = imageio.resize_float(uv, luma.shape[:2])
        mark("imageio.resize_float (UV to full size)")
        rgb = np.empty(luma.shape[:2] + (3,), np.float32)
        rows = max(1, inference.TILE_PIXELS // luma.shape[1])
        for r in range(0, luma.shape[0], rows):
            rgb[r:r + rows] = colour.luma_chroma_to_rgb(luma[r:r + rows], uv_full[r:r + rows], compute_dtype=np.float32)
        mark("colour.luma_chroma_to_rgb (tiled, float32)")
        imageio.encode_png(rgb)
        mark("imageio.encode_png (level 1)")
        t["_mirror"] = float(np.abs(rgb - inference.colourise_image(jpeg, net).rgb).max())
        return t

    once()
    runs = [once() for _ in range(repeat)]
    rows = [(k, statistics.median(r[k] for r in runs)) for k in runs[0] if not k.startswith("_")]
    rows.append(("_mirror", max(r["_mirror"] for r in runs)))
    return rows


def cold_worker(size_name: str, weight_set: str) -> None:
    """Subprocess: the first end-to-end call of each model, then of all three (models called once before)."""
    nets, _ = load_models(weight_set)
    jpeg = jpeg_bytes(*SIZES[size_name])
    out = {m: end_to_end(jpeg, {m: nets[m]}) for m in MODELS}
    out["all three (each model's first call)"] = sum(out[m] for m in MODELS)
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="imagenette", help="weight set (default imagenette)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", default=None)
    parser.add_argument("--cold-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_worker:
        return cold_worker(args.cold_worker, args.weights)

    import keras
    import numpy as np

    from colourise_core import hardware
    from eccv16 import build_eccv16

    print(f"machine: {hardware.describe()['summary']}", flush=True)
    cold = {}
    for size_name in SIZES:
        proc = subprocess.run([sys.executable, __file__, "--cold-worker", size_name, "--weights", args.weights],
                              capture_output=True, text=True, check=True)
        cold[size_name] = json.loads(proc.stdout.strip().splitlines()[-1])

    ref = build_eccv16(256)
    x = np.random.default_rng(0).uniform(0, 100, (1, 256, 256, 1)).astype("float32")

    def forward() -> float:
        start = time.perf_counter()
        keras.ops.convert_to_numpy(ref(x, training=False))
        return time.perf_counter() - start

    ref_cold = forward()
    ref_times = [forward() for _ in range(max(3, args.repeat // 2))]  # before the models ...

    nets, what = load_models(args.weights)
    print(f"models: {what}; resolution {next(iter(nets.values())).resolution} px", flush=True)
    results = {}
    for size_name, (h, w) in SIZES.items():
        jpeg = jpeg_bytes(h, w)
        row = {}
        for name, subset in [(m, {m: nets[m]}) for m in MODELS] + [("all three", nets)]:
            end_to_end(jpeg, subset)  # warm-up (also warms the decoder and the PNG encoder)
            times = [end_to_end(jpeg, subset) for _ in range(args.repeat)]
            row[name] = {"warm_median": statistics.median(times), "warm_min": min(times)}
        for m in MODELS:
            row[m]["cold"] = cold[size_name][m]
        row["all three"]["cold"] = cold[size_name]["all three (each model's first call)"]
        results[size_name] = {"jpeg_bytes": len(jpeg), "rows": row}
    ref_times += [forward() for _ in range(max(3, args.repeat // 2))]  # ... and after: the load on a shared CPU drifts
    ref_warm = statistics.median(ref_times)

    print(f"\nECCV16 (Zhang et al. 2016, {ref.count_params() / 1e6:.1f} M parameters, random weights), one forward "
          f"pass at 256x256: warm median {ref_warm * 1000:.0f} ms (of {len(ref_times)}, measured before and after our models; "
          f"min {min(ref_times) * 1000:.0f}), first call {ref_cold * 1000:.0f} ms")
    print(f"budget for the three models together: 1/4 of it = {ref_warm / 4 * 1000:.0f} ms\n")
    header = f"{'image':<18} {'model':<10} {'warm median':>12} {'warm min':>10} {'cold (1st)':>11} {'vs ECCV16':>10}  target"
    print(header)
    print("-" * len(header))
    verdicts = []
    for size_name, res in results.items():
        for name, r in res["rows"].items():
            ratio = r["warm_median"] / ref_warm
            target = ""
            if name == "all three":
                ok = ratio <= 0.25
                verdicts.append((size_name, ok, ratio))
                target = "MET (<= 0.25x)" if ok else "NOT MET (> 0.25x)"
            print(f"{size_name:<18} {name:<10} {r['warm_median'] * 1000:>9.1f} ms {r['warm_min'] * 1000:>7.1f} ms "
                  f"{r['cold'] * 1000:>8.0f} ms {ratio:>9.3f}x  {target}")
    print()
    for size_name, ok, ratio in verdicts:
        print(f"target (all three end to end <= 1/4 ECCV16 forward) at {size_name}: {'MET' if ok else 'NOT MET'} ({ratio:.3f}x)")

    size_name = list(SIZES)[-1]
    rows = breakdown(jpeg_bytes(*SIZES[size_name]), nets["cnn"], args.repeat)
    mirror = dict(rows)["_mirror"]
    rows = [r for r in rows if not r[0].startswith("_")]
    total = sum(sec for name, sec in rows if not name.startswith("  "))
    print(f"\nwhere the time goes: CNN end to end at {size_name}, median of {args.repeat} (sum {total * 1000:.0f} ms)")
    for name, sec in rows:
        share = "" if name.startswith("  ") else f"{sec / total:>6.1%}"
        print(f"{name:<50} {sec * 1000:>8.1f} ms {share}")
    print(f"(the steps reproduce colourise_image's RGB {'exactly' if mirror == 0 else f'only to {mirror:.2g}: the library changed'})")
    if args.json:
        Path(args.json).write_text(json.dumps({"models": what, "eccv16": {"warm_median": ref_warm, "cold": ref_cold},
                                               "results": results, "breakdown": rows}, indent=1))


if __name__ == "__main__":
    main()
