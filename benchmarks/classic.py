"""Benchmark of the classic methods: Levin et al. at 1 MP with 20 hints, Welsh et al. at 1 MP.

Target (issue 15): Levin's method at 1 MP with 20 hints at most 1.5 s here, end to end from the
luma and the hints to the RGB result (working-size system, solve, chroma resized back, gamut fit).

Beside it, in the same run:
- the same linear system solved the straightforward way, `scipy.sparse.linalg.spsolve` with its
  default ordering (what the nested-dissection order in `classic.levin_solve` saves);
- one forward pass of Zhang et al.'s ECCV 2016 network at 256x256 (random weights,
  `benchmarks/eccv16.py`), the project's yardstick of this machine's speed (skip with --no-eccv16).

Times are medians of --repeat calls, after one warm-up call.

    python benchmarks/classic.py [--repeat 5] [--hints 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

PHOTO = REPO / "assets" / "samples" / "Colour - parachute in a blue sky (Imagenette val 6561).jpg"
REFERENCE = REPO / "assets" / "samples" / "Colour - golf ball on grass (Imagenette val 20781).jpg"
SIZE = (866, 1155)  # 1 MP, (h, w)


def photo(path: Path, size: tuple[int, int]):
    """A colour sample resized to size (h, w): float32 RGB in [0, 1]."""
    import cv2
    import numpy as np

    from colourise_core.imageio import load_rgb

    rgb = load_rgb(path).rgb
    return np.clip(cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_CUBIC), 0, 1)


CPU_TIMES: dict = {}  # name -> median process CPU seconds of the last median_time call


def median_time(fn, repeat: int, name: str | None = None) -> float:
    """Median wall seconds of `repeat` calls after a warm-up; the CPU seconds go to CPU_TIMES[name]
    (on a shared machine the CPU time shows the work, the wall time what a user waits)."""
    fn()  # warm-up
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    if name:
        CPU_TIMES[name] = statistics.median(cpu)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hints", type=int, default=20)
    parser.add_argument("--no-eccv16", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import numpy as np
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    from colourise_core import classic, hints
    from colourise_core.colour import rgb_to_y, rgb_to_yuv
    from colourise_core import hardware

    print(f"machine: {hardware.describe()['summary']}", flush=True)
    img = photo(PHOTO, SIZE)
    y = rgb_to_y(img)
    true_uv = rgb_to_yuv(img)[..., 1:]
    guide = hints.random_true_hints(img, args.hints, seed=0, radius=2)
    ref_img = photo(REFERENCE, (480, 640))
    h, w = classic.working_size(*SIZE, classic.LEVIN_MAX_SIDE)
    figures = {"image": f"{SIZE[1]}x{SIZE[0]}", "hints": args.hints, "working_size": f"{w}x{h}"}

    figures["levin_s"] = median_time(lambda: classic.levin_colourise(y, guide), args.repeat, "levin_s")
    uv = classic.levin_uv(y, guide)
    figures["levin_uv_mae"] = float(np.abs(uv - true_uv).mean())
    figures["grey_uv_mae"] = float(np.abs(true_uv).mean())

    # The same system, solved with spsolve's defaults.
    import cv2

    y_small = cv2.resize(y, (w, h), interpolation=cv2.INTER_AREA)
    hint_uv, mask = hints.rasterise(guide, y, size=(h, w))
    hinted = (mask[..., 0] > 0).ravel()
    a = (sp.identity(h * w, format="csr") - sp.diags((~hinted).astype(float)) @ classic.levin_weights(y_small)).tocsc()
    b = np.where(hinted[:, None], hint_uv.reshape(-1, 2), 0.0)
    figures["levin_solve_s"] = median_time(lambda: classic.levin_solve(y_small, hint_uv, mask), args.repeat, "levin_solve_s")
    figures["spsolve_default_s"] = median_time(lambda: spla.spsolve(a, b), max(1, args.repeat // 2), "spsolve_default_s")
    assert np.allclose(spla.spsolve(a, b).reshape(h, w, 2), classic.levin_solve(y_small, hint_uv, mask), atol=1e-5)

    figures["welsh_s"] = median_time(lambda: classic.welsh_colourise(y, ref_img), args.repeat, "welsh_s")

    if not args.no_eccv16:
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras

        from eccv16 import build_eccv16

        net = build_eccv16(256)
        x = np.random.default_rng(0).uniform(0, 100, (1, 256, 256, 1)).astype("float32")
        figures["eccv16_256_s"] = median_time(lambda: keras.ops.convert_to_numpy(net(x, training=False)), args.repeat, "eccv16_256_s")

    figures["cpu_s"] = dict(CPU_TIMES)
    import os as _os

    load = _os.getloadavg()[0]
    figures["load_average_1min"] = load
    print(f"(wall seconds, median of {args.repeat}; CPU seconds in brackets; 1-min load average {load:.1f})")
    print(f"Levin et al. 2004, {figures['image']} with {args.hints} hints (working size {figures['working_size']}):")
    print(f"  end to end          {figures['levin_s']:.3f} s [{CPU_TIMES['levin_s']:.3f}]   (target <= 1.5 s)")
    print(f"  solve only          {figures['levin_solve_s']:.3f} s [{CPU_TIMES['levin_solve_s']:.3f}]   (nested dissection, no pivoting)")
    print(f"  spsolve defaults    {figures['spsolve_default_s']:.3f} s [{CPU_TIMES['spsolve_default_s']:.3f}]   (reference: the same system)")
    print(f"  UV mean abs error   {figures['levin_uv_mae']:.4f}    (all-grey: {figures['grey_uv_mae']:.4f})")
    print(f"Welsh et al. 2002, {figures['image']} from a 640x480 reference: {figures['welsh_s']:.3f} s [{CPU_TIMES['welsh_s']:.3f}]")
    if "eccv16_256_s" in figures:
        print(f"Reference: one ECCV16 forward pass at 256x256: {figures['eccv16_256_s']:.3f} s [{CPU_TIMES['eccv16_256_s']:.3f}]")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
