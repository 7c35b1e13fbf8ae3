"""Figure 5.6 redone at 128 px: how diverse and how good CVAE samples are (issue 12's targets).

For each CVAE (a shipped weight set or a run folder), on held-out images, at temperature 1 with
8 samples per image: mean pairwise RMS UV distance (target >= 0.04), best-of-8 and mean-of-8 UV
MSE beside the grey baseline (target: best <= 0.8x a single sample's and below grey), each
sample's colourfulness beside the truth's (target >= 0.6x). Also the same figures against the
temperature, and a grid of samples.

    python benchmarks/diversity.py --model dissertation-W1=imagenette --model mdn=imagenette-mdn \\
        --dataset imagenette --data ../shared/datasets/imagenette-128.zip --split val --limit 300 \\
        --out reports/diversity
Writes OUT/diversity.json, OUT/fig5_6_128px_samples.png, OUT/fig5_6_128px_curves.png and prints
a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from colourise_core import diversity, metrics  # noqa: E402
from colourise_core.reproduce import report  # noqa: E402

def _load(source: str):
    from colourise_core import training, weights

    if Path(source).is_dir():
        return training.load_run(source)
    return weights.load_pretrained("cvae", source)


def _markdown(result: dict, how: str) -> str:
    """The figures as a Markdown table beside the targets (issue 12)."""
    lines = [f"# CVAE diversity at {result['resolution']} px (Figure 5.6 redone)", "",
             f"`python benchmarks/diversity.py {how}`", "",
             f"{result['dataset']} {result['split']}, {result['n']} images, {result['samples']} samples each at temperature "
             f"{result['temperature']:g}, seed {result['seed']}. Spread: mean pairwise RMS UV distance (BT.601 units). "
             "Single: one sample's UV MSE (the mean of the eight); best: the best of the eight against the truth; "
             "average: the UV MSE of the eight samples' average; t=0: the mean decoding. Targets: spread >= 0.04, "
             "best <= 0.8x single and below grey, colourfulness >= 0.6x the truth's.", "",
             "| model | K | W | spread | single UV MSE | best-of-8 (x single) | average | t=0 | grey | colourfulness (x truth) | targets met |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label, m in result["models"].items():
        met = sum(m["checks"].values())
        lines.append(f"| {label} (`{m['weights']}`) | {m['components']} | {m['spec']['config'].get('recon_weight', 1.0):g} | "
                     f"{m['spread']:.4f} | {m['single_uv_mse']:.5f} | "
                     f"{m['best_uv_mse']:.5f} ({m['best_over_single']:.2f}x) | {m['average_uv_mse']:.5f} | "
                     f"{m['mean_uv_mse']:.5f} | {m['grey_uv_mse']:.5f} | {m['colourfulness']:.1f} / "
                     f"{m['truth_colourfulness']:.1f} ({m['colourfulness_ratio']:.2f}x) | {met}/4 |")
    lines += ["", "Against the temperature (first images, same seed):", ""]
    for label, m in result["models"].items():
        pts = ", ".join(f"t={c['temperature']:g}: spread {c['spread']:.4f}, best {c['best_uv_mse']:.5f}" for c in m["curve"])
        lines.append(f"- {label}: {pts}")
    lines += ["", "![samples](fig5_6_128px_samples.png)", "", "![curves](fig5_6_128px_curves.png)", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, metavar="LABEL=SET_OR_RUN",
                   help="a CVAE to measure: a weight set name or a run folder, with a label")
    p.add_argument("--dataset", default="imagenette")
    p.add_argument("--data", default="../shared/datasets/imagenette-128.zip")
    p.add_argument("--split", default="val")
    p.add_argument("--limit", type=int, default=300, help="held-out images (a seeded subset)")
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--curve", type=float, nargs="*", default=[0.0, 0.5, 1.0, 1.5, 2.0], help="temperatures of the curve")
    p.add_argument("--curve-limit", type=int, default=100, help="images for the curve")
    p.add_argument("--grid-images", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="reports/diversity")
    args = p.parse_args(argv)

    from colourise_core.data import load_dataset

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    nets = {}
    for item in args.model:
        label, _, source = item.partition("=")
        nets[label] = (source, _load(source))
    resolution = {net.resolution for _, net in nets.values()}
    if len(resolution) != 1:
        raise SystemExit(f"the models have different resolutions {sorted(resolution)}: measure them separately")
    resolution = resolution.pop()
    ds = load_dataset(args.dataset, data=args.data, split=args.split, resolution=resolution, limit=args.limit, seed=args.seed)
    true = ds.load_all()  # (N, R, R, 3)
    result = {"dataset": args.dataset, "split": args.split, "n": len(true), "samples": args.samples,
              "temperature": args.temperature, "seed": args.seed, "resolution": resolution, "models": {}}
    grid_rows, grid_labels, curves = [], [], {}
    for label, (source, net) in nets.items():
        start = time.perf_counter()
        m, drawn, mean_rgb = diversity.evaluate(net, true, args.samples, args.temperature, args.seed,
                                                curve=args.curve, curve_limit=args.curve_limit)
        best_index = m.pop("best_index")
        curves[label] = curve = m.pop("curve")
        result["models"][label] = {"weights": source, "spec": net.spec, "components": getattr(net, "components", 1),
                                   "seconds": round(time.perf_counter() - start, 1), **m, "curve": curve}
        for i in range(min(args.grid_images, len(true))):
            row = [true[i], metrics.grey_baseline(true[i]), mean_rgb[i]] + [drawn[s, i] for s in range(args.samples)]
            grid_rows.append(row)
            grid_labels.append(f"{label} #{i} (best {best_index[i] + 1})")
        print(f"{label:>20}: spread {m['spread']:.4f}  single {m['single_uv_mse']:.5f}  best-of-{args.samples} "
              f"{m['best_uv_mse']:.5f} ({m['best_over_single']:.2f}x)  average {m['average_uv_mse']:.5f}  "
              f"grey {m['grey_uv_mse']:.5f}  colourfulness {m['colourfulness']:.1f} / truth {m['truth_colourfulness']:.1f} "
              f"({m['colourfulness_ratio']:.2f}x)  {m['checks']}", flush=True)
    cols = ["truth", "grey", "t=0"] + [f"sample {s + 1}" for s in range(args.samples)]
    title = f"{args.dataset} {args.split}, {resolution} px, temperature {args.temperature:g}, seed {args.seed}"
    report.save_png(report.image_grid(grid_rows, grid_labels, cols, tile=96, title=title), out / "fig5_6_128px_samples.png")
    panels = []
    for key, ylabel in (("spread", "mean pairwise RMS UV distance"), ("best_uv_mse", "best-of-N UV MSE"),
                        ("single_uv_mse", "mean-of-N UV MSE"), ("colourfulness", "colourfulness")):
        series = {label: ([c["temperature"] for c in curve], [c[key] for c in curve]) for label, curve in curves.items()}
        if key in ("best_uv_mse", "single_uv_mse"):
            first = next(iter(curves.values()))
            series["grey"] = ([c["temperature"] for c in first], [c["grey_uv_mse"] for c in first])
        if key == "colourfulness":
            first = next(iter(curves.values()))
            series["truth"] = ([c["temperature"] for c in first], [c["truth_colourfulness"] for c in first])
        panels.append(report.line_chart(series, ylabel, xlabel="temperature", ylabel=ylabel))
    report.save_png(report.hstack(panels), out / "fig5_6_128px_curves.png")
    (out / "diversity.json").write_text(json.dumps(result, indent=1))
    (out / "README.md").write_text(_markdown(result, " ".join(sys.argv[1:] if argv is None else argv)))
    print(f"wrote {out / 'diversity.json'}, {out / 'fig5_6_128px_samples.png'}, {out / 'fig5_6_128px_curves.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
