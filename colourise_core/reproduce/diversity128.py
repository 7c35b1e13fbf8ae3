"""Figure 5.6 redone at 128 px (issue 12): the dissertation's CVAE beside the MDN CVAE on real photos.

The dissertation's Figure 5.6 shows CIFAR-10 frogs at 32 px (section `diversity`). This section
measures, for each 128 px data set with shipped weights, the dissertation's CVAE (the set's own,
reconstruction weight W = 1) and the MDN CVAE (6.1.3, `<set>-mdn`) on held-out images (Imagenette
val, faces test): eight samples per image at temperature 1, their mean pairwise RMS UV distance
(spread), one sample's and the best-of-8 UV MSE beside the grey baseline's, the samples'
colourfulness beside the truth's, and the spread against the temperature, with `diversity.evaluate`
(as `benchmarks/diversity.py`, which adds models that are run folders, such as a low-W CVAE).
"""

from __future__ import annotations

import dataclasses

from colourise_core.reproduce import report
from colourise_core.reproduce.common import Options, Store, fresh, held_out, load_model, log, trained_resolution, weights_source

SECTION = "diversity128"
PAIRS = {"imagenette": ("imagenette", "imagenette-mdn"), "faces": ("faces", "faces-mdn")}  # data set -> (W = 1 set, MDN set)
SPLIT = {"imagenette": "val", "faces": "test"}  # the held-out split each is measured on (`held_out`'s "test")


@dataclasses.dataclass(frozen=True)
class DiversitySettings:
    images: int  # held-out images measured per data set
    samples: int  # samples per image (issue 12: 8)
    curve: tuple  # temperatures of the spread / best-of-N curve
    curve_images: int  # ... on the first this many images
    grid_images: int  # images per model in the figure
    datasets: tuple  # data sets of PAIRS measured


FULL = DiversitySettings(images=200, samples=8, curve=(0.0, 0.5, 1.0, 2.0), curve_images=40, grid_images=3,
                         datasets=("imagenette", "faces"))
QUICK = DiversitySettings(images=4, samples=3, curve=(0.0, 1.0), curve_images=2, grid_images=1, datasets=("faces",))
TEMPERATURE, SEED = 1.0, 0


def figure_path(dataset: str) -> str:
    return f"figures/fig5_6_128px_{dataset}.png"


def section_diversity128(opts: Options, store: Store) -> None:
    """Measure each data set's pair of CVAEs (those shipped) and draw their samples."""
    from colourise_core import diversity, metrics

    s = QUICK if opts.quick else FULL
    data = store.load(SECTION)
    data.setdefault("datasets", {})
    for dataset in s.datasets:
        shown = [n for n in PAIRS[dataset] if weights_source(opts, n, "cvae") is not None]
        shown = [n for n in shown if trained_resolution(opts, n, "cvae") == trained_resolution(opts, shown[0], "cvae")]
        if not shown:
            continue
        figure = figure_path(dataset)
        key = {"sets": shown, "sha256": [weights_source(opts, n, "cvae")["sha256"] for n in shown],
               "settings": dataclasses.asdict(s), "temperature": TEMPERATURE, "seed": SEED}
        if fresh(data["datasets"].get(dataset), key, opts.out, [figure]):
            continue
        nets = {n: load_model(opts, n, "cvae") for n in shown}
        nets = {n: net for n, net in nets.items() if net is not None}
        if not nets:
            continue
        resolution = next(iter(nets.values())).resolution
        ds = held_out(opts, shown[0], resolution, s.images, seed=SEED)
        if ds is None:
            continue
        log(f"{SECTION}: {', '.join(nets)} on {dataset} ({s.images} images, {s.samples} samples)")
        true = ds.load_all()  # (N, R, R, 3)
        rows, labels, models = [], [], {}
        for name, net in nets.items():
            m, drawn, mean_rgb = diversity.evaluate(net, true, s.samples, TEMPERATURE, SEED, curve=s.curve,
                                                    curve_limit=s.curve_images)
            best = m.pop("best_index")
            models[name] = {"recon_weight": net.recon_weight, "components": getattr(net, "components", 1), **m}
            for i in range(min(s.grid_images, len(true))):
                rows.append([metrics.grey_baseline(true[i]), mean_rgb[i]] + [drawn[k, i] for k in range(s.samples)] + [true[i]])
                labels.append(f"{name} #{i + 1} (best: {best[i] + 1})")
        columns = ["Grey", "T=0"] + [f"sample {k + 1}" for k in range(s.samples)] + ["Truth"]
        report.save_png(report.image_grid(rows, labels, columns, tile=80), opts.out / figure)
        data["datasets"][dataset] = {"key": key, "split": SPLIT[dataset], "n": len(true),
                                     "samples": s.samples, "figure": figure, "models": models}
        store.save(SECTION, data)


def markdown(data: dict) -> list[str]:
    """The section's part of report.md: per data set, a table of the targets and the figure."""
    md = ["## Figure 5.6 at 128 px: the MDN CVAE on real photos", "",
          "Issue 12: the dissertation's CVAE (reconstruction weight W = 1, the shipped `imagenette` and `faces` sets) "
          "beside the CVAE with an MDN conditional encoder and colour-aware losses (dissertation 6.1.3; `imagenette-mdn`, "
          "`faces-mdn`), at temperature 1. Spread: mean pairwise RMS UV distance of an image's samples (target >= 0.04); "
          "single: one sample's UV MSE; best: the best of the samples against the truth (target <= 0.8x single and below "
          "grey); colourfulness of the samples beside the truth's (target >= 0.6x). A low-W dissertation CVAE is measured "
          "by `benchmarks/diversity.py` (reports/diversity/).", ""]
    if not data.get("datasets"):
        return md + ["Not available: no 128 px CVAE weights or data (section `diversity128`).", ""]
    for dataset, d in data["datasets"].items():
        md += [f"### {dataset} {d['split']} ({d['n']} images, {d['samples']} samples each)", ""]
        rows = []
        for name, m in d["models"].items():
            kind = f"MDN, K={m['components']}" if m["components"] > 1 else "dissertation"
            rows.append([f"{name} ({kind}, W={m['recon_weight']:g})", m["spread"], m["single_uv_mse"], m["best_uv_mse"],
                         f"{m['best_over_single']:.2f}x", m["mean_uv_mse"], m["grey_uv_mse"],
                         f"{m['colourfulness']:.1f} / {m['truth_colourfulness']:.1f} ({m['colourfulness_ratio']:.2f}x)",
                         f"{sum(m['checks'].values())}/{len(m['checks'])}"])
        md += [report.md_table(["CVAE", "spread", "single UV MSE", "best-of-N UV MSE", "best / single", "T=0 UV MSE",
                                "grey UV MSE", "colourfulness / truth", "targets met"], rows), ""]
        for name, m in d["models"].items():
            pts = ", ".join(f"T={c['temperature']:g}: {c['spread']:.4f}" for c in m["curve"])
            md.append(f"- Spread of `{name}` against the temperature: {pts}.")
        md += ["", "Per row: grey input, the mean (T=0), the samples, truth.", "",
               f"![Figure 5.6 at 128 px, {dataset}]({d['figure']})", ""]
    return md
