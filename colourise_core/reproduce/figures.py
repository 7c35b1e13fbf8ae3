"""The figure sections: 5.1 (learning curves), 5.2 (Shape Set), 5.3-5.5 (result grids), 5.6 (CVAE diversity)."""

from __future__ import annotations

import json

import numpy as np

from colourise_core.family_names import ADVERSARIAL_FAMILIES
from colourise_core.reproduce import report
from colourise_core.reproduce.common import (
    FRESH_SHAPES_SEED, LABEL, MODELS, Options, Store, TEMPERATURES, fresh, held_out, load_model, trained_resolution, set_info, set_shas, weights_source, log,
)
from colourise_core.reproduce.train_sections import (
    slim_logs,
)

# ------------------------------------------------------------------------------------ figures


LOSS_LABEL = {"cnn": "MSE (UV)", "cgan": "BCE loss", "cvae": "loss (eq. 4.5)"}  # each model's training loss


def _curve_panels(histories: dict, title_prefix: str):
    """One chart per model: train (solid) and validation (dashed) losses per epoch."""
    panels = []
    for model in MODELS:
        hist = histories.get(model)
        if not hist:
            continue
        x = [h["epoch"] for h in hist]
        if model in ADVERSARIAL_FAMILIES:
            names = {"D train": "d_loss", "G train": "g_loss", "D val": "val_d_loss", "G val": "val_g_loss"}
            dashed = ("D val", "G val")
        else:
            names = {"train": "loss", "validation": "val_loss"}
            dashed = ("validation",)
        series = {name: (x, [h.get(k) for h in hist]) for name, k in names.items()}
        ys = [y for _, v in series.values() for y in v if y is not None and y > 0]
        log_y = bool(ys) and max(ys) / min(ys) > 20
        ylabel = LOSS_LABEL.get(model, "loss")
        panels.append(report.line_chart(series, f"{title_prefix}{LABEL[model]}", ylabel=ylabel, log_y=log_y, dashed=dashed))
    return panels


def section_curves(opts: Options, store: Store) -> None:
    """Figure 5.1: the learning curves (shipped GPU runs; quick: the runs trained here)."""
    data = store.load("curves")
    timing = store.load("timing").get("models", {})
    here = {m: timing[m]["history"] for m in MODELS if m in timing}
    shipped = {}
    if not opts.quick:
        for model in MODELS:
            export = opts.export_dir / "cifar10-horse" / f"{model}.json"
            if export.is_file():
                info = json.loads(export.read_text())
                shipped[model] = {"history": [slim_logs(h) for h in info["history"]], "hardware": info.get("hardware"),
                                  "epochs": info.get("epochs"), "command": info.get("command")}
        if shipped:
            data["shipped"] = shipped  # the export folder is not committed: keep the numbers here
    figures = {}
    if data.get("shipped"):
        hist = {m: v["history"] for m, v in data["shipped"].items()}
        report.save_png(report.hstack(_curve_panels(hist, "")), opts.out / "figures" / "fig5_1_learning_curves.png")
        figures["shipped"] = "figures/fig5_1_learning_curves.png"
    if here:
        name = "fig5_1_learning_curves.png" if opts.quick else "fig5_1_learning_curves_cpu.png"
        report.save_png(report.hstack(_curve_panels(here, "")), opts.out / "figures" / name)
        figures["here"] = f"figures/{name}"
    data["figures"] = figures
    store.save("curves", data)


def _predict(model, rgb: np.ndarray) -> np.ndarray:
    """Predictions (N, R, R, 3) of a model on true images resized to its resolution."""
    from colourise_core import evaluation

    return evaluation.predict_rgb(model, _at(rgb, model.resolution))[0]


def _at(rgb: np.ndarray, resolution: int) -> np.ndarray:
    """A batch (N, r, r, 3) resized to resolution (no-op when equal)."""
    import cv2

    if rgb.shape[1] == resolution:
        return rgb
    method = cv2.INTER_AREA if rgb.shape[1] > resolution else cv2.INTER_CUBIC
    return np.clip(np.stack([cv2.resize(x, (resolution, resolution), interpolation=method) for x in rgb]), 0, 1)


def _grid_rows(opts: Options, set_name: str, true: np.ndarray):
    """Rows Grey, CNN, CGAN, CVAE, Truth for a batch of true images (missing models: None tiles)."""
    from colourise_core import metrics

    rows, labels = [list(metrics.grey_baseline(true))], ["Grey input"]
    for model in MODELS:
        net = load_model(opts, set_name, model)
        rows.append(list(_predict(net, true)) if net is not None else [None] * len(true))
        labels.append(LABEL[model])
    rows.append(list(true))
    labels.append("Truth")
    return rows, labels


def section_shapes(opts: Options, store: Store) -> None:
    """Figure 5.2: Shape Set results on a fresh luma-matched seed, and hue accuracy per model."""
    from colourise_core.data import hue_accuracy
    from colourise_core.inference import predict_uv

    s = opts.settings
    data = store.load("shapes")
    figure = "figures/fig5_2_shapes.png"
    key = {"sha256": set_shas(opts, "shapes"), "n": s.shapes_hue, "grid": s.shapes_grid, "seed": FRESH_SHAPES_SEED}
    if fresh(data, key, opts.out, [figure]):
        return
    nets = {m: load_model(opts, "shapes", m) for m in MODELS}
    resolution = next((n.resolution for n in nets.values() if n is not None), 64)
    log(f"shapes: {s.shapes_hue} fresh images at {resolution} px")
    ds = held_out(opts, "shapes", resolution, s.shapes_hue, seed=FRESH_SHAPES_SEED)
    true = ds.load_all()
    from colourise_core.colour import rgb_to_yuv

    accuracy = {"truth": hue_accuracy(rgb_to_yuv(true)[..., 1:], ds.masks), "grey": 0.0}
    origin = {}
    for model, net in nets.items():
        if net is None:
            continue
        uv = predict_uv(net, _y(true, net.resolution))[0]  # (N, r, r, 2)
        accuracy[model] = hue_accuracy(uv, ds.masks if net.resolution == resolution else _masks_at(ds.masks, net.resolution))
        origin[model] = weights_source(opts, "shapes", model)["origin"]
    rows, labels = _grid_rows(opts, "shapes", true[: s.shapes_grid])
    image = report.image_grid(rows, labels, [f"#{i + 1}" for i in range(s.shapes_grid)], tile=64)
    report.save_png(image, opts.out / figure)
    data = {"key": key, "n": len(true), "resolution": resolution, "seed": FRESH_SHAPES_SEED, "luma_matched": set_info(opts, "shapes")[2],
            "hue_accuracy": accuracy, "origin": origin, "figure": figure}
    store.save("shapes", data)


def _y(rgb: np.ndarray, resolution: int) -> np.ndarray:
    from colourise_core.colour import rgb_to_y

    return rgb_to_y(_at(rgb, resolution))


def _masks_at(masks: np.ndarray, resolution: int) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(m, (resolution, resolution), interpolation=cv2.INTER_NEAREST) for m in masks])


def _one_per_class(opts: Options, set_name: str, resolution: int, pool: int = 300):
    """One held-out image per class: the first of each class in a seeded random subset of `pool`
    images (all ten classes are in it unless a class is very rare). (rgb (C, r, r, 3), names) or None."""
    ds = held_out(opts, set_name, resolution, pool, seed=0)
    if ds is None:
        return None
    labels = np.asarray(ds.labels)
    picks = [int(np.flatnonzero(labels == k)[0]) for k in range(len(ds.class_names)) if (labels == k).any()]
    return ds.load(picks), [ds.class_names[int(labels[i])] for i in picks]


GRIDS = {  # set -> (figure file, dissertation figure, tile px)
    "cifar10": ("fig5_3_cifar10.png", "Figure 5.3", 64),
    "cifar10-horse": ("fig5_3b_cifar10_horse.png", "Figure 5.3 (Horse class)", 64),
    "faces": ("fig5_4_faces.png", "Figure 5.4", 80),
    "imagenette": ("fig5_5_imagenette.png", "Figure 5.5", 80),
}


def section_grids(opts: Options, store: Store) -> None:
    """Figures 5.3-5.5: grey input / CNN / CGAN / CVAE / truth on held-out images per set."""
    s = opts.settings
    data = store.load("grids")
    data.setdefault("sets", {})
    for set_name, (fname, _, tile) in GRIDS.items():
        if set_name not in s.grid_sets:
            continue
        figure = f"figures/{fname}"
        shas = set_shas(opts, set_name)
        if not any(shas.values()):
            data["sets"].pop(set_name, None)
            continue
        n = {"faces": s.faces_grid, "cifar10-horse": s.horse_grid}.get(set_name, "one per class")
        key = {"sha256": shas, "n": n}
        if fresh(data["sets"].get(set_name), key, opts.out, [figure]):
            continue
        resolution = next(trained_resolution(opts, set_name, m) for m in MODELS if shas[m])
        log(f"grids: {set_name}")
        if set_name in ("cifar10", "imagenette"):
            picked = _one_per_class(opts, set_name, resolution)
            if picked is None:
                continue
            true, columns = picked
        else:
            ds = held_out(opts, set_name, resolution, n, seed=0)
            if ds is None:
                continue
            true, columns = ds.load_all(), [f"#{i + 1}" for i in range(n)]
        rows, labels = _grid_rows(opts, set_name, true)
        report.save_png(report.image_grid(rows, labels, columns, tile=tile), opts.out / figure)
        data["sets"][set_name] = {"key": key, "figure": figure, "columns": columns, "resolution": resolution,
                                  "origin": {m: (weights_source(opts, set_name, m) or {}).get("origin") for m in MODELS}}
        store.save("grids", data)
    store.save("grids", data)


DIVERSITY_SETS = ("cifar10-frog-diverse", "cifar10", "cifar10-horse", "shapes")  # CVAEs for Figure 5.6, by preference


def section_diversity(opts: Options, store: Store) -> None:
    """Figure 5.6: several CVAE samples per image at temperatures 0.5, 1 and 2.

    The dissertation shows a CVAE trained on the Frog class with a re-weighted reconstruction
    loss; the shipped `cifar10-frog-diverse` set is that model. It is shown beside the
    unweighted (W = 1) CIFAR-10 CVAE on the same frog test images; without it, the first CVAE
    of DIVERSITY_SETS is shown alone.
    """
    from colourise_core import evaluation, metrics

    s = opts.settings
    data = store.load("diversity")
    figure = "figures/fig5_6_cvae_diversity.png"
    shown = [n for n in DIVERSITY_SETS if weights_source(opts, n, "cvae") is not None]
    if not shown:
        return
    if shown[0] == "cifar10-frog-diverse" and "cifar10" in shown and not opts.quick:
        shown = ["cifar10-frog-diverse", "cifar10"]
    else:
        shown = shown[:1]
    if len({trained_resolution(opts, n, "cvae") for n in shown}) > 1:
        shown = shown[:1]
    first = shown[0]
    dataset, classes, _ = set_info(opts, first)
    if dataset == "cifar10" and not classes:
        classes = ["frog"]
    key = {"sets": shown, "sha256": [weights_source(opts, n, "cvae")["sha256"] for n in shown], "n": s.diversity_images,
           "samples": s.diversity_samples, "temperatures": TEMPERATURES, "classes": classes}
    if fresh(data, key, opts.out, [figure]):
        return
    nets = {n: load_model(opts, n, "cvae") for n in shown}
    if any(net is None for net in nets.values()):
        return
    log(f"diversity: {', '.join(shown)} CVAE")
    resolution = nets[first].resolution
    seed = FRESH_SHAPES_SEED if first == "shapes" else 0
    ds = held_out(opts, first, resolution, s.diversity_images, seed=seed, classes=classes)
    if ds is None:
        return
    true = ds.load_all()
    rows, labels, per_model = [], [], {}
    outputs = {}
    for name in shown:
        net = nets[name]
        mean = evaluation.predict_rgb(net, true)[0]
        samples = {t: evaluation.predict_rgb(net, true, samples=s.diversity_samples, temperature=t, seed=1) for t in TEMPERATURES}
        outputs[name] = (mean, samples)
        per_model[name] = {"recon_weight": net.recon_weight,
                           "mean_pairwise_distance": {str(t): metrics.mean_pairwise_distance(samples[t]) for t in TEMPERATURES}}
    for i in range(len(true)):
        for name in shown:
            mean, samples = outputs[name]
            row = [metrics.grey_baseline(true[i]), mean[i]]
            for t in TEMPERATURES:
                row += [samples[t][k, i] for k in range(s.diversity_samples)]
            rows.append(row + [true[i]])
            labels.append(f"#{i + 1}  W={nets[name].recon_weight:g}")
    columns = ["Grey", "T=0"] + [f"T={t:g}" for t in TEMPERATURES for _ in range(s.diversity_samples)] + ["Truth"]
    tile = 64 if resolution <= 64 else 80
    report.save_png(report.image_grid(rows, labels, columns, tile=tile), opts.out / figure)
    data = {"key": key, "sets": shown, "classes": classes, "figure": figure, "models": per_model}
    store.save("diversity", data)
