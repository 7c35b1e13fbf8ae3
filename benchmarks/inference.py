"""Inference benchmark: each model, all three and all four together, bytes in to RGB uint8 out, per runtime.

End to end = the encoded JPEG's bytes in, display-ready full-size RGB uint8 out:
`inference.colourise_many` (decode once, luma once, then per model: Y resize, forward, UV resize,
merge + gamut fit + rounding in one pass). "All three" is one call with CNN, CGAN and CVAE (what the
app's Compare page and `colourise --model all` do) from --weights; "all four" adds the unet (issue 10's
fourth family) from --unet-weights (set `general`: the other sets have no unet). Per runtime: Keras on
TensorFlow, and ONNX Runtime on the sets' exports (`weights export SET --format onnx`; made first when
missing).
Warm: the median of --repeat calls after two warm-ups (eager, then compiled); cold: the first call of each model in a
fresh process (models loaded, never called), a subprocess per runtime and image size.

Beside it, in the same run: one forward pass of Zhang et al.'s ECCV 2016 network at 256x256
(random weights, `benchmarks/eccv16.py`), warm median, measured before and after our models.
Targets (issue 13, issue 10): the three models together at 1 MP <= 0.25x of that forward pass (aim
0.1x); all four <= 0.4x; the unet alone at 1 MP <= 0.5x; PNG encoding of a 1 MP result <= 30 ms
(reported on its own: files are encoded only when asked for).

Last, the per-step breakdown of the four models at 1 MP (`Rendering.steps`, medians), per runtime.

    python benchmarks/inference.py [--weights imagenette] [--unet-weights general] [--repeat 7]
        [--runtimes keras onnx] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from colourise_core.family_names import DISSERTATION_FAMILIES  # noqa: E402 - no Keras import (the ONNX cold start)

PHOTO = REPO / "assets" / "samples" / "Audrey Hepburn.jpg"
SIZES = {"256x256": (256, 256), "1 MP (1155x866)": (866, 1155)}  # name -> (h, w)
THREE = DISSERTATION_FAMILIES  # cnn, cgan, cvae: from --weights
FOURTH = "unet"  # from --unet-weights
MODELS = THREE + (FOURTH,)
GROUPS = {"all three": THREE, "all four": MODELS}
TARGETS = {"all three": 0.25, "all four": 0.4, FOURTH: 0.5}  # at 1 MP, x one ECCV16 forward at 256x256


def model_sets(weights: str, unet_weights: str) -> dict:
    """{weight set: its models here}: the dissertation's three from one set, the unet from another."""
    sets = {weights: list(THREE)}
    sets.setdefault(unet_weights, []).append(FOURTH)
    return sets


def jpeg_bytes(height: int, width: int) -> bytes:
    """The sample photograph resized (stretched) to width x height, as a quality-90 JPEG."""
    from PIL import Image

    with Image.open(PHOTO) as img:
        img = img.convert("RGB").resize((width, height), Image.LANCZOS)
        buffer = io.BytesIO()
        img.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def load_models(sets: dict, runtime: str) -> dict:
    """The four models under `runtime` ({set: names}, each set's models loaded in parallel), in MODELS' order."""
    from colourise_core import runtime as runtime_mod

    nets = {}
    for weight_set, names in sets.items():
        nets.update(runtime_mod.load_models(tuple(names), weight_set, runtime))
    return {m: nets[m] for m in MODELS}


def ensure_onnx_export(sets: dict) -> str | None:
    """Export the sets' models for the ONNX runtime where there is no current export (none, or one made
    from older weights); None if all are there."""
    from colourise_core import onnx_runtime

    if not onnx_runtime.available():
        return "onnxruntime is not installed"
    for weight_set, names in sets.items():
        if all(onnx_runtime.export_current(m, weight_set) for m in names):
            continue
        proc = subprocess.run([sys.executable, "-m", "colourise_core", "weights", "export", weight_set, "--format", "onnx",
                               "--model", *names], capture_output=True, text=True, cwd=REPO)
        if proc.returncode:
            return f"export of {weight_set} failed: {proc.stderr.strip()[-300:]}"
    return None


def end_to_end(jpeg: bytes, nets: dict):
    """(seconds, results) from the JPEG's bytes to every model's RGB uint8 (decoded once)."""
    from colourise_core import inference

    start = time.perf_counter()
    results = inference.colourise_many(jpeg, nets)
    return time.perf_counter() - start, results


def cold_worker(size_name: str, sets: dict, runtime: str) -> None:
    """Subprocess: the first end-to-end call of each model (models loaded, never called)."""
    nets = load_models(sets, runtime)
    jpeg = jpeg_bytes(*SIZES[size_name])
    out = {m: end_to_end(jpeg, {m: nets[m]})[0] for m in MODELS}
    out.update({group: sum(out[m] for m in names) for group, names in GROUPS.items()})
    print(json.dumps(out))


def png_figures(rgb8, repeat: int) -> dict:
    """Seconds to encode a result as PNG: the library's encoder beside Pillow's at level 1 (and 6)."""
    from PIL import Image

    from colourise_core import imageio

    def pil(level):
        buffer = io.BytesIO()
        Image.fromarray(rgb8).save(buffer, format="PNG", compress_level=level)
        return buffer.getvalue()

    out = {}
    for name, fn in [("colourise_core (Up filter, level 1, threads)", lambda: imageio.encode_png(rgb8)),
                     ("Pillow compress_level=1", lambda: pil(1)), ("Pillow compress_level=6 (default)", lambda: pil(6))]:
        fn()
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            data = fn()
            times.append(time.perf_counter() - start)
        out[name] = {"median": statistics.median(times), "min": min(times), "bytes": len(data)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="imagenette", help="weight set of the three models (default imagenette)")
    parser.add_argument("--unet-weights", default="general", help="weight set of the unet (default general)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--runtimes", nargs="+", default=["keras", "onnx"], choices=["keras", "onnx"])
    parser.add_argument("--json", default=None)
    parser.add_argument("--cold-worker", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sets = model_sets(args.weights, args.unet_weights)
    if args.cold_worker:
        return cold_worker(args.cold_worker[0], sets, args.cold_worker[1])

    import keras
    import numpy as np

    from colourise_core import runtime as runtime_mod
    from colourise_core import hardware
    from eccv16 import build_eccv16

    print(f"machine: {hardware.describe()['summary']}; load average {os.getloadavg()[0]:.2f}", flush=True)
    runtimes = []
    for rt in args.runtimes:
        problem = ensure_onnx_export(sets) if rt == "onnx" else None
        if problem:
            print(f"runtime {rt}: skipped ({problem})")
        else:
            runtimes.append(rt)

    cold = {}
    for rt in runtimes:
        for size_name in SIZES:
            proc = subprocess.run([sys.executable, __file__, "--cold-worker", size_name, rt, "--weights", args.weights,
                                   "--unet-weights", args.unet_weights],
                                  capture_output=True, text=True, check=True)
            cold[(rt, size_name)] = json.loads(proc.stdout.strip().splitlines()[-1])

    ref = build_eccv16(256)
    x = np.random.default_rng(0).uniform(0, 100, (1, 256, 256, 1)).astype("float32")

    def forward() -> float:
        start = time.perf_counter()
        keras.ops.convert_to_numpy(ref(x, training=False))
        return time.perf_counter() - start

    ref_cold = forward()
    ref_times = [forward() for _ in range(max(3, args.repeat // 2))]  # before the models ...

    results, steps, last = {}, {}, None
    for rt in runtimes:
        nets = load_models(sets, rt)
        print(f"runtime {rt}: {runtime_mod.describe(rt)}; sets {', '.join(repr(s) + ': ' + '/'.join(n) for s, n in sets.items())}; "
              f"{', '.join(f'{m} {nets[m].resolution} px' for m in MODELS)}", flush=True)
        for size_name, (h, w) in SIZES.items():
            jpeg = jpeg_bytes(h, w)
            row = {}
            for name, subset in [(m, {m: nets[m]}) for m in MODELS] + [(g, {m: nets[m] for m in ms}) for g, ms in GROUPS.items()]:
                for _ in range(2):  # warm-up: the first call at a size runs eagerly (Family.run_graph), the second compiles
                    end_to_end(jpeg, subset)
                runs = [end_to_end(jpeg, subset) for _ in range(args.repeat)]
                times = [t for t, _ in runs]
                row[name] = {"warm_median": statistics.median(times), "warm_min": min(times),
                             "cold": cold[(rt, size_name)][name]}
                if name == "all four" and size_name == list(SIZES)[-1]:
                    per_step = {}
                    for m in MODELS:
                        for k in runs[0][1][m].steps:
                            if k in ("decode", "luma"):
                                per_step[k] = statistics.median(r[m].steps[k] for _, r in runs)
                            else:
                                per_step[f"{m}: {k}"] = statistics.median(r[m].steps[k] for _, r in runs)
                    steps[rt] = per_step
                    last = runs[-1][1]["cnn"].rgb8
            results[(rt, size_name)] = row
    ref_times += [forward() for _ in range(max(3, args.repeat // 2))]  # ... and after: a shared CPU's load drifts
    ref_warm = statistics.median(ref_times)
    png = png_figures(last, args.repeat) if last is not None else {}

    print(f"\nECCV16 (Zhang et al. 2016, {ref.count_params() / 1e6:.1f} M parameters, random weights), one forward "
          f"pass at 256x256: warm median {ref_warm * 1000:.0f} ms (of {len(ref_times)}, before and after our models; "
          f"min {min(ref_times) * 1000:.0f}), first call {ref_cold * 1000:.0f} ms")
    print("budgets at 1 MP: " + "; ".join(f"{name} {x}x = {ref_warm * x * 1000:.0f} ms" for name, x in TARGETS.items())
          + f" (aim for the three: 0.1x = {ref_warm / 10 * 1000:.0f} ms)\n")
    header = (f"{'runtime':<8} {'image':<16} {'model':<10} {'warm median':>12} {'warm min':>10} {'cold (1st)':>11} "
              f"{'vs ECCV16':>10}  target")
    print(header)
    print("-" * len(header))
    verdicts = []
    for (rt, size_name), row in results.items():
        for name, r in row.items():
            ratio = r["warm_median"] / ref_warm
            target = ""
            if name in TARGETS and size_name == list(SIZES)[-1]:
                ok = ratio <= TARGETS[name]
                verdicts.append((rt, name, ok, ratio))
                aim = ", aim 0.1x met" if name == "all three" and ratio <= 0.1 else ""
                target = f"{'MET' if ok else 'NOT MET'} (<= {TARGETS[name]}x{aim})"
            print(f"{rt:<8} {size_name:<16} {name:<10} {r['warm_median'] * 1000:>9.1f} ms {r['warm_min'] * 1000:>7.1f} ms "
                  f"{r['cold'] * 1000:>8.0f} ms {ratio:>9.3f}x  {target}")
    print()
    for rt, name, ok, ratio in verdicts:
        print(f"target ({name} at 1 MP, bytes in to RGB uint8 out, <= {TARGETS[name]}x ECCV16 forward), {rt}: "
              f"{'MET' if ok else 'NOT MET'} ({ratio:.3f}x)")

    if png:
        print(f"\nPNG encoding of one 1 MP result (1155x866 RGB), median of {args.repeat}:")
        for name, p in png.items():
            print(f"  {name:<46} {p['median'] * 1000:>7.1f} ms (min {p['min'] * 1000:.1f}), {p['bytes']:,} bytes")
        ours = next(iter(png.values()))
        print(f"target (PNG of a 1 MP result <= 30 ms): {'MET' if ours['median'] <= 0.030 else 'NOT MET'} "
              f"({ours['median'] * 1000:.1f} ms)")

    size_name = list(SIZES)[-1]
    for rt, per_step in steps.items():
        total = sum(per_step.values())
        print(f"\nwhere the time goes: the four models at {size_name}, {rt}, medians of {args.repeat} (sum {total * 1000:.0f} ms)")
        for name, sec in per_step.items():
            print(f"  {name:<28} {sec * 1000:>8.1f} ms {sec / total:>6.1%}")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "eccv16": {"warm_median": ref_warm, "cold": ref_cold},
            "results": {f"{rt} {size}": row for (rt, size), row in results.items()},
            "png": png, "steps": steps}, indent=1))


if __name__ == "__main__":
    main()
