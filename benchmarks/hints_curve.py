"""The hints curve (issue 15, report item 5): PSNR and colourfulness against N random true hints.

For each image of a fixed held-out subset, N = 0, 1, 2, 5, 10, 20, 50, 100 pixels chosen at random
(nested sets, one seed per image) reveal their true colour, and Levin et al.'s method (SIGGRAPH 2004)
spreads them; N = 0 is the grey image. This is how ideepcolor (Zhang et al., SIGGRAPH 2017, fig. 6)
evaluated its network. Datasets: Imagenette val (128 px) and photos-extra val (the 100 ImageNet
samples, 128 px squares here), the first --limit images of a seeded subset.

Writes reports/data/hints_curve.json (per dataset, per N: mean PSNR, mean colourfulness, and the
truth's colourfulness) and reports/figures/hints_curve.png.

    python benchmarks/hints_curve.py [--limit 100] [--data ../shared/datasets] [--out reports]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DATASETS = {"imagenette val": ("imagenette", "imagenette-128.zip"), "photos-extra val": ("folder", "photos-extra.zip")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100, help="images per dataset (a seeded subset)")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--out", default=str(REPO / "reports"))
    args = parser.parse_args()

    import numpy as np

    from colourise_core import guided
    from colourise_core.reproduce import report
    from colourise_core.data.datasets import is_grey, load_dataset

    results = {"method": "levin", "ns": list(guided.CURVE_NS), "resolution": args.resolution, "datasets": {}}
    series_psnr, series_cf = {}, {}
    for label, (name, archive) in DATASETS.items():
        start = time.perf_counter()
        data = load_dataset(name, data=str(Path(args.data) / archive), split="val", resolution=args.resolution,
                            limit=args.limit * 2, seed=0)
        images = [img for img in data.load_all() if not is_grey(img)][: args.limit]  # colour truths only
        rows = []
        for i, img in enumerate(images):
            rgb = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32)
            rows.extend(guided.hints_curve(rgb, seed=i))
        per_n = {}
        for n in guided.CURVE_NS:
            sel = [r for r in rows if r["method"] == "levin" and r["n"] == n]
            per_n[str(n)] = {"psnr": float(np.mean([r["psnr"] for r in sel])),
                             "colourfulness": float(np.mean([r["colourfulness"] for r in sel]))}
        truth_cf = float(np.mean([r["colourfulness"] for r in rows if r["method"] == "truth"]))
        results["datasets"][label] = {"images": len(images), "per_n": per_n, "truth_colourfulness": truth_cf,
                                      "seconds": round(time.perf_counter() - start, 1)}
        series_psnr[label] = (list(guided.CURVE_NS), [per_n[str(n)]["psnr"] for n in guided.CURVE_NS])
        series_cf[label] = (list(guided.CURVE_NS), [per_n[str(n)]["colourfulness"] for n in guided.CURVE_NS])
        series_cf[f"{label} truth"] = ([0, 100], [truth_cf, truth_cf])
        print(f"{label}: {len(images)} images, {results['datasets'][label]['seconds']} s")
        for n in guided.CURVE_NS:
            print(f"  N = {n:3d}: PSNR {per_n[str(n)]['psnr']:6.2f} dB, colourfulness {per_n[str(n)]['colourfulness']:5.1f}"
                  f" (truth {truth_cf:.1f})")
    out = Path(args.out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    (out / "data" / "hints_curve.json").write_text(json.dumps(results, indent=2))
    chart = report.hstack([
        report.line_chart(series_psnr, "Levin et al. 2004: PSNR vs N true hints", xlabel="N hints", ylabel="PSNR (dB)"),
        report.line_chart(series_cf, "colourfulness vs N (dashed: truth)", xlabel="N hints", ylabel="colourfulness",
                          dashed=tuple(k for k in series_cf if k.endswith("truth"))),
    ])
    report.save_png(chart, out / "figures" / "hints_curve.png")
    print(f"wrote {out / 'data' / 'hints_curve.json'} and {out / 'figures' / 'hints_curve.png'}")


if __name__ == "__main__":
    main()
