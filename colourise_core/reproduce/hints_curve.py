"""The hints curve (issue 15, report item 5): PSNR and colourfulness against N random true hints.

For each image of a fixed held-out subset, N = 0, 1, 2, 5, 10, 20, 50, 100 pixels chosen at
random (nested sets, one seed per image) reveal their true colour, to Levin et al.'s method
(SIGGRAPH 2004; N = 0 is the grey image) and to the hint-taking `unet` (weights set `general`;
N = 0 is its automatic colouring), the same points for both. This is how ideepcolor (Zhang et
al., SIGGRAPH 2017, fig. 6) evaluated its network. The unet gets the points in the forms of
`guided.UNET_FORMS` ("user": what the library, CLI and app give it; "pixel": a lone pixel;
"trained": the patch means of its training). Data: Imagenette val and photos-extra val, colour
images of a seeded subset at 128 px.

The benchmark `benchmarks/hints_curve.py` and `reproduce`'s "hints" section both call `measure`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from colourise_core.weights.manifest import GENERAL_SET

UNET_SET = GENERAL_SET  # the weights set whose unet the curve uses
DATASETS = {"imagenette val": ("imagenette", "imagenette-128.zip"), "photos-extra val": ("folder", "photos-extra.zip")}
RESOLUTION = 128  # the images' side (both archives hold 128 px or larger photos)
TARGET_N = 10  # issue 15 target 1: at N = 10 true hints ...
TARGET_OVER_LEVIN = 1.5  # ... unet >= Levin + 1.5 dB ...
TARGET_OVER_SELF = 3.0  # ... and >= unet without hints + 3 dB
CHECKED_FORM = "unet"  # the series the targets are checked on: the library's own path ("user" form)


def load_images(data_dir: str | Path, limit: int, resolution: int = RESOLUTION) -> dict[str, list[np.ndarray]]:
    """{dataset label: the first `limit` colour images (float32 (R, R, 3) in [0, 1]) of a seeded
    subset of its val split}; a label whose archive is missing is left out."""
    from colourise_core.data.datasets import is_grey, load_dataset

    out = {}
    for label, (name, archive) in DATASETS.items():
        path = Path(data_dir) / archive
        if not path.is_file():
            continue
        data = load_dataset(name, data=str(path), split="val", resolution=resolution, limit=limit * 2, seed=0)
        images = [img for img in data.load_all() if not is_grey(img)][:limit]  # colour truths only
        out[label] = [img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32)
                      for img in images]
    return out


def methods_for(unet) -> dict:
    """name -> fn(rgb, n, n_max, seed): Levin's method, and the unet in each hint form when given."""
    from colourise_core import guided

    methods = {"levin": guided.levin_true_hints}
    if unet is not None:
        for form in guided.UNET_FORMS:
            methods["unet" if form == "user" else f"unet-{form}"] = guided.unet_true_hints(unet, form)
    return methods


def measure(images: dict[str, list[np.ndarray]], methods: dict, ns=None, progress=None) -> dict:
    """The curve per dataset: mean PSNR and colourfulness per method and N.

    Args:
        images: from `load_images`.
        methods: from `methods_for`.
        ns: the numbers of hints (default guided.CURVE_NS).
        progress: optional fn(str) told each finished dataset.
    Returns:
        {"ns": [...], "datasets": {label: {"images", "seconds", "truth_colourfulness",
         "methods": {name: {"psnr": [per N], "colourfulness": [per N]}}}}, "checks": [...]}
    """
    from colourise_core import guided

    ns = list(ns or guided.CURVE_NS)
    result = {"ns": ns, "resolution": RESOLUTION, "forms": dict(guided.UNET_FORMS), "datasets": {}}
    for label, imgs in images.items():
        start = time.perf_counter()
        rows = []
        for i, rgb in enumerate(imgs):
            rows.extend(guided.hints_curve(rgb, ns=ns, seed=i, methods=methods))
        per = {}
        for name in methods:
            sel = {n: [r for r in rows if r["method"] == name and r["n"] == n] for n in ns}
            per[name] = {k: [float(np.mean([r[k] for r in sel[n]])) for n in ns] for k in ("psnr", "colourfulness")}
        truth = float(np.mean([r["colourfulness"] for r in rows if r["method"] == "truth"]))
        result["datasets"][label] = {"images": len(imgs), "seconds": round(time.perf_counter() - start, 1),
                                     "truth_colourfulness": truth, "methods": per}
        if progress:
            progress(f"{label}: {len(imgs)} images, {result['datasets'][label]['seconds']} s")
    result["checks"] = checks(result)
    return result


def checks(result: dict) -> list[dict]:
    """Issue 15 target 1 per dataset and unet form: PSNR at N = TARGET_N against Levin's at the same
    N (+TARGET_OVER_LEVIN dB) and against the same form without hints (+TARGET_OVER_SELF dB)."""
    ns = result["ns"]
    if TARGET_N not in ns or 0 not in ns:
        return []
    k, k0 = ns.index(TARGET_N), ns.index(0)
    out = []
    for label, d in result["datasets"].items():
        levin = d["methods"]["levin"]["psnr"][k]
        for name, m in d["methods"].items():
            if not name.startswith("unet"):
                continue
            psnr = m["psnr"][k]
            out.append({"dataset": label, "method": name, "psnr": psnr, "levin": levin, "self_0": m["psnr"][k0],
                        "over_levin": psnr - levin, "over_self": psnr - m["psnr"][k0],
                        "met_over_levin": psnr - levin >= TARGET_OVER_LEVIN,
                        "met_over_self": psnr - m["psnr"][k0] >= TARGET_OVER_SELF})
    return out


def check_lines(result: dict) -> list[str]:
    """The target checks as printable lines."""
    lines = []
    for c in result.get("checks", []):
        lines.append(f"{c['dataset']}, {c['method']} at N={TARGET_N}: {c['psnr']:.2f} dB; Levin {c['levin']:.2f} dB "
                     f"({c['over_levin']:+.2f}, target >= +{TARGET_OVER_LEVIN}: {'met' if c['met_over_levin'] else 'NOT met'}); "
                     f"itself at N=0 {c['self_0']:.2f} dB ({c['over_self']:+.2f}, target >= +{TARGET_OVER_SELF}: "
                     f"{'met' if c['met_over_self'] else 'NOT met'})")
    return lines


def table_lines(result: dict) -> list[str]:
    """Per dataset, a text table: N, then PSNR (dB) and colourfulness per method."""
    lines = []
    for label, d in result["datasets"].items():
        names = list(d["methods"])
        lines.append(f"{label} ({d['images']} images; truth colourfulness {d['truth_colourfulness']:.1f})")
        lines.append("    N  " + "".join(f"{n:>22s}" for n in names))
        for i, n in enumerate(result["ns"]):
            cells = "".join(f"{d['methods'][m]['psnr'][i]:>12.2f} dB {d['methods'][m]['colourfulness'][i]:5.1f}" for m in names)
            lines.append(f"  {n:3d}  {cells}")
    return lines


def chart(result: dict):
    """Per dataset (one row each): PSNR and colourfulness against N, one line per method (PIL image)."""
    from PIL import Image

    from colourise_core.reproduce import report

    ns = result["ns"]
    rows = []
    for label, d in result["datasets"].items():
        psnr = {name: (ns, m["psnr"]) for name, m in d["methods"].items()}
        cf = {name: (ns, m["colourfulness"]) for name, m in d["methods"].items()}
        cf["truth"] = ([min(ns), max(ns)], [d["truth_colourfulness"]] * 2)
        rows.append(report.hstack([
            report.line_chart(psnr, f"{label}: PSNR vs N true hints", xlabel="N hints", ylabel="PSNR (dB)",
                              size=(460, 300)),
            report.line_chart(cf, f"{label}: colourfulness (dashed: truth)", xlabel="N hints",
                              ylabel="colourfulness", size=(460, 300), dashed=("truth",)),
        ]))
    out = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows) + 6 * (len(rows) - 1)), "white")
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height + 6
    return out


def write(result: dict, out: Path) -> tuple[Path, Path]:
    """`out`/data/hints_curve.json and `out`/figures/hints_curve.png (atomic writes)."""
    from colourise_core import atomic
    from colourise_core.reproduce import report

    data, figure = Path(out) / "data" / "hints_curve.json", Path(out) / "figures" / "hints_curve.png"
    data.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(data, result, indent=1)
    report.save_png(chart(result), figure)
    return data, figure


# ---------------------------------------------------------------------------- the reproduce section

SECTION = "hints"  # `reproduce --sections hints`; results in <out>/data/hints.json
FIGURE = "figures/hints_curve.png"


def section_hints(opts, store) -> None:
    """`reproduce`'s hints curve: `opts.settings.hints_images` colour images per dataset, Levin's
    method and (when its weights are there) the unet of set UNET_SET; cached by the weights' sha256."""
    from colourise_core.reproduce import report
    from colourise_core.reproduce.common import fresh, load_model, log, weights_source

    limit = opts.settings.hints_images
    src = weights_source(opts, UNET_SET, "unet")
    key = {"sha256": src["sha256"] if src else None, "limit": limit, "data_dir": str(opts.data_dir)}
    if fresh(store.load(SECTION), key, opts.out, figures=(FIGURE,)):
        return
    images = load_images(opts.data_dir, limit)
    if not images:
        raise FileNotFoundError(f"neither {' nor '.join(a for _, a in DATASETS.values())} is in {opts.data_dir}")
    unet = load_model(opts, UNET_SET, "unet") if src else None
    log(f"hints: {', '.join(f'{k} {len(v)}' for k, v in images.items())} images; "
        f"{'Levin and the unet' if unet is not None else 'Levin only (no unet weights)'}")
    result = measure(images, methods_for(unet), progress=lambda m: log(f"hints: {m}"))
    report.save_png(chart(result), opts.out / FIGURE)
    store.save(SECTION, {"key": key, "unet": src["origin"] if src else None, "figure": FIGURE, **result})


def markdown(data: dict) -> list[str]:
    """The report's "Hints curve" part: the figure, a PSNR table per dataset, the target checks."""
    from colourise_core.reproduce import report

    md = ["## Hints curve: add information and colourisation becomes well-posed", "",
          "PSNR and colourfulness against N random true hints (nested sets, one seed per image), the same points "
          "for Levin et al.'s method (SIGGRAPH 2004; N = 0: grey) and the hint-taking `unet` "
          f"(set `{UNET_SET}`; N = 0: no hints), as ideepcolor (SIGGRAPH 2017) evaluated its network.", ""]
    if not data.get("datasets"):
        return md + ["Not available (section `hints`: the data archives are missing).", ""]
    if data.get("unet") is None:
        md += [f"The unet's weights (set `{UNET_SET}`) are missing: Levin's method only.", ""]
    else:
        md += ["The unet's hint forms: " + "; ".join(f"`{'unet' if k == 'user' else 'unet-' + k}`: {v}"
                                                   for k, v in data.get("forms", {}).items()) + ".", ""]
    md += [f"![hints curve]({data['figure']})", ""]
    for label, d in data["datasets"].items():
        names = list(d["methods"])
        md += [f"### {label} ({d['images']} images; truth colourfulness {d['truth_colourfulness']:.1f})", "",
               report.md_table(["N"] + [f"{m} PSNR (dB)" for m in names] + [f"{m} colourfulness" for m in names],
                               [[n] + [d["methods"][m]["psnr"][i] for m in names]
                                + [d["methods"][m]["colourfulness"][i] for m in names]
                                for i, n in enumerate(data["ns"])]), ""]
    if data.get("checks"):
        md += [f"Target (issue 15): at N = {TARGET_N}, the unet >= Levin + {TARGET_OVER_LEVIN} dB and >= itself "
               f"without hints + {TARGET_OVER_SELF} dB:", ""] + [f"- {line}" for line in check_lines(data)] + [""]
    return md
